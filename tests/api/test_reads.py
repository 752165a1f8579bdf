"""GET /v1/... (SPEC 5.3, 5.4): every query answers the query function's own JSON, by its
REST path and by the CLI's parameter names; unknown references are 404; reads catch up
with the log, or wait for a position (read-your-writes)."""

from __future__ import annotations

import threading
import time

from typing import Any

import msgspec
import pytest
from apiclient import Api
from support import all_applied, at, cmd, sale

from ledger.api import schemas
from ledger.api.encoding import POSITION_HEADER
from ledger.projections.audit import query_audit
from ledger.projections.budgets import query_budget
from ledger.projections.commissions import query_commission, query_ranks
from ledger.projections.general_ledger import trial_balance
from ledger.projections.aging import query_aging
from ledger.projections.receivables import query_receivables
from ledger.projections.reconcile import query_reconcile

QUERIES = {f.__name__: f for f in (query_receivables, query_aging, query_budget, query_commission,
                                   query_ranks, query_audit, trial_balance, query_reconcile)}


def _json(document: Any) -> Any:
    """What the CLI's --json prints, read back."""
    return msgspec.json.decode(msgspec.json.encode(document))


@pytest.fixture
def company(api: Api) -> Api:
    """Sales, a payment, a budget with a spent expense, a closed month and a dispute."""
    all_applied(api.ledger, [
        cmd("AllocateBudget", "fin", budget_id="B1", department="marketing", category="promotion",
            period="2024-Q1", amount=100_000, approved_by="dir", **at("2024-01-02")),
        cmd("SubmitExpense", "sa", expense_id="E1", budget_id="B1", amount=20_000,
            description="trade fair", planned_on="2024-03-01", **at("2024-01-10")),
        cmd("ApproveExpense", "mgr", expense_id="E1", **at("2024-01-11")),
        cmd("RecordExpenseSpend", "fin", expense_id="E1", amount=19_000, invoice_no="FP-1",
            paid_on="2024-03-02", **at("2024-03-02")),
        sale("S1", 2, day="2024-03-05"),
        sale("S2", 1, day="2024-03-18", rep="R1"),
        cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=5_000,
            received_on="2024-03-25", **at("2024-03-25")),
        cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01")),
        cmd("OpenDispute", "aud", dispute_id="D1", entity="S1", claim="the price looks wrong"),
    ])
    return api


# (query, REST path, the same by the CLI's names, the query function's arguments, doc model)
ROUTES = [
    ("query_receivables", "/v1/customers/C1/receivables", ("/v1/receivables", {"customer": "C1"}),
     ("C1", None), schemas.Receivables),
    ("query_receivables", "/v1/customers/C1/receivables?as_of=2024-04-30",
     ("/v1/receivables", {"customer": "C1", "as-of": "2024-04-30"}), ("C1", "2024-04-30"),
     schemas.Receivables),
    ("query_aging", "/v1/aging", ("/v1/aging", {}), (None,), schemas.Aging),
    ("query_aging", "/v1/aging?as_of=2024-06-30", ("/v1/aging", {"as-of": "2024-06-30"}),
     ("2024-06-30",), schemas.Aging),
    ("query_budget", "/v1/budgets/B1", ("/v1/budget", {"budget": "B1"}), ("B1",), schemas.Budget),
    ("query_commission", "/v1/reps/R2/commission/2024-03",
     ("/v1/commission", {"rep": "R2", "period": "2024-03"}), ("R2", "2024-03"), schemas.Commission),
    ("query_commission", "/v1/reps/R1/commission/2024-04",
     ("/v1/commission", {"rep": "R1", "period": "2024-04"}), ("R1", "2024-04"), schemas.Commission),
    ("query_ranks", "/v1/reps/R1/ranks", ("/v1/ranks", {"rep": "R1"}), ("R1",), schemas.Ranks),
    ("query_audit", "/v1/audit/S1", ("/v1/audit", {"entity": "S1"}), ("S1",), schemas.Audit),
    ("query_audit", "/v1/audit/C1", ("/v1/audit", {"entity": "C1"}), ("C1",), schemas.Audit),
    ("trial_balance", "/v1/trial-balance", ("/v1/trial-balance", {}), (None,),
     schemas.TrialBalance),
    ("trial_balance", "/v1/trial-balance?as_of=2024-03-10",
     ("/v1/trial-balance", {"as-of": "2024-03-10"}), ("2024-03-10",), schemas.TrialBalance),
    ("query_reconcile", "/v1/reconcile", ("/v1/reconcile", {}), (), schemas.Reconcile),
    ("query_reconcile", "/v1/reconcile?as_of=2024-03-10", ("/v1/reconcile", {"as-of": "2024-03-10"}),
     ("2024-03-10",), schemas.Reconcile),
]


