"""Input that must never get in (SPEC 1, issue 11): hostile commands through ``ledger import``
and ``POST /v1/commands`` on both stores. Each answers a named rule (``invalid_field``),
stores nothing, crashes nothing, and every query still answers afterwards.

The hypothesis tests mutate one field of a command that is otherwise valid (each template is
applied unmutated in ``test_the_templates_are_valid``, so the mutation is what is refused).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import USERS, at, cmd, sale, setup_company

from ledger.api import ApiKeys, create_app
from ledger.bootstrap import Runtime
from ledger.application import Ledger
from ledger.service.importing import import_lines
from ledger.domain.commands import MAX_AMOUNT, MAX_COMMAND_BYTES, MAX_DEPTH, MAX_ITEMS
from ledger.projections.aging import query_aging
from ledger.projections.audit import query_audit
from ledger.projections.commissions import query_commission, query_ranks
from ledger.bootstrap import projector_for
from ledger.projections.general_ledger import trial_balance
from ledger.projections.receivables import query_receivables
from ledger.projections.reconcile import query_reconcile

_n = itertools.count(1)
KEYS = {f"key-{user}": user for user in [*USERS, "admin"]}  # as tests/api/apiclient.py


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer key-{user}"}


DEEP = "__DEEP__"  # stands for a nesting too deep to build as a Python object and encode


def _uid(prefix: str) -> str:
    return f"{prefix}-h{next(_n)}"


# --- valid templates: (body, the fields a mutation may touch, and their kind) --------------

def templates() -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """Fresh valid commands for the standard company. Kinds: id, text, amount (> 0),
    limit (>= 0), date, instant, list."""
    return {
        "sale": (
            sale(_uid("S"), 2, credit_approved_by="fin"),
            {"sale_id": "id", "invoice_no": "id", "customer_id": "id", "lines.quantity": "amount",
             "lines.unit_price": "limit", "occurred_at": "instant", "reported_at": "instant",
             "lines": "list"},
        ),
        "payment": (
            cmd("RecordPayment", "sa", payment_id=_uid("P"), customer_id="C1", amount=1_000,
                received_on="2024-03-10", **at("2024-03-10")),
            {"payment_id": "id", "amount": "amount", "received_on": "date",
             "occurred_at": "instant", "allocations": "list"},
        ),
        "customer": (
            cmd("RegisterCustomer", "sa", customer_id=_uid("C"), name="Hostile Ltd",
                credit_limit=1_000_000, payment_terms_days=30, region="east"),
            {"customer_id": "id", "name": "text", "credit_limit": "limit", "region": "text",
             "payment_terms_days": "limit"},
        ),
        "credit_terms": (
            cmd("SetCreditTerms", "fin", customer_id="C2", credit_limit=5_000_000,
                payment_terms_days=45, approved_by="dir"),
            {"credit_limit": "limit", "approved_by": "id"},
        ),
        "fine": (
            cmd("FineRep", "fin", fine_id=_uid("F"), rep_id="R2", amount=500, reason="late report",
                approved_by="mgr", **at("2024-03-12")),
            {"fine_id": "id", "amount": "amount", "reason": "text", "occurred_at": "instant",
             "actor": "id"},
        ),
        "dispute": (
            cmd("OpenDispute", "aud", dispute_id=_uid("D"), entity="C1", claim="double charge?",
                event_refs=[1, 2]),
            {"dispute_id": "id", "claim": "text", "event_refs": "list", "entity": "id"},
        ),
    }


# --- hostile values, by the kind of field they replace ----------------------------------------

controls = st.sampled_from([chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127, 0x85)])
huge = st.one_of(
    st.integers(min_value=MAX_AMOUNT + 1, max_value=2**70),
    st.integers(max_value=-1, min_value=-(2**70)),
    st.sampled_from([2**63, 2**63 - 1, -(2**63), 10**20, 10**4000, -(10**300)]),
)
impossible_dates = st.sampled_from([
    "0001-01-01", "1899-12-31", "9999-12-31", "2024-02-30", "2023-13-01", "10000-01-01",
    "2024-3-1", "", "yesterday", "2024-03-10T00:00:00+08:00",
])
impossible_instants = st.sampled_from([
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1899-12-31T23:59:59+00:00",
    "2024-03-10T10:00:00", "2024-02-30T10:00:00+08:00", "9999-12-31T10:00:00+08:00", "now",
])
deep = st.integers(min_value=MAX_DEPTH, max_value=1500)


def text_with_control(draw: Any) -> str:
    head = draw(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
                        max_size=20))
    return head + draw(controls) + draw(st.text(max_size=5))


@st.composite
def hostile(draw: Any, kind: str) -> Any:
    """A value that no field of ``kind`` may take."""
    wrong_types: list[Any] = [[], {}, 1.5, True, [1, 2], {"a": 1}]
    choice = draw(st.sampled_from(["type", "deep", "long", "special"]))
    if choice == "type":
        value = draw(st.sampled_from(wrong_types))
        if kind in ("id", "text", "date", "instant"):
            return value if not isinstance(value, str) else 1
        if kind == "list":
            return draw(st.sampled_from(["x", 1, {"a": 1}, True]))
        return draw(st.sampled_from(["1000", [1], {"a": 1}, 1.5, True]))
    if choice == "deep":
        return (DEEP, draw(deep))
    if choice == "long":
        if kind == "list":
            return ["E-1"] * draw(st.integers(min_value=MAX_ITEMS + 1, max_value=25_000))
        return "x" * draw(st.integers(min_value=2001, max_value=MAX_COMMAND_BYTES + 10))
    # special: the kind's own impossible values
    if kind in ("id", "text"):
        return text_with_control(draw)
    if kind in ("amount", "limit"):
        value = draw(huge)
        return value if kind == "amount" or value != 0 else -1
    if kind == "date":
        return draw(impossible_dates)
    if kind == "instant":
        return draw(impossible_instants)
    return [draw(st.sampled_from(wrong_types))] * (MAX_ITEMS + 1)


def mutate(body: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    if field.startswith("lines."):
        body["lines"][0][field.split(".", 1)[1]] = value
    else:
        body[field] = value
    return body


def encode(body: dict[str, Any]) -> bytes:
    """JSON text of a body, with a (DEEP, n) value written as n nested lists."""
    deep_values: list[int] = []

    def placeholder(value: Any) -> Any:
        if isinstance(value, tuple) and value and value[0] == DEEP:
            deep_values.append(value[1])
            return DEEP
        if isinstance(value, dict):
            return {k: placeholder(v) for k, v in value.items()}
        if isinstance(value, list):
            return [placeholder(v) for v in value]
        return value

    text = msgspec.json.encode(placeholder(body)).decode()
    for depth in deep_values:
        text = text.replace(f'"{DEEP}"', "[" * depth + "]" * depth, 1)
    return text.encode()


cases = st.sampled_from(sorted(templates())).flatmap(
    lambda name: st.sampled_from(sorted(templates()[name][1].items())).flatmap(
        lambda item: st.tuples(st.just(name), st.just(item[0]), hostile(item[1]))))


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def company(ledger: Ledger) -> Ledger:
    setup_company(ledger)
    return ledger


@pytest.fixture
def client(company: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(Runtime.for_ledger(company), ApiKeys(KEYS))) as c:
        yield c


def queries_answer(ledger: Ledger) -> None:
    """Every query answers after hostile input (none raises, none answers a 500)."""
    projector = projector_for(ledger)
    projector.catch_up()
    assert query_receivables(projector, "C1", None)["customer_id"] == "C1"
    assert query_aging(projector, None)["total"] >= 0
    tb = trial_balance(projector, None)
    assert tb["debit_total"] == tb["credit_total"]
    assert query_reconcile(projector)["ok"] is True
    assert query_audit(projector, "C1")["entity_id"] == "C1"
    assert query_commission(projector, "R2", "2024-03")["rep_id"] == "R2"
    assert query_ranks(projector, "R2")["rep_id"] == "R2"


HYPOTHESIS = settings(max_examples=30, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow, HealthCheck.data_too_large])


# --- the templates are valid: a mutation is what gets refused -----------------------------------


def test_the_templates_are_valid(company: Ledger) -> None:
    for name, (body, _) in templates().items():
        answer = company.execute_one(body)
        assert answer["status"] == "applied", (name, answer)


# --- hypothesis: through `ledger import` and through POST /v1/commands ------------------------


@HYPOTHESIS
@given(case=cases)
def test_hostile_lines_through_import_reject_that_line_only(company: Ledger, case: Any) -> None:
    name, field, value = case
    body = mutate(templates()[name][0], field, value)
    good_before = cmd("RegisterCustomer", "sa", customer_id=_uid("GB"), name="Before",
                      credit_limit=0, region="east")
    good_after = cmd("RegisterCustomer", "sa", customer_id=_uid("GA"), name="After",
                     credit_limit=0, region="east")
    # what one good customer's registration records (its events and its command record)
    events = company.max_position()
    assert company.execute_one(cmd("RegisterCustomer", "sa", customer_id=_uid("G"), name="G",
                                   credit_limit=0, region="east"))["status"] == "applied"
    per_customer = company.max_position() - events
    events = company.max_position()
    lines = [msgspec.json.encode(good_before), encode(body), msgspec.json.encode(good_after)]
    report = import_lines(company, lines)
    assert report["applied"] == 2, (case, report)
    assert [(r["line"], r["rule"]) for r in report["rejected"]] == [(2, "invalid_field")], (
        case, report)
    # the two good customers' events, and nothing of the hostile line
    assert company.max_position() == events + 2 * per_customer
    queries_answer(company)


@HYPOTHESIS
@given(case=cases)
def test_hostile_commands_through_http_answer_invalid_field(company: Ledger, client: TestClient,
                                                            case: Any) -> None:
    name, field, value = case
    template = templates()[name][0]
    body = mutate(template, field, value)
    events = company.max_position()
    r = client.post("/v1/commands", content=encode(body),
                    headers={**bearer(template["actor"]), "content-type": "application/json"})
    assert r.status_code == 422, (case, r.text[:300])
    assert r.json()["rule"] == "invalid_field", (case, r.text[:300])
    assert company.max_position() == events
    for path in ("/v1/customers/C1/receivables", "/v1/aging", "/v1/trial-balance",
                 "/v1/reconcile", "/v1/audit/C1", "/v1/reps/R2/commission/2024-03"):
        got = client.get(path, headers=bearer("fin"))
        assert got.status_code == 200, (case, path, got.text[:300])
        assert got.json()["currency"] == "CNY"


# --- the cases, one by one -------------------------------------------------------------


def _refused(ledger: Ledger, body: dict[str, Any], field: str) -> dict[str, Any]:
    events = ledger.max_position()
    answer = ledger.execute_one(body)
    assert answer["status"] == "rejected", answer
    assert answer["rule"] == "invalid_field", answer
    assert answer["details"]["field"] == field, answer
    assert ledger.max_position() == events
    return answer


def test_overflowing_amounts_are_refused_and_the_ledger_stays_readable(company: Ledger) -> None:
    # 10^10 x 10^10 with a credit override: applied before, and every query crashed after
    answer = _refused(company, sale("S-OVER", 10**10, 10**10, credit_approved_by="fin"),
                      "lines[0]")
    assert answer["details"]["amount"] == 10**20 and answer["details"]["max"] == 10**13
    # exactly at the bound, one line: fine as a figure (refused by the credit rule instead)
    at_bound = company.execute_one(sale("S-BOUND", 10**9, 10**4))
    assert at_bound["rule"] == "credit_limit", at_bound
    # ... and applied with a credit override, several times: every figure stays exact
    for i in range(3):
        applied = company.execute_one(sale(f"S-MAX{i}", 10**9, 10**4, credit_approved_by="fin"))
        assert applied["status"] == "applied", applied
    projector = projector_for(company)
    projector.catch_up()
    assert query_receivables(projector, "C1", None)["open_total"] == 3 * MAX_AMOUNT
    assert query_aging(projector, None)["total"] == 3 * MAX_AMOUNT
    tb = trial_balance(projector, None)
    assert tb["debit_total"] == tb["credit_total"] == 3 * MAX_AMOUNT
    # two lines each within the bound but together above it
    two = sale("S-TWO", 10**9, 6 * 10**3)
    two["lines"].append(dict(two["lines"][0]))
    assert _refused(company, two, "lines")["details"]["amount"] == 12 * 10**12
    _refused(company, cmd("RecordPayment", "sa", payment_id="P-BIG", customer_id="C1",
                          amount=2**63, received_on="2024-03-10", **at("2024-03-10")), "amount")
    _refused(company, cmd("RecordPayment", "sa", payment_id="P-BIG", customer_id="C1",
                          amount=MAX_AMOUNT + 1, received_on="2024-03-10", **at("2024-03-10")),
             "amount")
    _refused(company, cmd("SetCreditTerms", "fin", customer_id="C1", credit_limit=2**63,
                          payment_terms_days=30, approved_by="dir"), "credit_limit")
    _refused(company, cmd("RegisterCustomer", "sa", customer_id="C-BIG", name="Big",
                          credit_limit=10**3000, region="east"), "credit_limit")
    _refused(company, cmd("AllocateBudget", "fin", budget_id="B-BIG", department="east",
                          category="advertising", period="2024-Q1", amount=MAX_AMOUNT + 1,
                          approved_by="dir"), "amount")
    queries_answer(company)


def test_control_characters_are_refused_in_ids_and_text(company: Ledger) -> None:
    _refused(company, cmd("OpenDispute", "aud", dispute_id="D\u0000X", entity="C1",
                          claim="claim"), "dispute_id")
    _refused(company, cmd("RegisterCustomer", "sa", customer_id="C-NUL", name="Acme\u0000Evil",
                          credit_limit=0, region="east"), "name")
    _refused(company, cmd("FineRep", "fin", fine_id="F-NUL", rep_id="R2", amount=100,
                          reason="late\u0000", approved_by="mgr", **at("2024-03-12")), "reason")
    # a control character anywhere, an AdoptPolicy value or an unknown field's name included
    _refused(company, cmd("AdoptPolicy", "dir", policy="budget", version="v\u0007",
                          effective_from="2024-01-01",
                          values={"spend_tolerance": "0.1", "activity_notice_days": 30,
                                  "categories": ["advertising\u0000"]}), "version")
    # an id holds no newline, not even a final one
    _refused(company, cmd("RegisterCustomer", "sa", customer_id="C-NL\n", name="Acme",
                          credit_limit=0, region="east"), "customer_id")
    # free text may hold tab and newline
    ok = company.execute_one(cmd("RegisterCustomer", "sa", customer_id="C-TAB",
                                 name="Acme\tTrading\nLtd", credit_limit=0, region="east"))
    assert ok["status"] == "applied", ok
    queries_answer(company)


def test_deep_nesting_and_huge_lists_are_refused(company: Ledger, client: TestClient) -> None:
    events = company.max_position()
    # 1,000 deep through import: no RecursionError, the line is refused
    body = cmd("OpenDispute", "aud", dispute_id="D-DEEP", entity="C1", claim="deep")
    deep_line = encode({**body, "event_refs": (DEEP, 1000)})
    report = import_lines(company, [deep_line])
    assert [r["rule"] for r in report["rejected"]] == ["invalid_field"]
    # ... and through HTTP: 422 invalid_field, the JSON error shape
    r = client.post("/v1/commands", content=deep_line,
                    headers={**bearer("aud"), "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["rule"] == "invalid_field", r.text[:200]
    # 40 deep (decodable, above the bound): refused naming the place
    answer = company.execute_one({**body, "event_refs": json.loads("[" * 40 + "]" * 40)})
    assert answer["rule"] == "invalid_field" and "nested more than 32" in answer["message"]
    # 25,000 event_refs (25 MB of strings)
    refs = ["x" * 1000] * 25_000
    answer = company.execute_one({**body, "command_id": "big-refs", "event_refs": refs})
    assert answer["rule"] == "invalid_field" and answer["details"]["field"] == "event_refs"
    # a body over the request limit
    from ledger.api.routers.commands import MAX_BODY_BYTES

    r = client.post("/v1/commands", content=b"[" + b" " * MAX_BODY_BYTES + b"]",
                    headers={**bearer("aud"), "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["rule"] == "invalid_field", r.text[:200]
    assert company.max_position() == events
    queries_answer(company)


def test_out_of_range_dates_reject_their_line_only(company: Ledger) -> None:
    events = company.max_position()
    bad_time = cmd("FineRep", "fin", fine_id="F-Y1", rep_id="R2", amount=100, reason="r",
                   approved_by="mgr", occurred_at="0001-01-01T00:00:00+14:00")
    good = cmd("FineRep", "fin", fine_id="F-OK", rep_id="R2", amount=100, reason="r",
               approved_by="mgr", **at("2024-03-12"))
    year_one = cmd("FineRep", "fin", fine_id="F-Y1b", rep_id="R2", amount=100, reason="r",
                   approved_by="mgr", occurred_at="0001-06-01T10:00:00+08:00")
    future_pay = cmd("RecordPayment", "sa", payment_id="P-FUT", customer_id="C1", amount=100,
                     received_on="9999-12-31")
    ancient_pay = cmd("RecordPayment", "sa", payment_id="P-OLD", customer_id="C1", amount=100,
                      received_on="0001-01-01")
    tomorrow_pay = cmd("RecordPayment", "sa", payment_id="P-TMR", customer_id="C1", amount=100,
                       received_on="2099-01-01")
    reported_early = cmd("FineRep", "fin", fine_id="F-EARLY", rep_id="R2", amount=100,
                         reason="r", approved_by="mgr", occurred_at="2024-03-12T10:00:00+08:00",
                         reported_at="2024-03-12T09:00:00+08:00")
    plan_far = cmd("AdoptPolicy", "dir", policy="credit", version="far",
                   effective_from="1899-12-31", values={"payment_terms_days": 30})
    lines = [msgspec.json.encode(b) for b in (bad_time, good, year_one, future_pay, ancient_pay,
                                               tomorrow_pay, reported_early, plan_far)]
    report = import_lines(company, lines)
    assert report["applied"] == 1
    assert [(r["line"], r["rule"]) for r in report["rejected"]] == [
        (n, "invalid_field") for n in (1, 3, 4, 5, 6, 7, 8)]
    fields = [r["message"].split(":")[0] for r in report["rejected"]]
    assert fields == ["occurred_at", "occurred_at", "received_on", "received_on", "received_on",
                      "reported_at", "effective_from"]
    assert company.max_position() > events
    queries_answer(company)


def test_an_unforeseen_exception_rejects_its_command_only(company: Ledger) -> None:
    """A handler's exception (here a plan effective on 9999-12-31, whose first governed
    month would be in year 10000) answers a named rule; the batch beside it is applied."""
    from ledger.domain.commission_plan import PLAN_2014_CN_1

    plan = {**PLAN_2014_CN_1, "version": "far"}
    bad = cmd("AdoptCommissionPlan", "dir", plan_version="far", effective_from="9999-12-31",
              plan=plan)
    good = cmd("RegisterCustomer", "sa", customer_id="C-BESIDE", name="Beside", credit_limit=0,
               region="east")
    events = company.max_position()
    answers = company.execute([good, bad, dict(good, command_id="again", customer_id="C-B2")])
    assert [a["status"] for a in answers] == ["applied", "rejected", "applied"]
    assert answers[1]["rule"] == "invalid_field"
    assert company.max_position() > events
    queries_answer(company)


def test_a_period_out_of_range_is_invalid_field_in_commands_and_queries(company: Ledger) -> None:
    from ledger.projections.errors import QueryError

    _refused(company, cmd("CloseMonth", "fin", period="9999-12"), "period")
    _refused(company, cmd("AllocateBudget", "fin", budget_id="B-9999", department="east",
                          category="advertising", period="0000-Q1", amount=1, approved_by="dir"),
             "period")
    projector = projector_for(company)
    projector.catch_up()
    with pytest.raises(QueryError) as e:
        query_commission(projector, "R2", "9999-12")
    assert e.value.rule == "invalid_field"


# --- one currency per ledger -------------------------------------------------------------------


def test_one_currency_per_ledger(company: Ledger, client: TestClient) -> None:
    named = company.execute_one(cmd("RecordPayment", "sa", payment_id="P-CNY", customer_id="C1",
                                    amount=100, received_on="2024-03-10", currency="CNY",
                                    **at("2024-03-10")))
    assert named["status"] == "applied", named
    answer = _refused(company, cmd("RecordPayment", "sa", payment_id="P-USD", customer_id="C1",
                                   amount=100, received_on="2024-03-10", currency="USD",
                                   **at("2024-03-10")), "currency")
    assert answer["details"] == {"field": "currency", "currency": "USD",
                                 "ledger_currency": "CNY"}
    _refused(company, sale("S-USD", 1, currency="USD"), "currency")
    # the policy is adoptable like any other; a malformed code is refused
    _refused(company, cmd("AdoptPolicy", "dir", policy="currency", version="bad",
                          effective_from="2024-01-01", values={"code": "usd"}), "values.code")
    adopted = company.execute_one(cmd("AdoptPolicy", "dir", policy="currency", version="usd",
                                      effective_from="2024-01-01", values={"code": "USD"}))
    assert adopted["status"] == "applied", adopted
    assert company.currency() == "USD"
    _refused(company, cmd("RecordPayment", "sa", payment_id="P-CNY2", customer_id="C1",
                          amount=100, received_on="2024-03-10", currency="CNY",
                          **at("2024-03-10")), "currency")
    # every query document names the currency, on HTTP and in the CLI's documents
    for path in ("/v1/aging", "/v1/trial-balance", "/v1/customers/C1/receivables"):
        r = client.get(path, headers=bearer("fin"))
        assert r.status_code == 200, r.text
        assert r.json()["currency"] == "USD", path
    # and the OpenAPI document says so, with the documented limits
    doc = client.get("/openapi.json", headers=bearer("fin")).json()
    for name in ("Aging", "Receivables", "Commission", "TrialBalance", "Reconcile", "Audit"):
        assert "currency" in doc["components"]["schemas"][name]["required"], name
    assert "nested at most 32 levels" in doc["paths"]["/v1/commands"]["post"]["description"]


def test_control_characters_in_read_parameters_are_invalid_field(company: Ledger,
                                                                 client: TestClient) -> None:
    """On PostgreSQL a NUL in a read's id answered 500 (text cannot hold NUL)."""
    for path in ("/v1/customers/C%00X/receivables", "/v1/audit/A%00", "/v1/receivables?customer=C%00",
                 "/v1/reps/R%00/commission/2024-03", "/v1/budgets/B%01", "/v1/ranks?rep=R%1f"):
        r = client.get(path, headers=bearer("fin"))
        assert r.status_code == 422, (path, r.text[:200])
        assert r.json()["rule"] == "invalid_field", path
    assert client.get("/v1/customers/C1/receivables", headers=bearer("fin")).status_code == 200
