"""Budgets and their expenses (SPEC 2.4). The budget is the consistency boundary for
committed + spent: every approval, spend and adjustment loads and saves it."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.budgeting import APPROVED, REJECTED, SPENT, Expense, Figures
from ledger.domain.ids import aggregate_id


class Budget(Aggregate):
    TOPIC = "ledger:Budget"
    KIND = "budget"

    class Created(Aggregate.Created):
        TOPIC = "ledger:Budget.Created"

    @staticmethod
    def create_id(budget_id: str) -> UUID:
        return aggregate_id(Budget.KIND, budget_id)

    class Allocated(Aggregate.Created):
        TOPIC = "ledger:Budget.Allocated"
        budget_id: str
        department: str
        category: str
        period: str
        amount: int
        approved_by: str
        meta: dict[str, Any]

    @event(Allocated)
    def __init__(self, budget_id: str, department: str, category: str, period: str, amount: int,
                 approved_by: str, meta: dict[str, Any]) -> None:
        self.budget_id = budget_id
        self.department = department
        self.category = category
        self.period = period
        self.allocation = amount
        self.adjustments = 0
        self.expenses: dict[str, Expense] = {}

    @property
    def figures(self) -> Figures:
        committed = sum(e.approved_amount for e in self.expenses.values() if e.status == APPROVED)
        spent = sum(e.spent for e in self.expenses.values() if e.status == SPENT)
        return Figures(self.allocation + self.adjustments, committed, spent)

    class Adjusted(Aggregate.Event):
        TOPIC = "ledger:Budget.Adjusted"
        delta: int
        approved_by: str
        reason: str
        meta: dict[str, Any]

    @event(Adjusted)
    def adjust(self, delta: int, approved_by: str, reason: str, meta: dict[str, Any]) -> None:
        self.adjustments += delta

    class ExpenseSubmitted(Aggregate.Event):
        TOPIC = "ledger:Budget.ExpenseSubmitted"
        expense_id: str
        amount: int
        description: str
        planned_on: str
        filed_on: str
        activity: bool
        submitted_by: str
        meta: dict[str, Any]

    @event(ExpenseSubmitted)
    def submit(self, expense_id: str, amount: int, description: str, planned_on: str,
               filed_on: str, activity: bool, submitted_by: str, meta: dict[str, Any]) -> None:
        self.expenses[expense_id] = Expense(
            expense_id=expense_id, amount=amount, description=description,
            planned_on=date.fromisoformat(planned_on), filed_on=date.fromisoformat(filed_on),
            activity=activity, submitted_by=submitted_by,
        )

    class ExpenseApproved(Aggregate.Event):
        TOPIC = "ledger:Budget.ExpenseApproved"
        expense_id: str
        approved_by: str
        amount: int
        late_activity: bool
        policy: dict[str, str]
        meta: dict[str, Any]

    @event(ExpenseApproved)
    def approve(self, expense_id: str, approved_by: str, amount: int, late_activity: bool,
                policy: dict[str, str], meta: dict[str, Any]) -> None:
        e = self.expenses[expense_id]
        e.status, e.approved_amount, e.approved_by = APPROVED, amount, approved_by

    class ExpenseRejected(Aggregate.Event):
        TOPIC = "ledger:Budget.ExpenseRejected"
        expense_id: str
        reason: str
        released: int
        rejected_by: str
        meta: dict[str, Any]

    @event(ExpenseRejected)
    def reject(self, expense_id: str, reason: str, released: int, rejected_by: str,
               meta: dict[str, Any]) -> None:
        e = self.expenses[expense_id]
        e.status, e.reason = REJECTED, reason

    class ExpenseSpent(Aggregate.Event):
        TOPIC = "ledger:Budget.ExpenseSpent"
        expense_id: str
        amount: int
        invoice_no: str
        paid_on: str
        released: int
        policy: dict[str, str]
        meta: dict[str, Any]

    @event(ExpenseSpent)
    def spend(self, expense_id: str, amount: int, invoice_no: str, paid_on: str, released: int,
              policy: dict[str, str], meta: dict[str, Any]) -> None:
        e = self.expenses[expense_id]
        e.status, e.spent = SPENT, amount
        e.paid_on = date.fromisoformat(paid_on)

    class SpendReversed(Aggregate.Event):
        TOPIC = "ledger:Budget.SpendReversed"
        reversal_id: str
        expense_id: str
        target_command_id: str
        amount: int
        paid_on: str
        restored: int
        reason: str
        approved_by: str
        policy: dict[str, str]
        meta: dict[str, Any]

    @event(SpendReversed)
    def reverse_spend(self, reversal_id: str, expense_id: str, target_command_id: str,
                      amount: int, paid_on: str, restored: int, reason: str,
                      approved_by: str, policy: dict[str, str], meta: dict[str, Any]) -> None:
        """An expense spend undone (SPEC 2.7): the expense is approved again and its
        commitment (``restored``, its approved amount) is back; ``amount`` is no longer spent."""
        e = self.expenses[expense_id]
        e.status, e.spent, e.paid_on = APPROVED, 0, None
