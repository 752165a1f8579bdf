"""AllocateBudget, AdjustBudget, SubmitExpense, ApproveExpense, RejectExpense,
RecordExpenseSpend (SPEC 2.4, 5.2): every rule with a passing and a failing case."""

from __future__ import annotations

from support import (
    all_applied, applied, at, budget_state, cmd, facts_after, refused, setup_company, topic_of,
)


def allocate(budget_id: str = "B1", amount: int = 100_000, *, actor: str = "fin",
             approved_by: str = "dir", period: str = "2024-Q1", category: str = "promotion"):
    return cmd("AllocateBudget", actor, budget_id=budget_id, department="marketing",
               category=category, period=period, amount=amount, approved_by=approved_by,
               **at("2024-01-02"))


def submit(expense_id: str, amount: int, *, actor: str = "sa", budget_id: str = "B1",
           filed: str = "2024-01-10", planned_on: str = "2024-03-01", activity: bool = False):
    return cmd("SubmitExpense", actor, expense_id=expense_id, budget_id=budget_id, amount=amount,
               description=f"expense {expense_id}", planned_on=planned_on, activity=activity,
               **at(filed))


def approve(expense_id: str, actor: str = "mgr"):
    return cmd("ApproveExpense", actor, expense_id=expense_id, **at("2024-01-11"))


def reject(expense_id: str, actor: str = "mgr", reason: str = "not in plan"):
    return cmd("RejectExpense", actor, expense_id=expense_id, reason=reason, **at("2024-01-12"))


def spend(expense_id: str, amount: int, actor: str = "fin"):
    return cmd("RecordExpenseSpend", actor, expense_id=expense_id, amount=amount,
               invoice_no=f"FP-{expense_id}-{amount}", paid_on="2024-03-02", **at("2024-03-02"))


def figures(ledger, budget_id: str = "B1") -> tuple[int, int, int, int]:
    f = budget_state(ledger, budget_id).figures
    return f.allocated, f.committed, f.spent, f.remaining


def _company_with_budget(ledger, amount: int = 100_000) -> None:
    setup_company(ledger)
    applied(ledger, allocate("B1", amount))


# --- AllocateBudget -------------------------------------------------------------------------


def test_allocate_budget_by_finance_approved_by_director_for_each_period_form(ledger):
    setup_company(ledger)
    before = ledger.max_position()
    all_applied(ledger, [allocate("B1", period="2024"), allocate("B2", period="2024-Q2"),
                         allocate("B3", 5_000, period="2024-03", category="hospitality")])
    facts = facts_after(ledger, before)
    assert [topic_of(e) for e in facts] == ["Budget.Allocated"] * 3
    assert (facts[2].amount, facts[2].approved_by, facts[2].category, facts[2].period) == (
        5_000, "dir", "hospitality", "2024-03")
    assert figures(ledger, "B3") == (5_000, 0, 0, 5_000)


def test_allocate_budget_rules(ledger):
    setup_company(ledger)
    applied(ledger, cmd("RegisterUser", "admin", user_id="fd", name="FD", roles=["finance", "director"]))
    for period in ("2024-13", "Q1-2024", "24"):
        refused(ledger, allocate(period=period), "invalid_field", field="period")
    refused(ledger, allocate(category="parties"), "invalid_field", field="category")
    refused(ledger, allocate(amount=-1), "invalid_field", field="amount")
    for who in ("mgr", "fin2"):
        refused(ledger, allocate(approved_by=who), "not_authorized", field="approved_by",
                approver=who, required=["director"])
    for who in ("dir", "sa"):
        refused(ledger, allocate(actor=who), "not_authorized", actor=who, required=["finance"])
    refused(ledger, allocate(actor="fd", approved_by="fd"), "segregation_of_duties", user="fd")
    refused(ledger, allocate(approved_by="ghost"), "unknown_reference", field="approved_by")
    # none created B1
    refused(ledger, submit("E1", 1), "unknown_reference", field="budget_id", ref="B1")
    applied(ledger, allocate("B1", 7_000, actor="fd", approved_by="dir2"))
    refused(ledger, allocate("B1"), "duplicate_id", kind="budget", ref="B1")
    # order: duplicate_id beats the wrong actor role
    refused(ledger, allocate("B1", actor="sa"), "duplicate_id")
    assert figures(ledger) == (7_000, 0, 0, 7_000)


# --- AdjustBudget ---------------------------------------------------------------------------


