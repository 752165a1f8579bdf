"""Approvals attested or granted (SPEC 1 Approvals, SPEC 5.2 ``GrantApproval``).

Under ``approvals.mode`` = ``granted`` every approver a command names must have granted
that approval beforehand with their own ``GrantApproval`` (kind, subject, optional limit,
expiry); a grant is used once, and without a matching unexpired grant the command is
``not_authorized``. Every decision records each approval as ``attested`` or ``granted``
(with the grant's id). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from support import (
    all_applied, applied, at, cmd, events_after, facts_after, refused, sale, setup_company,
    topic_of,
)

from ledger.application import Ledger
from ledger.config import Database
from ledger.domain.policies import DEFAULT_POLICIES

# 2024-03-05 10:00 in company time (+08:00): the sales helper's default business time
NOW = datetime(2024, 3, 5, 2, 0, tzinfo=timezone.utc)
LATER = "2024-12-31T00:00:00+08:00"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def led(fresh_database: Database, clock: Clock) -> Iterator[Ledger]:
    with Ledger(fresh_database, clock=clock) as ledger:
        setup_company(ledger)
        yield ledger


def granted_mode(ledger: Ledger, effective_from: str = "2024-01-01", version: str = "granted") -> None:
    applied(ledger, cmd("AdoptPolicy", "dir", policy="approvals", version=version,
                        effective_from=effective_from,
                        values={**DEFAULT_POLICIES["approvals"], "mode": "granted"}))


def grant(approver: str, approval_id: str, kind: str, subject: str, limit: Any = None,
          expires_at: str = LATER, **extra: Any) -> dict[str, Any]:
    body = cmd("GrantApproval", approver, approval_id=approval_id, kind=kind, subject=subject,
               expires_at=expires_at, **extra)
    if limit is not None:
        body["limit"] = limit
    return body


# --- every approver field, both modes ---------------------------------------------------------


@dataclass
class Case:
    """One approver field: what must exist first, the grant that covers it, the command,
    and a second command naming the same approver for the same subject (the grant is
    used by then)."""

    name: str
    field: str
    approver: str
    kind: str
    subject: str
    limit: Any
    before: list[dict[str, Any]]
    command: dict[str, Any]
    again: dict[str, Any] | None
    decision_topic: str


def cases() -> list[Case]:
    return [
        Case("price", "price_approved_by", "mgr", "price_within_manager_limit", "S1", "0.05", [],
             sale("S1", 2, 9_500, price_approved_by="mgr"), None, "Customer.SaleRecorded"),
        Case("credit", "credit_approved_by", "fin2", "credit_override", "S1", 20_000, [],
             sale("S1", 2, 10_000, credit_approved_by="fin2"), None, "Customer.SaleRecorded"),
        Case("credit_terms", "approved_by", "fin2", "credit_terms", "C2", 5_000_000, [],
             cmd("SetCreditTerms", "fin", customer_id="C2", credit_limit=5_000_000,
                 payment_terms_days=45, approved_by="fin2"),
             cmd("SetCreditTerms", "fin", customer_id="C2", credit_limit=4_000_000,
                 payment_terms_days=45, approved_by="fin2"), "Customer.CreditTermsSet"),
        Case("list_price", "approved_by", "dir", "list_price", "Y", 12_000, [],
             cmd("SetListPrice", "sa", sku="Y", unit_price=12_000, effective_from="2024-03-01",
                 approved_by="dir"),
             cmd("SetListPrice", "sa", sku="Y", unit_price=11_000, effective_from="2024-04-01",
                 approved_by="dir"), "Sku.ListPriceSet"),
        Case("return", "approved_by", "mgr", "return", "RT1", 5_000, [sale("S1", 1, 10_000)],
             cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=5_000,
                 approved_by="mgr", reason="damaged"),
             None, "Customer.ReturnRecorded"),
        Case("write_off", "approved_by", "dir", "write_off", "W1", 10_000, [sale("S1", 1, 10_000)],
             cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1", amount=10_000,
                 approved_by="dir", reason="bankrupt"),
             None, "Customer.ReceivableWrittenOff"),
        Case("allocate_budget", "approved_by", "dir", "budget", "B1", 500_000, [],
             cmd("AllocateBudget", "fin", budget_id="B1", department="east",
                 category="advertising", period="2024-Q1", amount=500_000, approved_by="dir"),
             None, "Budget.Allocated"),
        Case("adjust_budget", "approved_by", "dir", "budget", "B1", 100_000,
             [cmd("AllocateBudget", "fin", budget_id="B1", department="east",
                  category="advertising", period="2024-Q1", amount=500_000, approved_by="dir")],
             cmd("AdjustBudget", "fin", budget_id="B1", delta=-100_000, approved_by="dir",
                 reason="fair cancelled"),
             cmd("AdjustBudget", "fin", budget_id="B1", delta=50_000, approved_by="dir",
                 reason="fair back"), "Budget.Adjusted"),
        Case("fine", "approved_by", "mgr", "fine", "F1", 20_000, [],
             cmd("FineRep", "fin", fine_id="F1", rep_id="R1", amount=20_000, reason="late",
                 approved_by="mgr"),
             None, "Rep.Fined"),
    ]


def fresh(body: dict[str, Any]) -> dict[str, Any]:
    """The same command under a new command_id (and a new invoice for a sale)."""
    again = cmd(body["command"], body["actor"], **{k: v for k, v in body.items()
                                                    if k not in ("command", "command_id", "actor")})
    if "invoice_no" in again:
        again["invoice_no"] += "-2"
    return again


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_attested_mode_records_the_named_approver_as_attested(led, case):
    all_applied(led, case.before)
    before = led.max_position()
    applied(led, case.command)
    decision = next(e for e in facts_after(led, before) if topic_of(e) == case.decision_topic)
    assert decision.meta["approvals"] == [
        {"field": case.field, "user": case.approver, "how": "attested", "grant_id": None}]
    assert decision.meta["policies"]["approvals"] == "default"


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_granted_mode_needs_the_approver_s_own_grant_and_uses_it_once(led, case):
    all_applied(led, case.before)
    granted_mode(led)
    # without a grant: not_authorized, nothing stored
    answer = refused(led, case.command, "not_authorized", field=case.field,
                     approver=case.approver, subject=case.subject, mode="granted")
    assert case.kind in answer["details"]["kinds"]
    # a grant by someone else of the same kind and subject does not serve
    other = {"mgr": "dir", "dir": "dir2", "fin2": "dir"}[case.approver]
    applied(led, grant(other, "G-other", case.kind, case.subject, case.limit))
    refused(led, fresh(case.command), "not_authorized", approver=case.approver)
    # the approver's own grant: applied, recorded as granted with the grant's id
    applied(led, grant(case.approver, "G1", case.kind, case.subject, case.limit))
    before = led.max_position()
    body = fresh(case.command)
    answer = applied(led, body)
    events = events_after(led, before)
    decision = next(e for e in events if topic_of(e) == case.decision_topic)
    way = {"field": case.field, "user": case.approver, "how": "granted", "grant_id": "G1"}
    assert way in decision.meta["approvals"]
    [used] = [e for e in events if topic_of(e) == "ApprovalGrants.Used"]
    assert (used.approval_id, used.used_by_command, used.field) == ("G1", body["command_id"],
                                                                   case.field)
    assert answer["events"] == len(events)
    # used once: the same approval again is not_authorized, naming why
    if case.again is not None:
        again = refused(led, fresh(case.again), "not_authorized", approver=case.approver)
        assert any("already used" in r for r in again["details"]["reasons"]), again


# --- what a grant must match ------------------------------------------------------------------


def fine(fine_id: str = "F1", amount: int = 20_000, approver: str = "mgr", **extra: Any) -> dict[str, Any]:
    return cmd("FineRep", "fin", fine_id=fine_id, rep_id="R1", amount=amount, reason="late",
               approved_by=approver, **extra)


def reasons_of(answer: dict[str, Any]) -> str:
    return " | ".join(answer["details"]["reasons"])


def test_an_expired_grant_does_not_serve(led, clock):
    granted_mode(led)
    applied(led, grant("mgr", "G1", "fine", "F1", expires_at="2024-03-05T11:00:00+08:00"))
    clock.now = NOW + timedelta(hours=1)  # 11:00 in company time: the grant's expiry
    answer = refused(led, fine(), "not_authorized")
    assert "expired at 2024-03-05T11:00:00+08:00" in reasons_of(answer)
    clock.now = NOW + timedelta(minutes=59)  # still within it
    applied(led, fine())


def test_a_grant_of_another_kind_or_subject_or_below_the_amount_does_not_serve(led):
    granted_mode(led)
    all_applied(led, [grant("mgr", "G-kind", "return", "F1", 20_000),
                      grant("mgr", "G-subject", "fine", "F9", 20_000),
                      grant("mgr", "G-limit", "fine", "F1", 19_999)])
    answer = refused(led, fine(), "not_authorized", measure=20_000)
    # only the grant of the right kind and subject is considered: its limit is too low
    assert reasons_of(answer) == "grant 'G-limit' covers at most 19999, the command needs 20000"
    applied(led, fine(amount=19_999))


def test_a_grant_given_after_the_decision_does_not_serve(led):
    """Granted beforehand: a command dated before the grant's business time cannot use it."""
    granted_mode(led)
    applied(led, grant("mgr", "G1", "fine", "F1"))
    answer = refused(led, fine(**at("2024-03-05", "09:00:00")), "not_authorized")
    assert "after the decision" in reasons_of(answer)
    applied(led, fine(**at("2024-03-05", "10:00:00")))