@pytest.mark.parametrize("query,path,cli,args,model", [
    pytest.param(*route, id=route[1]) for route in ROUTES
])
def test_each_query_route_answers_the_query_functions_json(company: Api, query, path, cli, args,
                                                           model):
    r = company.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    # the query function's document, naming the ledger's currency (SPEC 1)
    expected = {**_json(QUERIES[query](company.projector, *args)), "currency": "CNY"}
    assert r.json() == expected
    assert int(r.headers[POSITION_HEADER]) == company.ledger.max_position()
    # the CLI's parameter names answer the same
    cli_path, params = cli
    assert company.get(cli_path, **params).json() == expected
    # and the documented shape is the real one
    msgspec.convert(r.json(), model)


@pytest.mark.parametrize("path,params", [
    ("/v1/customers/C404/receivables", {}),
    ("/v1/receivables", {"customer": "C404"}),
    ("/v1/budgets/B404", {}),
    ("/v1/reps/R404/commission/2024-03", {}),
    ("/v1/ranks", {"rep": "R404"}),
    ("/v1/audit/nothing-here", {}),
])
def test_unknown_reference_is_404(company: Api, path, params):
    r = company.get(path, **params)
    assert r.status_code == 404, r.text
    assert r.json()["rule"] == "unknown_reference"


@pytest.mark.parametrize("path,params,field", [
    ("/v1/trial-balance", {"as_of": "2024-13-01"}, "as_of"),
    ("/v1/aging", {"as-of": "yesterday"}, "as-of"),
    ("/v1/aging", {"as_of": "2024-01-01", "as-of": "2024-01-02"}, "as_of"),
    ("/v1/receivables", {}, "customer"),
    ("/v1/trial-balance", {"wait_for": "-1"}, "wait_for"),
    ("/v1/reps/R1/commission/2024-3x", {}, "period"),
])
def test_malformed_parameters_are_422_invalid_field(company: Api, path, params, field):
    r = company.get(path, **params)
    assert r.status_code == 422, r.text
    assert r.json()["rule"] == "invalid_field"
    assert r.json()["details"]["field"] == field


@pytest.mark.parametrize("cli,path", [
    (["aging", "--as-of", "2024-06-30"], "/v1/aging?as_of=2024-06-30"),
    (["receivables", "--customer", "C1"], "/v1/customers/C1/receivables"),
    (["commission", "--rep", "R2", "--period", "2024-03"], "/v1/reps/R2/commission/2024-03"),
    (["audit", "--entity", "S1"], "/v1/audit/S1"),
])
def test_the_cli_prints_the_same_json(company: Api, cli, path):
    from typer.testing import CliRunner

    from ledger.cli import app

    result = CliRunner().invoke(app, ["query", *cli, "--json"],
                                env={"LEDGER_DATABASE_URL": company.ledger.database.url})
    assert result.exit_code == 0, result.output
    assert msgspec.json.decode(result.stdout) == company.get(path).json()


def test_reads_need_a_key(company: Api):
    assert company.client.get("/v1/aging").status_code == 401


