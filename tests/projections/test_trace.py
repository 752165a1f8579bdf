"""Every decision traceable (SPEC 1 Policy versions, SPEC 2.2, SPEC 3 Audit trail, SPEC 5.3):
each decision records the version of every policy it consulted (``approvals`` included) and
the trail shows them; approvers need an approving role; invoice numbers are unique; the
auditors' look-ups (by actor, late by date, segregation checks, disputes, trips, policies).
On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from scenarios import clocked  # noqa: F401

from ledger.domain.commission_plan import PLAN_2014_CN_1
from ledger.domain.policies import DEFAULT_POLICIES, PolicyBook
from ledger.projections.audit import query_actor, query_audit, query_late, query_sod
from ledger.projections.commissions import query_commission
from ledger.projections.disputes import query_disputes
from ledger.bootstrap import projector_for
from ledger.projections.errors import QueryError
from ledger.projections.policies import query_policies
from ledger.projections.trips import query_trips
from support import all_applied, applied, at, cmd, facts_after, refused, sale, setup_company


def _caught_up(ledger):
    projector = projector_for(ledger)
    projector.catch_up()
    return projector


def _entry(projector, entity: str, event: str) -> dict:
    [found] = [e for e in query_audit(projector, entity)["entries"] if e["event"] == event]
    return found


def _expense(expense_id: str, day: str, **extra):
    return cmd("SubmitExpense", "sa", expense_id=expense_id, budget_id="B1", amount=1_000,
               description="flyers", planned_on="2024-06-30", **at(day), **extra)


DECISIONS = [
    cmd("RegisterCustomer", "sa", customer_id="C3", name="Default terms", credit_limit=0,
        region="east", **at("2024-03-01")),
    cmd("RegisterCustomer", "sa", customer_id="C4", name="Own terms", credit_limit=0,
        payment_terms_days=45, region="east", **at("2024-03-01")),
    cmd("SetCreditTerms", "fin", customer_id="C1", credit_limit=5_000_000, payment_terms_days=30,
        approved_by="dir", **at("2024-03-01")),
    sale("S1", 3, day="2024-03-05"),
    cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=1_000, approved_by="mgr",
        reason="damaged", **at("2024-03-06")),
    cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1", amount=1_000,
        approved_by="dir", reason="dispute settled", **at("2024-03-07")),
    cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=2_000,
        received_on="2024-03-08", **at("2024-03-08")),
    cmd("FlagCustomerAtRisk", "fin", customer_id="C4", at_risk=True, reason="rumours",
        **at("2024-03-08")),
    cmd("FineRep", "fin", fine_id="F1", rep_id="R2", amount=500, reason="late report",
        approved_by="mgr", **at("2024-03-09")),
    cmd("ChangeRank", "dir", rep_id="R1", rank="SSM", reason="regional lead", **at("2024-03-09")),
    cmd("AllocateBudget", "fin", budget_id="B1", department="marketing", category="promotion",
        period="2024", amount=100_000, approved_by="dir", **at("2024-03-01")),
    cmd("AdjustBudget", "fin", budget_id="B1", delta=5_000, approved_by="dir", reason="fair",
        **at("2024-03-02")),
    _expense("E1", "2024-03-03"),
    cmd("ApproveExpense", "mgr", expense_id="E1", **at("2024-03-04")),
    _expense("E2", "2024-03-03"),
    cmd("RejectExpense", "fin", expense_id="E2", reason="no invoice possible", **at("2024-03-04")),
]


def test_every_decision_records_the_policies_it_consulted_and_facts_record_none(clocked):  # noqa: F811
    setup_company(clocked)
    all_applied(clocked, DECISIONS)
    projector = _caught_up(clocked)
    approvals = "approvals=default"
    expected = {
        ("C3", "Customer.Registered"): "credit=default",  # default terms: the credit policy
        ("X", "Sku.ListPriceSet"): approvals,
        ("C1", "Customer.CreditTermsSet"): approvals,
        ("S1", "Customer.SaleRecorded"):
            "aging=default,approvals=default,credit=default,price_approval=default",
        ("RT1", "Customer.ReturnRecorded"): approvals,
        ("S1", "Customer.ReceivableWrittenOff"): approvals,
        ("F1", "Rep.Fined"): approvals,
        ("R1", "Rep.RankChanged"): approvals,
        ("B1", "Budget.Allocated"): "approvals=default,budget=default",  # its category
        ("B1", "Budget.Adjusted"): approvals,
        ("E1", "Budget.ExpenseApproved"): "approvals=default,budget=default",
        ("E2", "Budget.ExpenseRejected"): approvals,
    }
    for (entity, event), version in expected.items():
        entry = _entry(projector, entity, event)
        assert entry["policy_version"] == version, (entity, event)
        # the mapping beside it: every consulted version, and the reporting one
        assert {k: v for k, v in entry["policies"].items() if k != "reporting"} == dict(
            pair.split("=") for pair in version.split(","))
        assert entry["policies"]["reporting"] == "default"
    # plain facts consulted no policy: registration with its own terms, payment, flag
    for entity, event in (("C4", "Customer.Registered"), ("P1", "Customer.PaymentRecorded"),
                          ("C4", "Customer.AtRiskFlagged"), ("E1", "Budget.ExpenseSubmitted")):
        assert _entry(projector, entity, event)["policy_version"] is None, (entity, event)


def test_expense_approvers_and_rank_changes_follow_the_approvals_policy(clocked):  # noqa: F811
    setup_company(clocked)
    all_applied(clocked, DECISIONS[10:12] + [
        _expense("E3", "2024-03-20"), _expense("E4", "2024-03-20"), _expense("E5", "2024-03-20"),
        cmd("AdoptPolicy", "dir", policy="approvals", version="v2", effective_from="2024-04-01",
            values={**DEFAULT_POLICIES["approvals"], "expense": ["director"],
                    "expense_rejection": ["director"], "rank_change": ["director"]}),
    ])
    # before v2 a manager approves; from 1 April only a director, and finance rejects no more
    applied(clocked, cmd("ApproveExpense", "mgr", expense_id="E3", **at("2024-03-31")))
    refused(clocked, cmd("ApproveExpense", "mgr", expense_id="E4", **at("2024-04-01")),
            "not_authorized", actor="mgr", required=["director"])
    refused(clocked, cmd("RejectExpense", "fin", expense_id="E5", reason="no", **at("2024-04-01")),
            "not_authorized", actor="fin", required=["director"])
    applied(clocked, cmd("ApproveExpense", "dir", expense_id="E4", **at("2024-04-01")))
    applied(clocked, cmd("RejectExpense", "dir", expense_id="E5", reason="no", **at("2024-04-02")))
    projector = _caught_up(clocked)
    assert _entry(projector, "E3", "Budget.ExpenseApproved")["policy_version"] == (
        "approvals=default,budget=default")
    assert _entry(projector, "E4", "Budget.ExpenseApproved")["policy_version"] == (
        "approvals=v2,budget=default")
    assert _entry(projector, "E5", "Budget.ExpenseRejected")["policy_version"] == "approvals=v2"


def test_an_approvals_version_adopted_before_a_key_existed_leaves_it_at_its_default(clocked):  # noqa: F811
    """A log holding an ``approvals`` version from before ``expense`` was a key (stored
    directly, as an old log holds it): an approval under it uses the default roles and
    records that version."""
    setup_company(clocked)
    all_applied(clocked, DECISIONS[10:11] + [_expense("E1", "2024-03-03")])
    old = {k: v for k, v in DEFAULT_POLICIES["approvals"].items()
           if k not in ("expense", "expense_rejection", "rank_change")}
    book = PolicyBook()
    book.adopt("approvals", "old", date(2024, 1, 1), old, meta={})
    clocked.app.save(book)
    before = clocked.max_position()
    applied(clocked, cmd("ApproveExpense", "mgr", expense_id="E1", **at("2024-03-04")))
    [approval] = facts_after(clocked, before)
    assert approval.meta["policies"] == {"approvals": "old", "budget": "default"}
    refused(clocked, cmd("RejectExpense", "sa", expense_id="E1", reason="no", **at("2024-03-05")),
            "not_authorized", required=["director", "finance", "manager"])


# --- approvers and invoice numbers (SPEC 2.2) -----------------------------------------------


def test_an_approver_without_an_approving_role_is_refused_even_at_list_price(clocked):  # noqa: F811
    setup_company(clocked)
    # a sales rep named as price approver of a full-price sale: no role that approves prices
    refused(clocked, sale("S1", price_approved_by="rep_user", rep="R1"), "not_authorized",
            field="price_approved_by", approver="rep_user", required=["director", "manager"])
    # a credit approver without a credit role, though no override was needed
    refused(clocked, sale("S1", credit_approved_by="mgr"), "not_authorized",
            field="credit_approved_by", approver="mgr", required=["director", "finance"])
    # tiered: a manager's role covers prices, but not this discount: price_approval
    refused(clocked, sale("S1", 1, 8_000, price_approved_by="mgr"), "price_approval",
            approver="mgr", required="director")
    # a manager named on a full-price sale may approve prices: accepted and listed
    applied(clocked, sale("S1", price_approved_by="mgr"))
    assert _entry(_caught_up(clocked), "S1", "Customer.SaleRecorded")["approved_by"] == ["mgr"]


def test_a_reused_invoice_number_is_a_duplicate_id(clocked):  # noqa: F811
    setup_company(clocked)
    applied(clocked, sale("S1"))
    again = sale("S2")
    again["invoice_no"] = "INV-S1"
    answer = refused(clocked, again, "duplicate_id", field="invoice_no", ref="INV-S1", sale_id="S1")
    assert "invoice_no" in answer["message"] and "'S1'" in answer["message"]
    # a reused sale id answers first (and in one batch the second of two is refused)
    both = sale("S1")
    refused(clocked, both, "duplicate_id", kind="sale", ref="S1")
    first, second = sale("S3"), sale("S4")
    second["invoice_no"] = first["invoice_no"]
    answers = clocked.execute([first, second])
    assert [a["status"] for a in answers] == ["applied", "rejected"]
    assert (answers[1]["rule"], answers[1]["details"]["field"]) == ("duplicate_id", "invoice_no")
    # an expense's invoice number is another register: no clash with a sale's
    all_applied(clocked, DECISIONS[10:11] + [
        _expense("E1", "2024-03-03"), cmd("ApproveExpense", "mgr", expense_id="E1", **at("2024-03-04")),
        cmd("RecordExpenseSpend", "fin", expense_id="E1", amount=1_000, invoice_no="INV-S1",
            paid_on="2024-03-05", **at("2024-03-05")),
    ])


# --- auditors' look-ups -----------------------------------------------------------------------


def test_audit_by_actor_lists_what_a_user_took_or_approved(clocked):  # noqa: F811
    setup_company(clocked)
    all_applied(clocked, DECISIONS)
    projector = _caught_up(clocked)
    mgr = query_actor(projector, "mgr")
    assert mgr["actor"] == "mgr"
    assert [(e["event"], e["actor"], e["approved_by"]) for e in mgr["entries"]] == [
        ("Customer.ReturnRecorded", "sa", ["mgr"]),  # approved
        ("Rep.Fined", "fin", ["mgr"]),  # approved
        ("Budget.ExpenseApproved", "mgr", ["mgr"]),  # took (the actor approves)
    ]
    director = [(e["event"], e["actor"]) for e in query_actor(projector, "dir")["entries"]]
    assert director == [
        ("Sku.ListPriceSet", "sa"), ("Customer.CreditTermsSet", "fin"),
        ("Customer.ReceivableWrittenOff", "fin"), ("Rep.RankChanged", "dir"),
        ("Budget.Allocated", "fin"), ("Budget.Adjusted", "fin"),
    ]
    positions = [e["position"] for e in query_actor(projector, "fin")["entries"]]
    assert positions == sorted(positions) and len(positions) == 8
    # the same entry as the entity's trail shows
    [fine] = [e for e in mgr["entries"] if e["event"] == "Rep.Fined"]
    assert fine == _entry(projector, "F1", "Rep.Fined")
    assert query_actor(projector, "aud") == {"actor": "aud", "entries": []}
    assert query_actor(projector, "admin")["entries"][0]["event"] == "User.Registered"
    with pytest.raises(QueryError) as e:
        query_actor(projector, "nobody")
    assert (e.value.rule, e.value.details["field"]) == ("unknown_reference", "actor")


def test_late_reports_between_dates_and_the_segregation_checks(clocked):  # noqa: F811
    setup_company(clocked)
    late = {"reported_at": "2024-03-20T10:00:00+08:00"}
    all_applied(clocked, [
        {**sale("S1", day="2024-03-05"), **late},
        {**sale("S2", day="2024-03-10"), **late},
        {**sale("S3", day="2024-03-12"), "reported_at": "2024-03-12T14:00:00+08:00"},  # on time
        {**sale("S4", day="2024-03-15"), **late},
    ])
    projector = _caught_up(clocked)
    everything = query_late(projector)
    assert (everything["from"], everything["to"], everything["count"]) == (None, None, 3)
    window = query_late(projector, "2024-03-06", "2024-03-15")
    assert (window["from"], window["to"]) == ("2024-03-06", "2024-03-15")
    assert [e["details"]["sale_id"] for e in window["entries"]] == ["S2", "S4"]
    assert [e["details"]["sale_id"] for e in query_late(projector, date_to="2024-03-09")["entries"]] == ["S1"]
    with pytest.raises(QueryError) as e:
        query_late(projector, "2024-02-30")
    assert (e.value.rule, e.value.details["field"]) == ("invalid_field", "from")
    all_applied(clocked, [DECISIONS[2], *DECISIONS[4:6]])
    sod = query_sod(_caught_up(clocked))
    # list price (setup), terms, return, write-off: four decisions, one approver each
    assert sod == {
        "ok": True, "decisions_checked": 4, "approvals_checked": 4,
        "checks": [{"rule": "own_request", "description": sod["checks"][0]["description"],
                    "violations": 0},
                   {"rule": "own_rep_account", "description": sod["checks"][1]["description"],
                    "violations": 0}],
        "violations": [],
    }


def test_disputes_open_and_resolved_by_entity_and_on_the_statement(clocked):  # noqa: F811
    setup_company(clocked)
    all_applied(clocked, [
        sale("S1", 2, day="2024-03-05"),
        cmd("OpenDispute", "aud", dispute_id="D1", entity="R2", period="2024-03",
            claim="March commission misses S1", event_refs=[3]),
        cmd("OpenDispute", "rep_user", dispute_id="D2", entity="R2", period="2024-04",
            claim="April"),
        cmd("OpenDispute", "aud", dispute_id="D3", entity="S1", claim="price looks wrong"),
        cmd("OpenDispute", "aud", dispute_id="D4", entity="R2", period="2024-03", claim="again"),
        cmd("ResolveDispute", "fin", dispute_id="D4", outcome="rejected", reason="duplicate of D1"),
    ])
    projector = _caught_up(clocked)
    everything = query_disputes(projector)
    assert (everything["open"], everything["resolved"]) == (3, 1)
    assert [(d["dispute_id"], d["entity"], d["entity_kind"], d["status"], d["outcome"])
            for d in everything["disputes"]] == [
        ("D1", "R2", "rep", "open", None), ("D2", "R2", "rep", "open", None),
        ("D3", "S1", "sale", "open", None), ("D4", "R2", "rep", "resolved", "rejected"),
    ]
    d4 = everything["disputes"][3]
    assert (d4["resolved_by"], d4["reason"], d4["opened_by"]) == ("fin", "duplicate of D1", "aud")
    assert d4["resolved_position"] > d4["opened_position"]
    assert everything["disputes"][0]["event_refs"] == [3]
    rep = query_disputes(projector, "R2", open_only=True)
    assert (rep["entity"], rep["open_only"], rep["open"], rep["resolved"]) == ("R2", True, 2, 0)
    assert [d["dispute_id"] for d in rep["disputes"]] == ["D1", "D2"]
    assert query_disputes(projector, "C1")["disputes"] == []
    # the statement carries the open disputes of that rep and month only
    march = query_commission(projector, "R2", "2024-03")
    assert [d["dispute_id"] for d in march["disputes"]] == ["D1"]
    assert [d["dispute_id"] for d in query_commission(projector, "R2", "2024-04")["disputes"]] == ["D2"]
    assert query_commission(projector, "R1", "2024-03")["disputes"] == []


def _easy_trip_plan() -> dict:
    """Plan 2014-cn-1 with two trips on the SE row (own 15,000 yuan, 15,000 by one trained
    rep with at least 13,000): 2 months in a calendar year, 1 month July–June."""
    return {**PLAN_2014_CN_1, "version": "trips-1", "trips": [
        {"name": "year", "row": "SE", "months": 2, "window_start_month": 1},
        {"name": "season", "row": "SE", "months": 1, "window_start_month": 7},
    ]}


def test_trips_count_the_closed_months_that_met_the_row(clocked):  # noqa: F811
    setup_company(clocked)
    # the default plan: four windows for 2024, nothing met
    quiet = query_trips(_caught_up(clocked), "R1", 2024)
    assert quiet["plan_version"] == "2014-cn-1"
    assert [(t["name"], t["window_from"], t["window_to"], t["required"], t["count"],
             t["still_needed"], t["qualified"]) for t in quiet["trips"]] == [
        ("创星学院", "2023-07", "2024-06", 4, 0, 4, False),
        ("创星学院", "2024-07", "2025-06", 4, 0, 4, False),
        ("登峰海外游", "2024-01", "2024-12", 4, 0, 4, False),
        ("寰宇领袖之旅", "2024-01", "2024-12", 6, 0, 6, False),
    ]
    all_applied(clocked, [
        cmd("AdoptCommissionPlan", "dir", plan_version="trips-1", effective_from="2024-01-01",
            plan=_easy_trip_plan()),
        # 150 x 100 yuan = 15,000 yuan
        sale("S1", 150, rep="R1", day="2024-01-10"), sale("S2", 150, rep="R2", day="2024-01-11"),
        sale("S3", 150, rep="R1", day="2024-02-10"), sale("S4", 140, rep="R2", day="2024-02-11"),
        sale("S5", 150, rep="R1", day="2024-03-10"), sale("S6", 150, rep="R2", day="2024-03-11"),
        cmd("CloseMonth", "fin", period="2024-01", **at("2024-02-01")),
        cmd("CloseMonth", "fin", period="2024-02", **at("2024-03-01")),
        cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01")),
    ])
    trips = query_trips(_caught_up(clocked), "R1", 2024)
    assert trips["plan_version"] == "trips-1"
    # February: R2 sold 14,000 yuan, R1's trained sales are below 15,000: not met
    assert [(t["name"], t["window_from"], t["months"], t["count"], t["still_needed"],
             t["qualified"], t["qualified_in"]) for t in trips["trips"]] == [
        ("year", "2024-01", ["2024-01", "2024-03"], 2, 0, True, "2024-03"),
        ("season", "2023-07", ["2024-01", "2024-03"], 2, 0, True, "2024-01"),
        ("season", "2024-07", [], 0, 1, False, None),
    ]
    # this year by default (the clock stands in 2024); an unknown rep, a bad year
    assert query_trips(_caught_up(clocked), "R1") == trips
    with pytest.raises(QueryError) as e:
        query_trips(_caught_up(clocked), "R404", 2024)
    assert e.value.rule == "unknown_reference"
    with pytest.raises(QueryError) as e:
        query_trips(_caught_up(clocked), "R1", "20x4")
    assert (e.value.rule, e.value.details["field"]) == ("invalid_field", "year")


def test_policies_in_force_feed_back_through_the_adopt_commands(clocked):  # noqa: F811
    setup_company(clocked)
    projector = _caught_up(clocked)
    now = query_policies(projector)
    assert now["as_of"] == "2024-07-01"
    assert set(now["policies"]) == set(DEFAULT_POLICIES)
    assert now["policies"]["aging"] == {"version": "default", "effective_from": None,
                                        "values": DEFAULT_POLICIES["aging"]}
    assert now["plan"] == {"version": "2014-cn-1", "effective_from": None, "plan": PLAN_2014_CN_1}
    # what it prints is what the adopt commands take: every policy and the plan, fed back
    bodies = [cmd("AdoptPolicy", "dir", policy=name, version=f"{name}-2", effective_from="2024-05-01",
                  values=shown["values"]) for name, shown in now["policies"].items()]
    bodies.append(cmd("AdoptCommissionPlan", "dir", plan_version="plan-2",
                      effective_from="2024-05-01",
                      plan={**now["plan"]["plan"], "version": "plan-2"}))
    all_applied(clocked, bodies)
    later = query_policies(_caught_up(clocked), "2024-05-01")
    assert {n: (p["version"], p["effective_from"]) for n, p in later["policies"].items()} == {
        n: (f"{n}-2", "2024-05-01") for n in DEFAULT_POLICIES}
    assert (later["plan"]["version"], later["plan"]["effective_from"]) == ("plan-2", "2024-05-01")
    assert later["plan"]["plan"] == {**PLAN_2014_CN_1, "version": "plan-2"}
    # and the plan as printed again adopts as it is (its own version inside)
    again = query_policies(_caught_up(clocked), date(2024, 5, 1))["plan"]
    applied(clocked, cmd("AdoptCommissionPlan", "dir", plan_version="plan-3",
                         effective_from="2024-06-01", plan={**again["plan"], "version": "plan-3"}))
    before = query_policies(_caught_up(clocked), "2024-04-30")
    assert before["policies"]["budget"]["version"] == "default"
    assert before["plan"]["version"] == "2014-cn-1"
    with pytest.raises(QueryError) as e:
        query_policies(projector, "2024-13-01")
    assert e.value.rule == "invalid_field"