def test_a_grant_without_limit_covers_any_amount_and_each_grant_once(led):
    granted_mode(led)
    all_applied(led, [grant("dir2", "G1", "budget", "B1"), grant("dir", "G2", "budget", "B1"),
                      grant("dir", "G3", "budget", "B1")])
    allocate = cmd("AllocateBudget", "fin", budget_id="B1", department="east",
                   category="advertising", period="2024-Q1", amount=10**12, approved_by="dir")
    adjust = cmd("AdjustBudget", "fin", budget_id="B1", delta=5, approved_by="dir", reason="x")
    before = led.max_position()
    answers = led.execute([allocate, adjust, fresh(adjust)])
    assert [a["status"] for a in answers] == ["applied", "applied", "rejected"]
    assert answers[2]["rule"] == "not_authorized"
    ways = [e.meta["approvals"][0]["grant_id"] for e in facts_after(led, before)
            if topic_of(e) in ("Budget.Allocated", "Budget.Adjusted")]
    assert ways == ["G2", "G3"]  # in grant order; dir2's grant is not dir's


def test_price_grants_follow_the_tiers(led):
    """A within-limit grant covers a discount up to the manager limit (10%); a larger one
    needs an above-limit grant (only a director may give one); the limit is a rate."""
    granted_mode(led)
    applied(led, grant("dir", "G-within", "price_within_manager_limit", "S1"))
    answer = refused(led, sale("S1", 1, 8_500, price_approved_by="dir"), "not_authorized",
                     kinds=["price_above_manager_limit"], measure="0.15")
    assert answer["details"]["reasons"] == []
    applied(led, grant("dir", "G-above", "price_above_manager_limit", "S1", "0.14"))
    refused(led, sale("S1", 1, 8_500, price_approved_by="dir"), "not_authorized")
    applied(led, grant("dir", "G-above2", "price_above_manager_limit", "S1", "0.15"))
    applied(led, sale("S1", 1, 8_500, price_approved_by="dir"))
    # a manager cannot give an above-limit grant at all
    refused(led, grant("mgr", "G-m", "price_above_manager_limit", "S2"), "not_authorized",
            required=["director"])
    # a manager's within-limit grant passes the grant check; the tier is still checked
    applied(led, grant("mgr", "G-m", "price_within_manager_limit", "S2", "0.2"))
    refused(led, sale("S2", 1, 8_500, price_approved_by="mgr"), "not_authorized")
    applied(led, sale("S2", 1, 9_000, price_approved_by="mgr"))


