"""Reverse (SPEC 2.7, 5.2): a payment, a fine, an expense spend or a commission payout is
undone by a new event that names the command it reverses; every other command, and a
second reversal, is ``invalid_state``; the rules answer in the order of SPEC 5.2. Also
ResolveDispute's ``correction_command_id`` must name an applied command."""

from __future__ import annotations

from support import (
    all_applied, applied, at, cmd, customer_state, facts_after, refused, sale, setup_company,
    topic_of,
)


def pay(payment_id: str, amount: int, *, day: str = "2024-04-01", customer: str = "C1",
        allocations: list[tuple[str, int]] | None = None, **extra):
    body = cmd("RecordPayment", "fin", payment_id=payment_id, customer_id=customer,
               amount=amount, received_on=day, **at(day), **extra)
    if allocations is not None:
        body["allocations"] = [{"sale_id": s, "amount": a} for s, a in allocations]
    return body


def reverse(target: dict, reversal_id: str = "V1", *, approved_by: str = "dir",
            actor: str = "fin", day: str = "2024-04-10", reason: str = "recorded by mistake"):
    extra = {} if target["actor"] == actor else {"target_actor": target["actor"]}
    return cmd("Reverse", actor, reversal_id=reversal_id, target_command_id=target["command_id"],
               reason=reason, approved_by=approved_by, **extra, **at(day))


def _opens(ledger) -> dict[str, tuple[int, str]]:
    return {sid: (r.open, r.due_on.isoformat())
            for sid, r in customer_state(ledger, "C1").receivables.items()}


# --- payments ----------------------------------------------------------------------------


def test_payment_reversal_reopens_fifo_settlements_with_due_dates_and_removes_its_credit(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1, day="2024-03-01"), sale("S2", 2, day="2024-03-05")])
    p1 = pay("P1", 35_000)  # S1 10,000 + S2 20,000 FIFO, 5,000 credit
    assert applied(ledger, p1)["result"]["to_credit"] == 5_000
    assert _opens(ledger) == {"S1": (0, "2024-03-31"), "S2": (0, "2024-04-04")}
    before = ledger.max_position()
    answer = applied(ledger, reverse(p1))
    assert answer["result"] == {
        "reversal_id": "V1", "target_command_id": p1["command_id"], "reversed": "RecordPayment",
        "payment": "P1", "amount": 35_000,
        "reopened": [{"sale_id": "S1", "open_before": 0, "open": 10_000, "due_on": "2024-03-31"},
                     {"sale_id": "S2", "open_before": 0, "open": 20_000, "due_on": "2024-04-04"}],
        "recoveries_reversed": 0, "credit_removed": 5_000, "closed_period": False,
    }
    facts = facts_after(ledger, before)
    assert [topic_of(e) for e in facts] == ["Customer.PaymentReversed"]
    e = facts[0]
    assert (e.payment_id, e.amount, e.credit_removed, e.approved_by, e.reason) == (
        "P1", 35_000, 5_000, "dir", "recorded by mistake")
    assert e.policy == {"approvals": "default"}
    assert e.reopened == [{"sale_id": "S1", "amount": 10_000, "kind": "fifo"},
                          {"sale_id": "S2", "amount": 20_000, "kind": "fifo"}]
    assert _opens(ledger) == {"S1": (10_000, "2024-03-31"), "S2": (20_000, "2024-04-04")}
    customer = customer_state(ledger, "C1")
    assert (customer.credit, customer.open_total) == (0, 30_000)
    # the reopened sales are open to FIFO again, oldest due first
    assert applied(ledger, pay("P2", 12_000, day="2024-04-11"))["result"]["applied"] == [
        {"sale_id": "S1", "amount": 10_000, "kind": "fifo"},
        {"sale_id": "S2", "amount": 2_000, "kind": "fifo"}]


def test_payment_reversal_unrecovers_a_recovery(ledger):
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 1, day="2024-03-01"),
        cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1", amount=10_000,
            approved_by="dir", reason="bankrupt", **at("2024-03-20")),
    ])
    p1 = pay("P1", 4_000, allocations=[("S1", 4_000)])
    applied(ledger, p1)
    assert customer_state(ledger, "C1").receivables["S1"].unrecovered == 6_000
    result = applied(ledger, reverse(p1))["result"]
    assert (result["recoveries_reversed"], result["reopened"]) == (4_000, [])
    item = customer_state(ledger, "C1").receivables["S1"]
    assert (item.open, item.unrecovered, item.recovered) == (0, 10_000, 0)


def test_payment_credit_used_since_is_exceeds_open_amount(ledger):
    setup_company(ledger)
    p1 = pay("P1", 8_000)  # no open items: all credit
    applied(ledger, p1)
    applied(ledger, sale("S1", 1, day="2024-04-02"))  # credit 8,000 settles most of S1
    assert customer_state(ledger, "C1").credit == 0
    refused(ledger, reverse(p1), "exceeds_open_amount", credit_created=8_000,
            credit_balance=0, used=8_000)