def test_adjust_budget_up_and_down_to_exactly_committed_plus_spent(ledger):
    _company_with_budget(ledger)
    all_applied(ledger, [submit("E1", 60_000), approve("E1"), submit("E2", 30_000), approve("E2"),
                         spend("E2", 25_000)])
    assert figures(ledger) == (100_000, 60_000, 25_000, 15_000)
    body = dict(budget_id="B1", approved_by="dir", reason="trade fair cancelled")
    refused(ledger, cmd("AdjustBudget", "fin", delta=-15_001, **body), "budget_exceeded",
            budget_id="B1", allocated=84_999, committed=60_000, spent=25_000, shortfall=1)
    assert figures(ledger) == (100_000, 60_000, 25_000, 15_000)
    before = ledger.max_position()
    assert applied(ledger, cmd("AdjustBudget", "fin", delta=-15_000, **body))["result"]["allocated"] == 85_000
    (event,) = facts_after(ledger, before)
    assert topic_of(event) == "Budget.Adjusted"
    assert (event.delta, event.approved_by, event.reason) == (-15_000, "dir", "trade fair cancelled")
    assert applied(ledger, cmd("AdjustBudget", "fin", delta=20_000, **body))["result"]["allocated"] == 105_000
    assert figures(ledger) == (105_000, 60_000, 25_000, 20_000)


def test_adjust_budget_rules(ledger):
    _company_with_budget(ledger)
    applied(ledger, cmd("RegisterUser", "admin", user_id="fd", name="FD", roles=["finance", "director"]))
    adj = dict(budget_id="B1", delta=5_000, reason="more fairs")
    refused(ledger, cmd("AdjustBudget", "fin", approved_by="mgr", **adj), "not_authorized",
            field="approved_by", required=["director"])
    refused(ledger, cmd("AdjustBudget", "dir", approved_by="dir2", **adj), "not_authorized", actor="dir")
    refused(ledger, cmd("AdjustBudget", "fd", approved_by="fd", **adj), "segregation_of_duties", user="fd")
    refused(ledger, cmd("AdjustBudget", "fin", approved_by="dir", **{**adj, "reason": ""}),
            "invalid_field", field="reason")
    refused(ledger, cmd("AdjustBudget", "fin", approved_by="dir", **{**adj, "delta": 0}),
            "invalid_field", field="delta")
    refused(ledger, cmd("AdjustBudget", "fin", approved_by="dir", **{**adj, "budget_id": "B9"}),
            "unknown_reference", field="budget_id")
    # below zero with nothing committed is budget_exceeded too
    refused(ledger, cmd("AdjustBudget", "fin", approved_by="dir", **{**adj, "delta": -100_001}),
            "budget_exceeded", allocated=-1, shortfall=1)
    assert figures(ledger) == (100_000, 0, 0, 100_000)


# --- SubmitExpense --------------------------------------------------------------------------


def test_submit_expense_by_any_working_role(ledger):
    _company_with_budget(ledger)
    before = ledger.max_position()
    all_applied(ledger, [submit(f"E{i}", 1_000, actor=who)
                         for i, who in enumerate(("sa", "rep_user", "fin", "mgr", "dir"))])
    facts = facts_after(ledger, before)
    assert [topic_of(e) for e in facts] == ["Budget.ExpenseSubmitted"] * 5
    assert (facts[1].submitted_by, facts[1].filed_on, facts[1].planned_on, facts[1].amount) == (
        "rep_user", "2024-01-10", "2024-03-01", 1_000)
    # submitted, not approved: nothing is committed
    assert figures(ledger) == (100_000, 0, 0, 100_000)


def test_submit_expense_rules(ledger):
    _company_with_budget(ledger)
    for who in ("aud", "svc", "admin"):
        refused(ledger, submit("E1", 1_000, actor=who), "not_authorized", actor=who)
    refused(ledger, submit("E1", 0), "invalid_field", field="amount")
    refused(ledger, submit("E1", 1_000, planned_on="next week"), "invalid_field", field="planned_on")
    refused(ledger, submit("E1", 1_000, budget_id="B9"), "unknown_reference", field="budget_id")
    refused(ledger, approve("E1"), "unknown_reference", field="expense_id", ref="E1")
    applied(ledger, submit("E1", 1_000))
    refused(ledger, submit("E1", 2_000), "duplicate_id", kind="expense", ref="E1")
    assert budget_state(ledger, "B1").expenses["E1"].amount == 1_000


# --- ApproveExpense -------------------------------------------------------------------------