def test_both_approvers_of_a_sale_need_their_grants(led):
    granted_mode(led)
    applied(led, grant("mgr", "GP", "price_within_manager_limit", "S1"))
    refused(led, sale("S1", 1, 9_500, price_approved_by="mgr", credit_approved_by="fin2"),
            "not_authorized", field="credit_approved_by")
    applied(led, grant("fin2", "GC", "credit_override", "S1", 9_500))
    before = led.max_position()
    applied(led, sale("S1", 1, 9_500, price_approved_by="mgr", credit_approved_by="fin2"))
    [recorded] = [e for e in facts_after(led, before) if topic_of(e) == "Customer.SaleRecorded"]
    assert recorded.meta["approvals"] == [
        {"field": "price_approved_by", "user": "mgr", "how": "granted", "grant_id": "GP"},
        {"field": "credit_approved_by", "user": "fin2", "how": "granted", "grant_id": "GC"},
    ]
    used = [e.approval_id for e in facts_after(led, before) if topic_of(e) == "ApprovalGrants.Used"]
    assert used == ["GP", "GC"]


def test_a_rejected_decision_leaves_its_grant_unused(led):
    """The grant is marked used only with an applied decision: a fine over the segregation
    rule (the approver's own rep) stores nothing, and the grant still serves."""
    all_applied(led, [cmd("RegisterUser", "admin", user_id="mgr3", name="M3", roles=["manager"]),
                      cmd("RegisterRep", "sa", rep_id="R3", name="Own", region="east",
                          user_id="mgr3")])
    granted_mode(led)
    applied(led, grant("mgr3", "G1", "fine", "F1"))
    refused(led, cmd("FineRep", "fin", fine_id="F1", rep_id="R3", amount=100, reason="x",
                     approved_by="mgr3"), "segregation_of_duties")
    applied(led, cmd("FineRep", "fin", fine_id="F1", rep_id="R1", amount=100, reason="x",
                     approved_by="mgr3"))


