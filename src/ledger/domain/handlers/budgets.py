"""Budgets and expenses: allocate, adjust, file, approve, reject, spend (SPEC 2.4)."""

from __future__ import annotations

from typing import Any

from ledger.domain import authority
from ledger.domain.budgeting import (
    APPROVED,
    SUBMITTED,
    Figures,
    check_late_activity,
    check_spend_tolerance,
    check_state,
    check_within_budget,
)
from ledger.domain.calendar import parse_period
from ledger.domain.commands import (
    AdjustBudget,
    AllocateBudget,
    ApproveExpense,
    RecordExpenseSpend,
    RejectExpense,
    SubmitExpense,
)
from ledger.domain.errors import invalid
from ledger.domain.handlers.context import Context, require_text
from ledger.domain.model import Budget


def allocate_budget(ctx: Context) -> dict[str, Any]:
    cmd: AllocateBudget = ctx.cmd  # type: ignore[assignment]
    try:
        parse_period(cmd.period)
    except ValueError as e:
        raise invalid("period", str(e)) from None
    policy = ctx.policy("budget")
    if cmd.category not in policy.values["categories"]:
        raise invalid("category", f"unknown category {cmd.category!r}",
                      allowed=list(policy.values["categories"]))
    ctx.actor()
    approver = ctx.user(cmd.approved_by, "approved_by")
    ctx.absent(Budget, cmd.budget_id, "budget")
    actor = ctx.authorize()
    authority.check_approver("a budget", approver.user_id, approver.roles,
                             ctx.approvers("AllocateBudget"))
    ctx.approval("approved_by", approver.user_id, ("budget",), cmd.budget_id, cmd.amount)
    authority.check_segregation(approver.user_id, actor=actor.user_id, what="a budget")
    ctx.uow.add(Budget(
        budget_id=cmd.budget_id, department=cmd.department, category=cmd.category,
        period=cmd.period, amount=cmd.amount, approved_by=approver.user_id, meta=ctx.meta,
    ))
    return {"budget_id": cmd.budget_id, "allocated": cmd.amount}


def adjust_budget(ctx: Context) -> dict[str, Any]:
    cmd: AdjustBudget = ctx.cmd  # type: ignore[assignment]
    if cmd.delta == 0:
        raise invalid("delta", "must not be zero")
    require_text(cmd.reason, "reason")
    ctx.actor()
    budget = ctx.require(Budget, cmd.budget_id, "budget_id")
    approver = ctx.user(cmd.approved_by, "approved_by")
    actor = ctx.authorize()
    authority.check_approver("a budget adjustment", approver.user_id, approver.roles,
                             ctx.approvers("AdjustBudget"))
    ctx.approval("approved_by", approver.user_id, ("budget",), cmd.budget_id, abs(cmd.delta))
    authority.check_segregation(approver.user_id, actor=actor.user_id, what="a budget adjustment")
    figures = budget.figures
    if cmd.delta < 0:
        # allocated may not fall below committed + spent
        check_within_budget(Figures(figures.allocated + cmd.delta, figures.committed, figures.spent),
                            0, cmd.budget_id, f"an adjustment of {cmd.delta} fen")
    budget.adjust(delta=cmd.delta, approved_by=approver.user_id, reason=cmd.reason, meta=ctx.meta)
    ctx.uow.add(budget)
    return {"budget_id": cmd.budget_id, "allocated": budget.figures.allocated}


def submit_expense(ctx: Context) -> dict[str, Any]:
    cmd: SubmitExpense = ctx.cmd  # type: ignore[assignment]
    ctx.actor()
    budget = ctx.require(Budget, cmd.budget_id, "budget_id")
    ctx.unclaimed("expense", cmd.expense_id)
    actor = ctx.authorize()
    budget.submit(
        expense_id=cmd.expense_id, amount=cmd.amount, description=cmd.description,
        planned_on=cmd.planned_on.isoformat(), filed_on=ctx.day.isoformat(),
        activity=cmd.activity, submitted_by=actor.user_id, meta=ctx.meta,
    )
    ctx.claim("expense", cmd.expense_id, "budget", cmd.budget_id)
    ctx.uow.add(budget)
    return {"expense_id": cmd.expense_id, "status": SUBMITTED}


def _expense_budget(ctx: Context, expense_id: str) -> Budget:
    claim = ctx.owner("expense", expense_id, "expense_id")
    return ctx.require(Budget, claim.owner_id, "expense_id")


def approve_expense(ctx: Context) -> dict[str, Any]:
    cmd: ApproveExpense = ctx.cmd  # type: ignore[assignment]
    ctx.actor()
    budget = _expense_budget(ctx, cmd.expense_id)
    actor = ctx.authorize()
    expense = budget.expenses[cmd.expense_id]
    authority.check_segregation(actor.user_id, actor=expense.submitted_by,
                                what=f"expense {cmd.expense_id!r} they submitted", field="actor")
    check_state(expense, (SUBMITTED,), "approve")
    policy = ctx.policy("budget")
    late = check_late_activity(expense, frozenset(actor.roles), policy.values,
                               ctx.approvers("late_activity"))
    check_within_budget(budget.figures, expense.amount, budget.budget_id,
                        f"approving expense {cmd.expense_id!r} of {expense.amount} fen")
    budget.approve(expense_id=cmd.expense_id, approved_by=actor.user_id, amount=expense.amount,
                   late_activity=late, policy={"budget": policy.version}, meta=ctx.meta)
    ctx.uow.add(budget)
    return {"expense_id": cmd.expense_id, "status": APPROVED, "late_activity": late,
            "remaining": budget.figures.remaining}


def reject_expense(ctx: Context) -> dict[str, Any]:
    cmd: RejectExpense = ctx.cmd  # type: ignore[assignment]
    require_text(cmd.reason, "reason")
    ctx.actor()
    budget = _expense_budget(ctx, cmd.expense_id)
    actor = ctx.authorize()
    expense = budget.expenses[cmd.expense_id]
    check_state(expense, (SUBMITTED, APPROVED), "reject")
    released = expense.approved_amount if expense.status == APPROVED else 0
    budget.reject(expense_id=cmd.expense_id, reason=cmd.reason, released=released,
                  rejected_by=actor.user_id, meta=ctx.meta)
    ctx.uow.add(budget)
    return {"expense_id": cmd.expense_id, "status": "rejected", "released": released}


def record_expense_spend(ctx: Context) -> dict[str, Any]:
    cmd: RecordExpenseSpend = ctx.cmd  # type: ignore[assignment]
    ctx.actor()
    budget = _expense_budget(ctx, cmd.expense_id)
    ctx.authorize()
    expense = budget.expenses[cmd.expense_id]
    check_state(expense, (APPROVED,), "spend")
    policy = ctx.policy("budget", cmd.paid_on)
    check_spend_tolerance(expense, cmd.amount, policy.values)
    figures = budget.figures
    # checked with its actual amount in place of this expense's own commitment
    check_within_budget(
        Figures(figures.allocated, figures.committed - expense.approved_amount, figures.spent),
        cmd.amount, budget.budget_id, f"spending {cmd.amount} fen on expense {cmd.expense_id!r}",
    )
    budget.spend(expense_id=cmd.expense_id, amount=cmd.amount, invoice_no=cmd.invoice_no,
                 paid_on=cmd.paid_on.isoformat(), released=expense.approved_amount,
                 policy={"budget": policy.version}, meta=ctx.meta)
    ctx.uow.add(budget)
    return {"expense_id": cmd.expense_id, "status": "spent", "remaining": budget.figures.remaining}
