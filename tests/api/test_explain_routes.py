"""GET /v1/explain/... (SPEC 4 explain, 5.4): the same JSON as ``ledger replay explain
--json``, the documented ``Explanation`` shape, as-of a log position, a sales_rep explaining
only their own statement, unknown references 404 and bad input 422."""

from __future__ import annotations

import msgspec
import pytest
from apiclient import Api, bearer
from support import all_applied, at, cmd, sale

from ledger.api import schemas
from ledger.projections.budgets import query_budget
from ledger.projections.commissions import query_commission
from ledger.projections.receivables import query_receivables
from ledger.replay.explain import explain_budget, explain_commission, explain_receivable


def _json(document):
    return msgspec.json.decode(msgspec.json.encode(document))


@pytest.fixture
def company(api: Api) -> Api:
    all_applied(api.ledger, [
        cmd("AllocateBudget", "fin", budget_id="B1", department="marketing", category="promotion",
            period="2024-Q1", amount=100_000, approved_by="dir", **at("2024-01-02")),
        cmd("SubmitExpense", "sa", expense_id="E1", budget_id="B1", amount=20_000,
            description="trade fair", planned_on="2024-03-01", **at("2024-01-10")),
        cmd("ApproveExpense", "mgr", expense_id="E1", **at("2024-01-11")),
        cmd("RecordExpenseSpend", "fin", expense_id="E1", amount=19_000, invoice_no="FP-1",
            paid_on="2024-03-02", **at("2024-03-02")),
        sale("S1", 200, day="2024-03-05"),
        sale("S2", 1, day="2024-03-18", rep="R1"),
        cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=5_000,
            received_on="2024-03-25", **at("2024-03-25")),
    ])
    return api


def test_each_explanation_answers_the_functions_json(company: Api):
    p = company.projector
    p.catch_up()
    cases = [
        ("/v1/explain/commission/R2/2024-03", {}, explain_commission(p, "R2", "2024-03"),
         query_commission(p, "R2", "2024-03")["total"]),
        ("/v1/explain/receivable/C1", {}, explain_receivable(p, "C1"),
         query_receivables(p, "C1")["open_total"]),
        ("/v1/explain/receivable/C1", {"sale": "S1", "as_of": "2024-03-20"},
         explain_receivable(p, "C1", "S1", "2024-03-20"), 2_000_000),
        # P1 settles S1, due first (FIFO)
        ("/v1/explain/receivable/C1", {"sale": "S1", "as-of": "2024-03-31"},
         explain_receivable(p, "C1", "S1", "2024-03-31"), 2_000_000 - 5_000),
        ("/v1/explain/receivable/C1", {"sale": "S2", "as-of": "2024-03-31"},
         explain_receivable(p, "C1", "S2", "2024-03-31"), 10_000),
        ("/v1/explain/budget/B1", {}, explain_budget(p, "B1"), query_budget(p, "B1")["remaining"]),
    ]
    for path, params, expected, figure in cases:
        r = company.get(path, **params)
        assert r.status_code == 200, (path, r.text)
        doc = r.json()
        assert doc == {**_json(expected), "currency": "CNY"}, path
        assert doc["value"] == figure == doc["steps"][-1]["running_total"], path
        msgspec.convert(doc, schemas.Explanation)
    # R2's March: 20,000 -> 3,076.92 + 晨星 1,500 + 开星 1,000, before the close
    assert [s["amount"] for s in company.get("/v1/explain/commission/R2/2024-03").json()["steps"]] \
        == [307_692, 150_000, 100_000]
    # the budget: 100,000 allocated, 20,000 committed, released, 19,000 spent
    assert [(s["rule"], s["amount"]) for s in company.get("/v1/explain/budget/B1").json()["steps"]] \
        == [("allocation", 100_000), ("commitment", -20_000), ("commitment_released", 20_000),
            ("spend", -19_000)]


def test_explain_as_of_a_log_position(company: Api):
    before_payment = company.ledger.max_position()
    all_applied(company.ledger, [cmd("RecordPayment", "fin", payment_id="P2", customer_id="C1",
                                     amount=7_000, received_on="2024-03-26",
                                     **at("2024-03-26"))])
    now = company.get("/v1/explain/receivable/C1").json()
    then = company.get("/v1/explain/receivable/C1", at_position=before_payment).json()
    assert now["value"] == then["value"] - 7_000
    assert [s for s in now["steps"] if s["position"] <= before_payment] == then["steps"]


def test_a_sales_rep_explains_only_their_own_statement(company: Api):
    own = company.client.get("/v1/explain/commission/R2/2024-03", headers=bearer("rep_user"))
    assert own.status_code == 200 and own.json()["value"] == 557_692
    for path in ("/v1/explain/commission/R1/2024-03", "/v1/explain/receivable/C1",
                 "/v1/explain/budget/B1"):
        r = company.client.get(path, headers=bearer("rep_user"))
        assert r.status_code == 403 and r.json()["rule"] == "not_authorized", path
    assert company.client.get("/v1/explain/budget/B1", headers=bearer("aud")).status_code == 200


@pytest.mark.parametrize("path,params,status,rule", [
    ("/v1/explain/commission/R404/2024-03", {}, 404, "unknown_reference"),
    ("/v1/explain/receivable/C404", {}, 404, "unknown_reference"),
    ("/v1/explain/receivable/C1", {"sale": "S404"}, 404, "unknown_reference"),
    ("/v1/explain/budget/B404", {}, 404, "unknown_reference"),
    ("/v1/explain/commission/R2/March", {}, 422, "invalid_field"),
    ("/v1/explain/receivable/C1", {"as_of": "2024-02-30"}, 422, "invalid_field"),
])
def test_unknown_references_and_bad_input(company: Api, path, params, status, rule):
    r = company.get(path, **params)
    assert r.status_code == status, r.text
    assert r.json()["rule"] == rule