def test_payment_whose_sale_was_returned_to_credit_since_cannot_be_reversed(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1, day="2024-03-01"))
    p1 = pay("P1", 10_000)
    applied(ledger, p1)
    applied(ledger, cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=10_000,
                        approved_by="mgr", reason="damaged", **at("2024-04-05")))
    # the return's 10,000 credit came from P1's money; removing P1 would leave a
    # returned sale open again
    refused(ledger, reverse(p1), "exceeds_open_amount", sale_id="S1",
            returned_to_credit=10_000, paid_after=0)


def test_reversal_dated_before_the_payment_is_invalid(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1, day="2024-03-01"))
    p1 = pay("P1", 1_000)
    applied(ledger, p1)
    refused(ledger, reverse(p1, day="2024-03-31"), "invalid_field", field="occurred_at",
            target_date="2024-04-01")


# --- the order of the rules --------------------------------------------------------------


def test_rules_in_spec_order(ledger):
    setup_company(ledger)
    s1 = sale("S1", 1)
    applied(ledger, s1)
    p1 = pay("P1", 1_000)
    applied(ledger, p1)
    refused(ledger, {**reverse(p1), "reason": " "}, "invalid_field", field="reason")
    refused(ledger, cmd("Reverse", "fin", reversal_id="V1", target_command_id="nope",
                        reason="x", approved_by="dir"),
            "unknown_reference", kind="command", field="target_command_id")
    refused(ledger, reverse(p1, approved_by="ghost"), "unknown_reference", field="approved_by")
    refused(ledger, reverse(p1, actor="sa"), "not_authorized")
    refused(ledger, reverse(p1, approved_by="mgr"), "not_authorized", required=["director"])
    refused(ledger, reverse(p1, approved_by="fin2"), "not_authorized")
    # a sale is not reversible
    answer = refused(ledger, reverse(s1), "invalid_state", command="RecordSale")
    assert "RecordPayment" in answer["message"]
    applied(ledger, reverse(p1, "V1"))
    # twice: invalid_state, naming the first reversal; the id again: duplicate_id
    refused(ledger, reverse(p1, "V2"), "invalid_state", reversal_id="V1")
    refused(ledger, reverse(p1, "V1"), "duplicate_id")
    # a reversal is not reversible either
    v = reverse(s1, "V3")
    v["target_command_id"] = ledger.execute_one(reverse(p1, "V9"))["command_id"]
    refused(ledger, v, "unknown_reference")  # a rejected command has no record


def test_reversing_a_reversal_is_invalid_state(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1))
    p1 = pay("P1", 1_000)
    applied(ledger, p1)
    v1 = reverse(p1, "V1")
    applied(ledger, v1)
    refused(ledger, reverse(v1, "V2"), "invalid_state", command="Reverse")


def test_approver_may_not_be_the_actor(ledger):
    setup_company(ledger)
    all_applied(ledger, [cmd("RegisterUser", "admin", user_id="fd", name="FD",
                             roles=["finance", "director"])])
    applied(ledger, sale("S1", 1))
    p1 = pay("P1", 1_000)
    applied(ledger, p1)
    refused(ledger, reverse(p1, actor="fd", approved_by="fd"), "segregation_of_duties")


# --- fines, spends, payouts --------------------------------------------------------------


def test_fine_reversal_needs_a_manager_and_not_the_reps_own_user(ledger):
    setup_company(ledger)
    all_applied(ledger, [cmd("RegisterUser", "admin", user_id="mgr_rep", name="MR",
                             roles=["manager"]),
                         cmd("RegisterRep", "sa", rep_id="R3", name="R3", region="east",
                             user_id="mgr_rep")])
    f1 = cmd("FineRep", "fin", fine_id="F1", rep_id="R2", amount=2_000, reason="late report",
             approved_by="mgr", **at("2024-03-10"))
    f3 = cmd("FineRep", "fin", fine_id="F3", rep_id="R3", amount=500, reason="late report",
             approved_by="mgr", **at("2024-03-10"))
    all_applied(ledger, [f1, f3])
    refused(ledger, reverse(f1, approved_by="sa"), "not_authorized", required=["director", "manager"])
    refused(ledger, reverse(f3, approved_by="mgr_rep"), "segregation_of_duties")
    before = ledger.max_position()
    result = applied(ledger, reverse(f1, approved_by="mgr"))["result"]
    assert result == {"reversal_id": "V1", "target_command_id": f1["command_id"],
                      "reversed": "FineRep", "fine": "F1", "rep_id": "R2", "amount": 2_000,
                      "period": "2024-03", "closed_period": False}
    (e,) = facts_after(ledger, before)
    assert topic_of(e) == "Rep.FineReversed"
    assert (e.fine_id, e.amount, e.fined_on, e.closed_period) == ("F1", 2_000, "2024-03-10", False)


