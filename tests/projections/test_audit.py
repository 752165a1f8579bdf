"""Audit trail (SPEC 2.6, SPEC 3 Audit trail, SPEC 5.3 ``audit``): every decision with
actor, roles, approvers, reason, policy version, command and times; indexed by every
entity it is about; late-reported events; segregation-of-duty checks; on SQLite and
PostgreSQL. Facts: ``scenarios.build_receivables`` plus the late reports below."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from scenarios import build_receivables, clocked, projector  # noqa: F401

from ledger.projections.audit import (
    AuditProjection, audit_summary, late_reported_count, query_audit, query_command, query_late,
    segregation_violations,
)
from ledger.bootstrap import projector_over
from ledger.projections.errors import QueryError
from support import all_applied, cmd

SHANGHAI = "+08:00"


def _late_reports() -> list[dict[str, Any]]:
    return [
        # reported 4 hours and 1 second after it occurred: late
        cmd("FlagCustomerAtRisk", "fin", customer_id="C1", at_risk=True, reason="audit finding",
            occurred_at=f"2024-06-25T09:00:00{SHANGHAI}", reported_at=f"2024-06-25T13:00:01{SHANGHAI}"),
        # exactly 4 hours: on time
        cmd("FlagCustomerAtRisk", "fin", customer_id="C1", at_risk=False, reason="resolved",
            occurred_at=f"2024-06-26T09:00:00{SHANGHAI}", reported_at=f"2024-06-26T13:00:00{SHANGHAI}"),
        # from 28 June, 8 hours are allowed
        cmd("AdoptPolicy", "dir", policy="reporting", version="relaxed", effective_from="2024-06-28",
            values={"late_after_hours": 8, "future_tolerance_minutes": 5}),
        cmd("FlagCustomerAtRisk", "fin", customer_id="C2", at_risk=False, reason="paid up",
            occurred_at=f"2024-06-29T09:00:00{SHANGHAI}", reported_at=f"2024-06-29T14:00:00{SHANGHAI}"),
    ]


@pytest.fixture
def company(clocked):  # noqa: F811
    build_receivables(clocked)
    all_applied(clocked, _late_reports())
    return projector(clocked, AuditProjection)


def _trail(answer: dict) -> list[tuple[str, str | None]]:
    return [(e["event"], e["details"].get("sale_id") or e["details"].get("payment_id")
             or e["details"].get("rep_id") or e["details"].get("customer_id"))
            for e in answer["entries"]]


def test_a_sale_lists_its_price_and_credit_approvers(company):
    trail = query_audit(company, "S5")
    assert trail["entity_id"] == "S5"
    [entry] = trail["entries"]
    assert {k: entry[k] for k in ("event", "command", "actor", "actor_roles", "approved_by",
                                  "approver_roles", "reason", "policy_version", "occurred_at",
                                  "reported_at", "business_date", "late")} == {
        "event": "Customer.SaleRecorded", "command": "RecordSale", "actor": "sa",
        "actor_roles": ["sales_admin"], "approved_by": ["mgr", "dir"],
        "approver_roles": {"mgr": ["manager"], "dir": ["director"]}, "reason": None,
        "policy_version": "aging=default,approvals=default,credit=default,price_approval=default",
        "occurred_at": "2024-06-20T10:00:00+08:00",
        "reported_at": "2024-06-20T10:00:00+08:00", "business_date": "2024-06-20", "late": False,
    }
    assert entry["policies"] == {"price_approval": "default", "credit": "default",
                                 "aging": "default", "reporting": "default",
                                 "approvals": "default"}
    assert datetime.fromisoformat(entry["recorded_at"]).utcoffset() is not None
    assert entry["details"]["checks"]["credit_override"] is True
    assert entry["details"]["gross"] == 19_000
    # the command that caused it: its record (answer) and the events it produced
    command = query_command(company, entry["command_id"])
    assert (command["command"], command["actor"]) == ("RecordSale", "sa")
    assert [e["event"] for e in command["entries"]] == ["Customer.SaleRecorded"]
    assert (command["answer"]["status"], command["answer"]["result"]["sale_id"]) == ("applied", "S5")
    with pytest.raises(QueryError):
        query_command(company, "no-such-command")


def test_a_sale_s_trail_in_log_order(company):
    trail = query_audit(company, "S1")
    assert _trail(trail) == [
        ("Customer.SaleRecorded", "S1"),
        ("Customer.PaymentRecorded", "P1"),  # settled S1 FIFO
        ("Customer.ReceivableWrittenOff", "S1"),
        ("Customer.PaymentRecorded", "P2"),  # allocation and recovery
    ]
    positions = [e["position"] for e in trail["entries"]]
    assert positions == sorted(positions)
    write_off = trail["entries"][2]
    assert (write_off["actor"], write_off["actor_roles"], write_off["approved_by"],
            write_off["reason"]) == ("fin", ["finance"], ["dir"], "dispute settled")


def test_every_entity_an_event_is_about(company):
    # a rep: its registration, its sales, and returns and write-offs of them
    assert _trail(query_audit(company, "R2")) == [
        ("Rep.Registered", "R2"), ("Customer.SaleRecorded", "S1"), ("Customer.SaleRecorded", "S2"),
        ("Customer.ReturnRecorded", "S2"), ("Customer.ReceivableWrittenOff", "S1"),
        ("Customer.SaleRecorded", "S5"),
    ]
    # a trainer sees the registration of its trainee
    assert _trail(query_audit(company, "R1")) == [
        ("Rep.Registered", "R1"), ("Rep.Registered", "R2"), ("Customer.SaleRecorded", "S3")]
    # a customer: everything on its account
    assert _trail(query_audit(company, "C2")) == [
        ("Customer.Registered", "C2"), ("Customer.SaleRecorded", "S3"),
        ("Customer.AtRiskFlagged", None), ("Customer.PaymentRecorded", "P3"),
        ("Customer.SaleRecorded", "S4"), ("Customer.AtRiskFlagged", None),
    ]
    # a payment, a return, a user, a policy
    assert _trail(query_audit(company, "P2")) == [("Customer.PaymentRecorded", "P2")]
    assert _trail(query_audit(company, "RT1")) == [("Customer.ReturnRecorded", "S2")]
    assert [e["event"] for e in query_audit(company, "rep_user")["entries"]] == [
        "User.Registered", "Rep.Registered"]
    [adopted] = query_audit(company, "reporting")["entries"]
    assert (adopted["event"], adopted["policy_version"], adopted["actor"]) == (
        "PolicyBook.PolicyAdopted", "relaxed", "dir")


def test_late_reporting_under_the_policy_in_force(company):
    trail = query_audit(company, "C1")["entries"]
    flags = [e for e in trail if e["event"] == "Customer.AtRiskFlagged"]
    assert [(e["reason"], e["late"], e["policies"]["reporting"]) for e in flags] == [
        ("audit finding", True, "default"),  # 4 h 1 s > 4 h
        ("resolved", False, "default"),  # exactly 4 h
    ]
    relaxed = [e for e in query_audit(company, "C2")["entries"] if e["reason"] == "paid up"]
    assert [(e["late"], e["policies"]["reporting"]) for e in relaxed] == [(False, "relaxed")]
    assert late_reported_count(company) == 1
    late = query_late(company)
    assert (late["count"], late["entries"][0]["reason"]) == (1, "audit finding")


def test_no_segregation_of_duty_conflicts_in_a_log_the_rules_guarded(company):
    assert segregation_violations(company) == []
    summary = audit_summary(company)
    assert summary["late_reported"] == 1
    assert summary["segregation_violations"] == 0
    # decisions with an approver: list price, C1's terms, RT1, W1, S4, S5
    assert summary["decisions_with_approver"] == 6


def test_unknown_entity(company):
    with pytest.raises(QueryError) as e:
        query_audit(company, "NOBODY")
    assert e.value.rule == "unknown_reference"


# --- what the checks would find in a log the rules did not guard ---------------------------------


def _stored(ledger, topic: str, **match: Any) -> tuple[int, Any]:
    for n in ledger.app.recorder.select_notifications(start=1, limit=10_000, topics=[topic]):
        e = ledger.app.mapper.to_domain_event(n)
        if all(getattr(e, k) == v for k, v in match.items()):
            return n.id, e
    raise LookupError((topic, match))


def _altered(event: Any, **changes: Any) -> Any:
    clone = object.__new__(type(event))
    clone.__dict__.update(event.__dict__)
    clone.__dict__.update(changes)
    return clone


def test_checks_on_events_the_rules_did_not_guard(clocked, company):  # noqa: F811
    """Apply, into a scratch generation, stored events altered the way an old or tampered
    log could hold them: approvals that break segregation of duties, and events whose
    meta predates the recorded late flag (the projection then applies the rule itself)."""
    audit = AuditProjection(generation=9)
    scratch = projector_over(clocked, [audit])
    feed = [
        _stored(clocked, "ledger:Rep.Registered", rep_id="R2"),
        _stored(clocked, "ledger:Customer.Registered", customer_id="C1"),
        _stored(clocked, "ledger:Customer.Registered", customer_id="C2"),
    ]
    pos, s5 = _stored(clocked, "ledger:Customer.SaleRecorded", sale_id="S5")
    feed.append((pos, _altered(s5, price_approved_by="sa", credit_approved_by="rep_user")))
    for reason in ("audit finding", "paid up"):
        pos, flag = _stored(clocked, "ledger:Customer.AtRiskFlagged", reason=reason)
        meta = {k: v for k, v in flag.meta.items() if k not in ("late", "reporting_policy")}
        feed.append((pos, _altered(flag, meta=meta)))
    feed.append(_stored(clocked, "ledger:PolicyBook.PolicyAdopted", version="relaxed"))
    with scratch.transaction() as sql:
        for position, event in sorted(feed, key=lambda f: f[0]):
            audit.apply(sql, position, event)
    assert [(v["event"], v["approver"], v["conflict"], v["rep_id"])
            for v in segregation_violations(scratch)] == [
        ("Customer.SaleRecorded", "rep_user", "own_rep_account", "R2"),
        ("Customer.SaleRecorded", "sa", "own_request", "R2"),
    ]
    flags = [e for e in query_audit(scratch, "C1")["entries"] + query_audit(scratch, "C2")["entries"]
             if e["event"] == "Customer.AtRiskFlagged"]
    # without the recorded flag: the same rule under the reporting policy in force on the
    # business date, as far as the log had adopted it before the event
    assert [(e["reason"], e["late"], e["policies"]["reporting"]) for e in flags] == [
        ("audit finding", True, "default"), ("paid up", False, "relaxed")]


def test_every_event_type_the_domain_records_is_in_the_trail():
    """A new event type must be added to the audit projection (or excluded here, with
    the reason): otherwise the trail silently misses decisions."""
    import ledger.domain.model as model
    from eventsourcing.domain import DomainEvent
    from eventsourcing.utils import get_topic

    bookkeeping = {
        "ledger:Claim.Claimed",  # an id reservation; the fact it reserves is the entry
        "ledger:CommandRecord.Recorded",  # the command's answer: query_command
        "ledger:Closings.Opened", "ledger:PolicyBook.Opened",  # singletons opening
    }
    recorded = {
        get_topic(member)
        for name in model.__all__
        for member in vars(getattr(model, name)).values()
        if isinstance(member, type) and issubclass(member, DomainEvent)
    }
    recorded = {t for t in recorded if t.startswith("ledger:") and not t.endswith(".Created")}
    assert recorded - bookkeeping - set(AuditProjection.topics) == set()


def test_rank_changes_are_not_segregation_violations_and_promotions_name_their_plan(ledger):
    """A director's rank change and a close's promotion are decided by their actor: the
    trail's segregation check stays empty, and a promotion shows the plan it was taken
    under as its policy version (SPEC 1 policy versions, SPEC 3 audit trail)."""
    from support import all_applied, at, cmd, sale, setup_company

    from ledger.projections.audit import query_audit, segregation_violations
    from ledger.bootstrap import projector_for

    setup_company(ledger)
    all_applied(ledger, [
        cmd("RegisterRep", "sa", rep_id="T1", name="T1", region="east", trainer_id="R2", **at("2024-01-02")),
        sale("S1", 150, rep="R2", day="2024-03-05"),  # 15,000 yuan
        sale("S2", 150, rep="T1", day="2024-03-06"),
        cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01")),
        cmd("ChangeRank", "dir", rep_id="R1", rank="SSM", reason="regional lead", **at("2024-04-02")),
    ])
    projector = projector_for(ledger)
    projector.catch_up()
    assert segregation_violations(projector) == []
    promotions = [e for e in query_audit(projector, "R2")["entries"] if e["event"] == "Rep.RankChanged"]
    assert [(e["reason"], e["approved_by"], e["policies"]["commission_plan"]) for e in promotions] == [
        ("promotion", ["fin"], "2014-cn-1")]
    assert "commission_plan=2014-cn-1" in promotions[0]["policy_version"].split(",")
    # a director's manual change is decided under the approvals policy (rank_change)
    [manual] = [e for e in query_audit(projector, "R1")["entries"] if e["event"] == "Rep.RankChanged"]
    assert (manual["reason"], manual["approved_by"], manual["policy_version"]) == (
        "regional lead", ["dir"], "approvals=default")