# --- read-your-writes -------------------------------------------------------------------------


def test_read_your_writes_with_wait_for(api: Api):
    answer = api.post(sale("S1", 3)).json()
    position = answer["position"]
    # nothing has read yet: the projections are behind the write
    assert min(api.projector.positions().values()) < position
    r = api.get("/v1/trial-balance", wait_for=position)
    assert r.status_code == 200
    assert int(r.headers[POSITION_HEADER]) >= position
    debits = {a["account"]: a["debit"] for a in r.json()["accounts"]}
    assert sum(debits.values()) == r.json()["debit_total"] == 30_000


def test_read_your_writes_sees_a_sale_in_receivables(api: Api):
    position = api.post(sale("S1")).json()["position"]
    r = api.get("/v1/customers/C1/receivables", wait_for=position)
    assert [i["sale_id"] for i in r.json()["items"]] == ["S1"]


def test_a_read_without_wait_for_catches_up(api: Api):
    api.post(sale("S1"))
    r = api.get("/v1/trial-balance")
    assert r.json()["debit_total"] == 10_000
    assert int(r.headers[POSITION_HEADER]) == api.ledger.max_position()


def test_wait_for_beyond_the_log_waits_then_answers_503_with_retry_after(api: Api):
    """A position another process may be about to write is waited for, bounded by the
    wait time-out; then 503 ``not_caught_up`` with Retry-After and the positions."""
    api.client.app.state.services.wait_timeout = 0.3
    end = api.ledger.max_position()
    started = time.monotonic()
    r = api.get("/v1/trial-balance", wait_for=end + 1)
    assert time.monotonic() - started >= 0.3
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "1"
    assert r.json()["rule"] == "not_caught_up"
    assert r.json()["details"] == {"position": end + 1, "projected_position": end,
                                   "log_position": end}


def test_wait_for_a_position_written_while_waiting_answers_it(api: Api):
    api.client.app.state.services.wait_timeout = 10.0
    end = api.ledger.max_position()

    def write_later() -> None:
        time.sleep(0.3)
        api.ledger.execute_one(sale("S1"))

    writer = threading.Thread(target=write_later)
    writer.start()
    try:
        r = api.get("/v1/trial-balance", wait_for=end + 3)  # a sale writes three events
    finally:
        writer.join()
    assert r.status_code == 200, r.text
    assert int(r.headers[POSITION_HEADER]) >= end + 3
    assert r.json()["debit_total"] == 10_000


def test_a_read_that_needs_no_waiting_does_not_wait_for_a_catch_up(api: Api):
    """With a background projector a read without wait_for answers from what is projected
    at once, even while a long catch-up holds the projector."""
    services = api.client.app.state.services
    api.get("/v1/trial-balance")  # projected up to here
    services.background = True
    before = api.ledger.max_position()
    api.post(sale("S1"))
    with services.projector._thread_lock:  # a catch-up in progress elsewhere
        started = time.monotonic()
        r = api.get("/v1/trial-balance")
        assert time.monotonic() - started < 5
    assert r.status_code == 200
    assert int(r.headers[POSITION_HEADER]) == before
    assert r.json()["debit_total"] == 0


def test_concurrent_reads_and_writes_apply_each_event_once(api: Api):
    """Reads catch up from many threads while commands are written: every sale is counted
    once (catch-ups of one app do not overlap)."""
    from concurrent.futures import ThreadPoolExecutor

    def write(i: int) -> int:
        return api.post(sale(f"S{i}")).status_code

    def read(_: int) -> int:
        r = api.get("/v1/trial-balance")
        assert r.json()["debit_total"] == r.json()["credit_total"]
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(write if i % 2 else read, i) for i in range(40)]
        assert {f.result() for f in futures} == {200}
    r = api.get("/v1/trial-balance")
    receivables = {a["account"]: a["debit"] for a in r.json()["accounts"]}["receivables"]
    assert receivables == 20 * 10_000
