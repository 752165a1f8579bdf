"""Marketing budgets and expenses (SPEC 2.4).

Figures of a budget: allocated = allocation + approved adjustments; committed = approved
amounts of approved expenses not yet spent; spent = actual amounts of spent expenses;
remaining = allocated - committed - spent; utilisation = (committed + spent) / allocated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from ledger.domain.errors import Rejection
from ledger.domain.money import exact, format_rate

SUBMITTED, APPROVED, SPENT, REJECTED = "submitted", "approved", "spent", "rejected"


@dataclass
class Expense:
    expense_id: str
    amount: int
    description: str
    planned_on: date
    filed_on: date
    activity: bool
    submitted_by: str
    status: str = SUBMITTED
    approved_amount: int = 0
    approved_by: str | None = None
    spent: int = 0
    reason: str | None = None
    paid_on: date | None = None  # the spend's date, while spent


@dataclass(frozen=True)
class Figures:
    allocated: int
    committed: int
    spent: int

    @property
    def remaining(self) -> int:
        return self.allocated - self.committed - self.spent

    @property
    def utilisation(self) -> Fraction:
        return utilisation(self.allocated, self.committed, self.spent)


def utilisation(allocated: int, committed: int, spent: int) -> Fraction:
    """(committed + spent) / allocated, exactly (SPEC 2.4); 0 for a budget with nothing
    allocated. Readers format it (``decimal_text``); they never recompute it with floats."""
    return Fraction(committed + spent, allocated) if allocated else Fraction(0)


def check_state(expense: Expense, allowed: tuple[str, ...], action: str) -> None:
    if expense.status not in allowed:
        raise Rejection(
            "invalid_state",
            f"cannot {action} expense {expense.expense_id!r}: it is {expense.status} "
            f"(needs {' or '.join(allowed)})",
            expense_id=expense.expense_id, status=expense.status, allowed=list(allowed),
        )


def is_late_activity(expense: Expense, policy: dict[str, Any]) -> bool:
    """A marketing activity filed fewer than ``activity_notice_days`` days before it."""
    return expense.activity and (expense.planned_on - expense.filed_on).days < policy["activity_notice_days"]


def check_late_activity(expense: Expense, approver_roles: frozenset[str], policy: dict[str, Any],
                        late_approvers: frozenset[str]) -> bool:
    """A late activity filing may only be approved by a director (SPEC 2.4; the roles are
    the ``approvals.late_activity`` policy)."""
    if not is_late_activity(expense, policy):
        return False
    if not approver_roles & late_approvers:
        notice = (expense.planned_on - expense.filed_on).days
        raise Rejection(
            "late_activity_filing",
            f"activity {expense.expense_id!r} was filed {notice} days before it "
            f"(at least {policy['activity_notice_days']} required); only a director may approve it",
            expense_id=expense.expense_id, filed_on=expense.filed_on.isoformat(),
            planned_on=expense.planned_on.isoformat(), notice_days=notice,
            required_days=policy["activity_notice_days"],
        )
    return True


def check_within_budget(figures: Figures, extra: int, budget_id: str, action: str) -> None:
    """Committed + spent may never pass allocated (确保费用不超支)."""
    needed = figures.committed + figures.spent + extra
    if needed > figures.allocated:
        raise Rejection(
            "budget_exceeded",
            f"{action} would take committed + spent of budget {budget_id!r} to {needed} fen, "
            f"above allocated {figures.allocated} by {needed - figures.allocated}",
            budget_id=budget_id, allocated=figures.allocated, committed=figures.committed,
            spent=figures.spent, requested=extra, shortfall=needed - figures.allocated,
        )


def check_spend_tolerance(expense: Expense, amount: int, policy: dict[str, Any]) -> None:
    tolerance = exact(policy["spend_tolerance"])
    ceiling = expense.approved_amount * (1 + tolerance)
    if amount > ceiling:
        raise Rejection(
            "spend_over_approval",
            f"spend of {amount} fen is more than {format_rate(tolerance)} above the approved "
            f"{expense.approved_amount} fen (at most {int(ceiling)}); spending more needs a new expense",
            expense_id=expense.expense_id, amount=amount, approved=expense.approved_amount,
            tolerance=format_rate(tolerance), ceiling=int(ceiling),
        )