def test_approval_above_the_budget_is_budget_exceeded_with_the_shortfall(ledger):
    _company_with_budget(ledger)
    all_applied(ledger, [submit("E1", 60_000), approve("E1"), submit("E2", 40_001), submit("E3", 40_000)])
    refused(ledger, approve("E2"), "budget_exceeded", budget_id="B1", allocated=100_000,
            committed=60_000, spent=0, requested=40_001, shortfall=1)
    assert budget_state(ledger, "B1").expenses["E2"].status == "submitted"
    before = ledger.max_position()
    result = applied(ledger, approve("E3", actor="dir"))["result"]
    assert result == {"expense_id": "E3", "status": "approved", "late_activity": False, "remaining": 0}
    (event,) = facts_after(ledger, before)
    assert topic_of(event) == "Budget.ExpenseApproved"
    assert (event.approved_by, event.amount, event.late_activity, event.policy) == (
        "dir", 40_000, False, {"budget": "default"})
    assert figures(ledger) == (100_000, 100_000, 0, 0)


def test_approve_roles_segregation_and_states(ledger):
    _company_with_budget(ledger)
    all_applied(ledger, [submit("E1", 1_000, actor="mgr"), submit("E2", 1_000, actor="dir"),
                         submit("E3", 1_000), submit("E4", 1_000)])
    for who in ("fin", "sa"):
        refused(ledger, approve("E3", actor=who), "not_authorized", actor=who,
                required=["director", "manager"])
    refused(ledger, approve("E3", actor="aud"), "not_authorized", actor="aud",
            required=["OpenDispute"])
    refused(ledger, approve("E1", actor="mgr"), "segregation_of_duties", field="actor", user="mgr")
    refused(ledger, approve("E2", actor="dir"), "segregation_of_duties", user="dir")
    all_applied(ledger, [approve("E1", actor="mgr2"), approve("E2", actor="mgr"), approve("E3"),
                         reject("E4"), spend("E3", 1_000)])
    refused(ledger, approve("E1", actor="dir"), "invalid_state", expense_id="E1", status="approved")
    refused(ledger, approve("E3"), "invalid_state", status="spent")
    refused(ledger, approve("E4"), "invalid_state", status="rejected")
    # segregation beats invalid_state
    refused(ledger, approve("E1", actor="mgr"), "segregation_of_duties")
    assert figures(ledger) == (100_000, 2_000, 1_000, 97_000)


def test_late_activity_filing_manager_rejected_director_accepted(ledger):
    _company_with_budget(ledger)
    all_applied(ledger, [
        submit("A29", 1_000, filed="2024-01-10", planned_on="2024-02-08", activity=True),  # 29 days
        submit("A30", 1_000, filed="2024-01-10", planned_on="2024-02-09", activity=True),  # 30 days
        submit("N1", 1_000, filed="2024-01-10", planned_on="2024-01-11", activity=False),
    ])
    refused(ledger, approve("A29", actor="mgr"), "late_activity_filing", expense_id="A29",
            filed_on="2024-01-10", planned_on="2024-02-08", notice_days=29, required_days=30)
    assert applied(ledger, approve("A30", actor="mgr"))["result"]["late_activity"] is False
    assert applied(ledger, approve("N1", actor="mgr"))["result"]["late_activity"] is False
    before = ledger.max_position()
    assert applied(ledger, approve("A29", actor="dir"))["result"]["late_activity"] is True
    (event,) = facts_after(ledger, before)
    assert (event.late_activity, event.approved_by) == (True, "dir")


def test_late_activity_filing_comes_before_budget_exceeded(ledger):
    _company_with_budget(ledger, 1_000)
    applied(ledger, submit("A", 5_000, filed="2024-01-10", planned_on="2024-01-20", activity=True))
    refused(ledger, approve("A", actor="mgr"), "late_activity_filing", notice_days=10)
    refused(ledger, approve("A", actor="dir"), "budget_exceeded", shortfall=4_000)


# --- RejectExpense --------------------------------------------------------------------------


def test_reject_releases_the_commitment(ledger):
    _company_with_budget(ledger)
    all_applied(ledger, [submit("E1", 60_000), approve("E1"), submit("E2", 50_000)])
    refused(ledger, approve("E2"), "budget_exceeded", shortfall=10_000)
    before = ledger.max_position()
    result = applied(ledger, reject("E1", actor="fin", reason="event moved to Q2"))["result"]
    assert result == {"expense_id": "E1", "status": "rejected", "released": 60_000}
    (event,) = facts_after(ledger, before)
    assert topic_of(event) == "Budget.ExpenseRejected"
    assert (event.released, event.rejected_by, event.reason) == (60_000, "fin", "event moved to Q2")
    assert figures(ledger) == (100_000, 0, 0, 100_000)
    applied(ledger, approve("E2"))
    assert figures(ledger) == (100_000, 50_000, 0, 50_000)


