"""OpenDispute and ResolveDispute (SPEC 5.2): the entity must exist, anyone registered may
open, finance or a director resolves, never the opener, and only once."""

from __future__ import annotations

from support import (
    all_applied, applied, cmd, facts_after, refused, sale, setup_company, topic_of,
)


def open_(dispute_id: str, entity: str, actor: str = "aud",
          claim: str = "the statement misses a sale", **extra):
    return cmd("OpenDispute", actor, dispute_id=dispute_id, entity=entity, claim=claim, **extra)


def resolve(dispute_id: str, actor: str = "fin", outcome: str = "upheld",
            reason: str = "checked the invoices", **extra):
    return cmd("ResolveDispute", actor, dispute_id=dispute_id, outcome=outcome, reason=reason, **extra)


def _company(ledger):
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 1),
        cmd("AllocateBudget", "fin", budget_id="B1", department="m", category="office", period="2024",
            amount=1_000, approved_by="dir"),
    ])


def test_open_dispute_on_each_kind_of_entity_by_any_user(ledger):
    _company(ledger)
    before = ledger.max_position()
    answers = all_applied(ledger, [
        open_("D1", "R1", period="2024-03", event_refs=[12, 13]),
        open_("D2", "S1", actor="rep_user"),
        open_("D3", "C1", actor="svc"),
        open_("D4", "B1", actor="mgr"),
    ])
    assert [a["result"]["entity_kind"] for a in answers] == ["rep", "sale", "customer", "budget"]
    facts = facts_after(ledger, before)
    assert [topic_of(e) for e in facts] == ["Dispute.Opened"] * 4
    assert (facts[0].entity, facts[0].period, facts[0].event_refs, facts[0].opened_by) == (
        "R1", "2024-03", [12, 13], "aud")


def test_open_dispute_rules(ledger):
    _company(ledger)
    refused(ledger, open_("D1", "NOTHING"), "unknown_reference", field="entity", ref="NOTHING")
    refused(ledger, open_("D1", "R1", period="2024-3"), "invalid_field", field="period")
    refused(ledger, open_("D1", "R1", claim=""), "invalid_field", field="claim")
    refused(ledger, open_("D1", "R1", actor="ghost"), "unknown_reference", field="actor")
    # "admin manages users and nothing else" (SPEC 5.2)
    refused(ledger, open_("D1", "R1", actor="admin"), "not_authorized", actor="admin")
    refused(ledger, resolve("D1"), "unknown_reference", field="dispute_id", ref="D1")
    applied(ledger, open_("D1", "R1"))
    refused(ledger, open_("D1", "S1"), "duplicate_id", kind="dispute", ref="D1")


def test_resolve_dispute_by_finance_or_director_never_the_opener_and_only_once(ledger):
    _company(ledger)
    all_applied(ledger, [open_("D1", "R1"), open_("D2", "C1", actor="dir"), open_("D3", "S1", actor="fin")])
    for who in ("mgr", "sa"):
        refused(ledger, resolve("D1", actor=who), "not_authorized", actor=who,
                required=["director", "finance"])
    refused(ledger, resolve("D1", actor="aud"), "not_authorized", actor="aud",
            required=["OpenDispute"])  # an auditor writes nothing but disputes
    refused(ledger, resolve("D2", actor="dir"), "segregation_of_duties", field="actor", user="dir")
    refused(ledger, resolve("D3", actor="fin"), "segregation_of_duties", user="fin")
    refused(ledger, resolve("D1", outcome="maybe"), "invalid_field", field="outcome")
    # the correcting command must be an applied one (SPEC 2.7)
    fix = applied(ledger, cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1",
                              amount=100, received_on="2024-04-01"))["command_id"]
    before = ledger.max_position()
    result = applied(ledger, resolve("D1", outcome="rejected", correction_command_id=fix))["result"]
    assert result == {"dispute_id": "D1", "status": "resolved", "outcome": "rejected"}
    (event,) = facts_after(ledger, before)
    assert topic_of(event) == "Dispute.Resolved"
    assert (event.outcome, event.resolved_by, event.correction_command_id) == ("rejected", "fin", fix)
    refused(ledger, resolve("D1", actor="dir"), "invalid_state", dispute_id="D1", status="resolved")
    applied(ledger, resolve("D2", actor="fin"))
    applied(ledger, resolve("D3", actor="dir2"))
    # order: segregation beats invalid_state; not_authorized beats segregation
    refused(ledger, resolve("D2", actor="dir"), "segregation_of_duties")
    refused(ledger, resolve("D1", actor="aud"), "not_authorized")


def test_a_blank_reason_or_claim_is_no_reason(ledger):
    """Every decision that SPEC 5.2 lists with a reason needs one: whitespace is none."""
    _company(ledger)
    all_applied(ledger, [
        cmd("SubmitExpense", "sa", expense_id="E1", budget_id="B1", amount=100, description="d",
            planned_on="2024-06-01"),
        open_("D1", "R1"),
    ])
    blank = "  \t"
    bodies = [
        cmd("FlagCustomerAtRisk", "fin", customer_id="C1", at_risk=True, reason=blank),
        cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=100, approved_by="mgr", reason=blank),
        cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1", amount=100, approved_by="dir",
            reason=blank),
        cmd("AdjustBudget", "fin", budget_id="B1", delta=100, approved_by="dir", reason=blank),
        cmd("RejectExpense", "mgr", expense_id="E1", reason=blank),
        resolve("D1", reason=blank),
    ]
    for body in bodies:
        refused(ledger, body, "invalid_field", field="reason")
    refused(ledger, open_("D2", "R1", claim=blank), "invalid_field", field="claim")
    # with a reason each is applied
    for body in bodies:
        applied(ledger, {**body, "command_id": body["command_id"] + "-again", "reason": "real reason"})