def test_a_command_backdated_before_granted_mode_still_needs_a_grant(led, clock):
    """Mode is the stricter of the policy on the business date and on the recorded date."""
    granted_mode(led, effective_from="2024-03-01")
    refused(led, fine(**at("2024-02-20")), "not_authorized")
    # and a command dated in granted mode needs it when recorded later too
    clock.now = NOW + timedelta(days=1)
    refused(led, fine(**at("2024-03-05")), "not_authorized")


def test_switching_back_to_attested(led):
    granted_mode(led, effective_from="2024-01-01")
    applied(led, cmd("AdoptPolicy", "dir", policy="approvals", version="attested-again",
                     effective_from="2024-03-05", values=dict(DEFAULT_POLICIES["approvals"])))
    before = led.max_position()
    applied(led, fine())
    [fined] = facts_after(led, before)
    assert fined.meta["approvals"][0]["how"] == "attested"
    assert fined.meta["policies"]["approvals"] == "attested-again"


def test_an_approvals_version_without_mode_is_attested(led):
    """A log holding an ``approvals`` version from before ``mode`` existed (stored
    directly, as an old log holds it) loads, and decisions under it are attested."""
    from datetime import date

    from ledger.domain.policies import PolicyBook

    old = {k: v for k, v in DEFAULT_POLICIES["approvals"].items() if k != "mode"}
    book = led.app.repository.get(PolicyBook.create_id()) if _has_book(led) else PolicyBook()
    book.adopt("approvals", "old", date(2024, 1, 1), old, meta={})
    led.app.save(book)
    before = led.max_position()
    applied(led, fine())
    [fined] = facts_after(led, before)
    assert fined.meta["approvals"] == [
        {"field": "approved_by", "user": "mgr", "how": "attested", "grant_id": None}]
    assert fined.meta["policies"]["approvals"] == "old"


def _has_book(ledger: Ledger) -> bool:
    from eventsourcing.application import AggregateNotFoundError

    from ledger.domain.policies import PolicyBook

    try:
        ledger.app.repository.get(PolicyBook.create_id())
    except AggregateNotFoundError:
        return False
    return True


def test_the_actor_s_own_approval_is_attested_by_their_own_command_in_both_modes(led):
    """ApproveExpense, RejectExpense and ChangeRank: the approver is the actor, acting with
    their own key; no one names them, so no grant applies, in either mode."""
    all_applied(led, [
        cmd("AllocateBudget", "fin", budget_id="B1", department="east", category="advertising",
            period="2024-Q1", amount=500_000, approved_by="dir"),
        cmd("SubmitExpense", "sa", expense_id="E1", budget_id="B1", amount=1_000,
            description="flyers", planned_on="2024-03-20"),
        cmd("SubmitExpense", "sa", expense_id="E2", budget_id="B1", amount=1_000,
            description="flyers", planned_on="2024-03-20"),
    ])
    granted_mode(led)
    before = led.max_position()
    all_applied(led, [cmd("ApproveExpense", "mgr", expense_id="E1"),
                      cmd("RejectExpense", "fin", expense_id="E2", reason="duplicate"),
                      cmd("ChangeRank", "dir", rep_id="R2", rank="SE", reason="need")])
    ways = [e.meta["approvals"] for e in facts_after(led, before)]
    assert ways == [[{"field": "actor", "user": u, "how": "attested", "grant_id": None}]
                    for u in ("mgr", "fin", "dir")]


# --- GrantApproval's own rules ----------------------------------------------------------------


def test_who_may_grant_follows_the_approvals_policy(led):
    refused(led, grant("mgr", "G1", "write_off", "W1"), "not_authorized", required=["director"])
    refused(led, grant("aud", "G1", "fine", "F1"), "not_authorized")
    refused(led, grant("sa", "G1", "fine", "F1"), "not_authorized",
            required=["director", "manager"])
    applied(led, grant("fin", "G1", "credit_override", "S1", 100))
    # a policy that lets only directors approve fines: a manager may no longer grant one
    applied(led, cmd("AdoptPolicy", "dir", policy="approvals", version="v2",
                     effective_from="2024-01-01",
                     values={**DEFAULT_POLICIES["approvals"], "fine": ["director"]}))
    refused(led, grant("mgr", "G2", "fine", "F1"), "not_authorized", required=["director"])