def test_reject_rules(ledger):
    _company_with_budget(ledger)
    all_applied(ledger, [submit("E1", 1_000), submit("E2", 1_000), approve("E2"), spend("E2", 900),
                         submit("E3", 1_000)])
    for who in ("sa", "aud", "svc"):
        refused(ledger, reject("E1", actor=who), "not_authorized", actor=who)
    refused(ledger, reject("E1", reason=""), "invalid_field", field="reason")
    refused(ledger, reject("E9"), "unknown_reference", field="expense_id", ref="E9")
    refused(ledger, reject("E2"), "invalid_state", status="spent")
    applied(ledger, reject("E1", actor="dir"))  # a submitted expense: nothing to release
    refused(ledger, reject("E1"), "invalid_state", status="rejected")
    refused(ledger, spend("E1", 1_000), "invalid_state", status="rejected")
    assert figures(ledger) == (100_000, 0, 900, 99_100)
    assert budget_state(ledger, "B1").expenses["E3"].status == "submitted"


# --- RecordExpenseSpend ---------------------------------------------------------------------


def test_spend_tolerance_exactly_ten_percent_and_just_above(ledger):
    _company_with_budget(ledger)
    all_applied(ledger, [submit("E1", 60_000), approve("E1")])
    refused(ledger, spend("E1", 66_001), "spend_over_approval", expense_id="E1", amount=66_001,
            approved=60_000, tolerance="0.1", ceiling=66_000)
    before = ledger.max_position()
    assert applied(ledger, spend("E1", 66_000))["result"] == {
        "expense_id": "E1", "status": "spent", "remaining": 34_000}
    (event,) = facts_after(ledger, before)
    assert topic_of(event) == "Budget.ExpenseSpent"
    assert (event.amount, event.released, event.paid_on, event.invoice_no, event.policy) == (
        66_000, 60_000, "2024-03-02", "FP-E1-66000", {"budget": "default"})
    assert figures(ledger) == (100_000, 0, 66_000, 34_000)
    refused(ledger, spend("E1", 1), "invalid_state", status="spent")


def test_spend_is_checked_with_its_actual_in_place_of_its_own_commitment(ledger):
    _company_with_budget(ledger)
    all_applied(ledger, [submit("E1", 60_000), approve("E1"), submit("E2", 35_000), approve("E2")])
    # 35,000 committed (E2) + 66,000 actual for E1 = 101,000 > 100,000
    refused(ledger, spend("E1", 66_000), "budget_exceeded", budget_id="B1", allocated=100_000,
            committed=35_000, spent=0, requested=66_000, shortfall=1_000)
    # the expense stays approved: it can be spent again within the tolerance
    assert budget_state(ledger, "B1").expenses["E1"].status == "approved"
    assert figures(ledger) == (100_000, 95_000, 0, 5_000)
    applied(ledger, spend("E1", 65_000))
    assert figures(ledger) == (100_000, 35_000, 65_000, 0)
    # spend_over_approval comes before budget_exceeded
    refused(ledger, spend("E2", 40_000), "spend_over_approval", ceiling=38_500)
    refused(ledger, spend("E2", 35_001), "budget_exceeded", shortfall=1)


def test_after_a_rejected_spend_the_expense_can_be_withdrawn(ledger):
    _company_with_budget(ledger)
    all_applied(ledger, [submit("E1", 60_000), approve("E1")])
    refused(ledger, spend("E1", 70_000), "spend_over_approval")
    assert applied(ledger, reject("E1", reason="needs a new expense"))["result"]["released"] == 60_000
    assert figures(ledger) == (100_000, 0, 0, 100_000)


def test_spend_rules(ledger):
    _company_with_budget(ledger)
    all_applied(ledger, [submit("E1", 1_000), submit("E2", 1_000), approve("E2")])
    for who in ("mgr", "dir", "sa"):
        refused(ledger, spend("E2", 1_000, actor=who), "not_authorized", actor=who, required=["finance"])
    refused(ledger, spend("E1", 1_000), "invalid_state", status="submitted")
    refused(ledger, spend("E9", 1_000), "unknown_reference", field="expense_id")
    refused(ledger, spend("E2", 0), "invalid_field", field="amount")
    # order: not_authorized beats invalid_state
    refused(ledger, spend("E1", 1_000, actor="mgr"), "not_authorized")
    assert figures(ledger) == (100_000, 1_000, 0, 99_000)