def _budget_company(ledger, allocated: int = 100_000):
    setup_company(ledger)
    all_applied(ledger, [
        cmd("AllocateBudget", "fin", budget_id="B1", department="mkt", category="advertising",
            period="2024", amount=allocated, approved_by="dir", **at("2024-01-02")),
        cmd("SubmitExpense", "sa", expense_id="E1", budget_id="B1", amount=60_000,
            description="ads", planned_on="2024-03-01", **at("2024-01-10")),
        cmd("ApproveExpense", "mgr", expense_id="E1", **at("2024-01-11")),
    ])


def test_spend_reversal_approves_the_expense_again_with_its_commitment(ledger):
    from support import budget_state
    _budget_company(ledger)
    spend = cmd("RecordExpenseSpend", "fin", expense_id="E1", amount=55_000, invoice_no="I-1",
                paid_on="2024-03-02", **at("2024-03-02"))
    applied(ledger, spend)
    f = budget_state(ledger, "B1").figures
    assert (f.allocated, f.committed, f.spent, f.remaining) == (100_000, 0, 55_000, 45_000)
    refused(ledger, reverse(spend, approved_by="mgr"), "not_authorized", required=["director"])
    result = applied(ledger, reverse(spend, day="2024-03-20"))["result"]
    assert (result["amount"], result["restored"], result["remaining"]) == (55_000, 60_000, 40_000)
    budget = budget_state(ledger, "B1")
    f = budget.figures
    assert (f.committed, f.spent, f.remaining) == (60_000, 0, 40_000)
    assert budget.expenses["E1"].status == "approved"
    # approved again: it can be spent again
    applied(ledger, cmd("RecordExpenseSpend", "fin", expense_id="E1", amount=50_000,
                        invoice_no="I-2", paid_on="2024-03-21", **at("2024-03-21")))
    refused(ledger, reverse(spend, "V2", day="2024-03-22"), "invalid_state")


def test_spend_reversal_that_would_overspend_is_budget_exceeded(ledger):
    _budget_company(ledger)
    spend = cmd("RecordExpenseSpend", "fin", expense_id="E1", amount=50_000, invoice_no="I-1",
                paid_on="2024-03-02", **at("2024-03-02"))
    all_applied(ledger, [
        spend,
        cmd("SubmitExpense", "sa", expense_id="E2", budget_id="B1", amount=45_000,
            description="more ads", planned_on="2024-04-01", **at("2024-03-03")),
        cmd("ApproveExpense", "mgr", expense_id="E2", **at("2024-03-04")),
    ])
    # committed 45,000 + spent 50,000; with E1's 60,000 back: 105,000 > 100,000
    refused(ledger, reverse(spend), "budget_exceeded", allocated=100_000, shortfall=5_000)


def test_payout_reversal_makes_the_period_payable_again(ledger):
    from ledger.domain.model import Rep
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 200, day="2024-03-05", rep="R1")])
    applied(ledger, cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01")))
    rep = ledger.app.repository.get(Rep.create_id("R1"))
    payable = rep.payable_for("2024-03")
    assert payable == 307_692 + 400_000  # 20,000 yuan x 0.9 / 1.17 x 20% + SM 晨星
    payout = cmd("PayCommission", "fin", payout_id="PO1", rep_id="R1", period="2024-03",
                 amount=payable, paid_on="2024-05-10", **at("2024-05-10"))
    applied(ledger, payout)
    result = applied(ledger, reverse(payout, day="2024-05-11"))["result"]
    assert (result["period"], result["amount"], result["balance"]) == ("2024-03", payable, payable)
    rep = ledger.app.repository.get(Rep.create_id("R1"))
    assert rep.payable_for("2024-03") == payable


# --- ResolveDispute.correction_command_id ------------------------------------------------


def test_dispute_correction_must_name_an_applied_command(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1))
    p1 = pay("P1", 1_000)
    all_applied(ledger, [p1, cmd("OpenDispute", "aud", dispute_id="D1", entity="C1",
                                 claim="payment P1 was another customer's")])
    resolve = cmd("ResolveDispute", "fin", dispute_id="D1", outcome="upheld", reason="yes",
                  correction_command_id="no-such-command")
    refused(ledger, resolve, "unknown_reference", field="correction_command_id",
            ref="no-such-command")
    rejected_one = ledger.execute_one(reverse(p1, approved_by="mgr"))  # rejected: not applied
    refused(ledger, {**resolve, "command_id": "R-2",
                     "correction_command_id": rejected_one["command_id"]},
            "unknown_reference", field="correction_command_id")
    v1 = reverse(p1)
    applied(ledger, v1)
    applied(ledger, {**resolve, "command_id": "R-3", "correction_command_id": v1["command_id"]})