def test_grant_ids_are_unique(led):
    applied(led, grant("mgr", "G1", "fine", "F1"))
    refused(led, grant("dir", "G1", "fine", "F2"), "duplicate_id", kind="approval", ref="G1")


def test_grant_fields(led):
    refused(led, grant("mgr", "G1", "fine", "F1", expires_at="2024-03-05T09:59:59+08:00"),
            "invalid_field", field="expires_at")
    refused(led, grant("mgr", "G1", "fine", "F1", expires_at="2024-03-05T10:00:00+08:00"),
            "invalid_field", field="expires_at")
    refused(led, grant("mgr", "G1", "fine", "F1", expires_at="2024-03-06T10:00:00"),
            "invalid_field", field="expires_at")  # no offset
    for kind in ("mode", "expense", "rank_change", "late_activity", "nonsense"):
        refused(led, grant("dir", "G1", kind, "X"), "invalid_field", field="kind")
    refused(led, grant("mgr", "G1", "fine", "F1", "0.1"), "invalid_field", field="limit")
    refused(led, grant("mgr", "G1", "fine", "F1", -1), "invalid_field", field="limit")
    refused(led, grant("mgr", "G1", "fine", "F1", 10**13 + 1), "invalid_field", field="limit")
    refused(led, grant("mgr", "G1", "price_within_manager_limit", "S1", 100), "invalid_field",
            field="limit")
    refused(led, grant("mgr", "G1", "price_within_manager_limit", "S1", "1.5"), "invalid_field",
            field="limit")
    refused(led, grant("ghost", "G1", "fine", "F1"), "unknown_reference", field="actor")
    answer = applied(led, grant("mgr", "G1", "price_within_manager_limit", "S1", "0.050"))
    assert answer["result"]["limit"] == "0.05"


def test_a_grant_is_recorded_with_the_approvals_policy_it_was_given_under(led):
    before = led.max_position()
    applied(led, grant("mgr", "G1", "fine", "F1", 500))
    granted = [e for e in facts_after(led, before) if topic_of(e) == "ApprovalGrants.Granted"]
    [g] = granted
    assert (g.approval_id, g.kind, g.subject, g.limit, g.granted_by) == ("G1", "fine", "F1", 500,
                                                                        "mgr")
    assert g.meta["policies"] == {"approvals": "default"}


def test_mode_is_validated_in_adopt_policy(led):
    refused(led, cmd("AdoptPolicy", "dir", policy="approvals", version="bad",
                     effective_from="2024-01-01",
                     values={**DEFAULT_POLICIES["approvals"], "mode": "trust-me"}),
            "invalid_field", field="values.mode")


# --- two writers, one grant -------------------------------------------------------------------


def test_two_writers_cannot_both_use_one_grant(ledger, fresh_database):
    """Each writer its own Ledger on the same store, held at a barrier before the save: both
    judge the grant unused, one saves, the other meets the conflict, is judged again on the
    used grant and answers not_authorized. The grant is used exactly once."""
    from test_concurrency import race, statuses, topics_in_log

    setup_company(ledger)
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    all_applied(ledger, [
        cmd("AllocateBudget", "fin", budget_id="B1", department="east", category="advertising",
            period="2024-Q1", amount=500_000, approved_by="dir"),
        cmd("AdoptPolicy", "dir", policy="approvals", version="granted", effective_from="2024-01-01",
            values={**DEFAULT_POLICIES["approvals"], "mode": "granted"}),
        cmd("GrantApproval", "dir", approval_id="G1", kind="budget", subject="B1",
            expires_at=tomorrow),
    ])
    bodies = [cmd("AdjustBudget", "fin", budget_id="B1", delta=d, approved_by="dir", reason="r")
              for d in (1_000, 2_000)]
    answers, conflicts = race(fresh_database, bodies)
    assert statuses(answers) == [("applied", None), ("rejected", "not_authorized")]
    assert conflicts >= 1
    assert topics_in_log(ledger, "ledger:ApprovalGrants.Used") == 1
    assert topics_in_log(ledger, "ledger:Budget.Adjusted") == 1


def test_a_grant_and_its_use_in_one_batch(led):
    """An import or HTTP list: the grant, then the command naming its approver, then a
    second use; each judged on the state the lines before it left."""
    granted_mode(led)
    answers = led.execute([grant("mgr", "G1", "fine", "F1"), fine(),
                           grant("mgr", "G2", "fine", "F2", 5), fine("F2", 6)])
    assert [(a["status"], a.get("rule")) for a in answers] == [
        ("applied", None), ("applied", None), ("applied", None), ("rejected", "not_authorized")]