def test_in_one_batch_each_reversal_is_judged_on_the_state_before_it(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1, day="2024-03-01"))
    p1 = pay("P1", 10_000)
    v1, v2 = reverse(p1, "V1"), reverse(p1, "V2")
    answers = ledger.execute([p1, v1, v2])
    assert [a["status"] for a in answers] == ["applied", "applied", "rejected"]
    assert (answers[2]["rule"], answers[2]["details"]["reversal_id"]) == ("invalid_state", "V1")
    assert _opens(ledger)["S1"] == (10_000, "2024-03-31")


def test_a_reopened_sale_counts_as_doubtful_again_for_credit_control(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1, day="2024-03-01"))  # due 2024-03-31
    p1 = pay("P1", 10_000)
    applied(ledger, p1)
    applied(ledger, sale("S2", 1, day="2024-04-02"))  # credit control looks past settled S1
    applied(ledger, reverse(p1))
    # on 10 July S1 is 101 days past due again: doubtful, so a new sale needs an override
    answer = refused(ledger, sale("S3", 1, day="2024-07-10"), "credit_limit")
    assert answer["details"]["doubtful"] == 10_000


def test_reversal_approvers_are_the_approvals_policy(ledger):
    from ledger.domain.policies import DEFAULT_POLICIES
    setup_company(ledger)
    fine = cmd("FineRep", "fin", fine_id="F1", rep_id="R1", amount=500, reason="late report",
               approved_by="mgr", **at("2024-03-10"))
    applied(ledger, fine)
    values = {**DEFAULT_POLICIES["approvals"], "reversal_fine": ["director"]}
    applied(ledger, cmd("AdoptPolicy", "dir", policy="approvals", version="fines-by-directors",
                        effective_from="2024-03-15", values=values))
    refused(ledger, reverse(fine, approved_by="mgr", day="2024-03-20"), "not_authorized",
            required=["director"])
    before = ledger.max_position()
    applied(ledger, reverse(fine, approved_by="dir", day="2024-03-20"))
    (e,) = facts_after(ledger, before)
    assert e.policy == {"approvals": "fines-by-directors"}


def test_two_writers_reversing_the_same_payment_one_wins(ledger, fresh_database):
    """Each writer its own Ledger on the same store, both judging the same state: the
    second save meets the first's claim on the target and is replayed into invalid_state."""
    from test_concurrency import race, statuses, topics_in_log
    setup_company(ledger)
    applied(ledger, sale("S1", 1, day="2024-03-01"))
    p1 = pay("P1", 10_000)
    applied(ledger, p1)
    answers, conflicts = race(fresh_database, [reverse(p1, "V1"), reverse(p1, "V2")])
    assert statuses(answers) == [("applied", None), ("rejected", "invalid_state")], answers
    assert conflicts >= 1
    assert topics_in_log(ledger, "ledger:Customer.PaymentReversed") == 1
    assert customer_state(ledger, "C1").receivables["S1"].open == 10_000


def test_a_reversal_finds_another_users_command_by_its_id_alone(ledger):
    """SPEC 2.7: Reverse names the applied command it corrects by its command_id; the
    payment was recorded by the sales admin, the reversal is finance's."""
    from support import applied, cmd, sale, setup_company

    setup_company(ledger)
    applied(ledger, sale("S1", 2))
    payment = {**cmd("RecordPayment", "sa", payment_id="P1", customer_id="C1",
                     amount=5_000, received_on="2024-03-06", **at("2024-03-06")),
               "command_id": "pay-by-sa"}
    applied(ledger, payment)
    answer = applied(ledger, cmd("Reverse", "fin", reversal_id="V1",
                                 target_command_id="pay-by-sa", reason="bank returned it",
                                 approved_by="dir", **at("2024-03-07")))
    assert answer["result"]["reversed"] == "RecordPayment"
    assert answer["result"]["payment"] == "P1"
    # when two users used the id, the reversal must say whose command it means
    other = {**cmd("RecordPayment", "fin", payment_id="P2", customer_id="C1", amount=1_000,
                   received_on="2024-03-06", **at("2024-03-06")), "command_id": "pay-by-sa"}
    applied(ledger, other)
    refused = ledger.execute_one(cmd("Reverse", "fin", reversal_id="V2",
                                     target_command_id="pay-by-sa", reason="typo",
                                     approved_by="dir", **at("2024-03-07")))
    assert refused["rule"] == "invalid_field" and refused["details"]["field"] == "target_actor"
    assert refused["details"]["actors"] == ["fin", "sa"]
    applied(ledger, cmd("Reverse", "fin", reversal_id="V3", target_command_id="pay-by-sa",
                        target_actor="fin", reason="typo", approved_by="dir",
                        **at("2024-03-07")))
