"""Budgets projection (SPEC 2.4, SPEC 3 Budgets, SPEC 5.3 ``budget``).

Tables (``budgets_<table>_g<n>``):

- ``budgets``: one row per budget line (department x category x period) with its
  allocation and the running sum of its approved adjustments;
- ``adjustments``: each approved adjustment (delta, approver, reason, business date);
- ``expenses``: one row per expense with its status (``submitted``, ``approved``,
  ``spent``, ``rejected``), requested, approved and spent amounts, approver, invoice,
  dates and the rejection reason;
- ``spend_reversals``: each reversed spend (SPEC 2.7) with the date it was paid and the
  reversal's business date, so the spend counts as of the dates in between (the
  reconciliation as of a date) though the expense is approved again.

The figures are the domain's (``ledger.domain.budgeting.Figures``): allocated =
allocation + adjustments; committed = approved amounts of approved expenses; spent = the
actual amounts of spent expenses; remaining = allocated - committed - spent; utilisation =
(committed + spent) / allocated.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ledger.domain.budgeting import APPROVED, REJECTED, SPENT, SUBMITTED, Figures
from ledger.domain.model import (
    ApprovalGrants,
    Budget,
    Claim,
    Closings,
    CommandRecord,
    Customer,
    Dispute,
    PolicyBook,
    Rep,
    Sku,
    User,
)
from ledger.domain.reporting import event_day
from ledger.projections.common import Dispatching, decimal_text, expect_rows
from ledger.projections.engine import Projector, Sql
from ledger.projections.errors import unknown
from ledger.projections.receivables import projection_of

STATUSES = (SUBMITTED, APPROVED, SPENT, REJECTED)


class BudgetsProjection(Dispatching):
    name = "budgets"
    handlers: ClassVar[dict[type, str]] = {
        Budget.Allocated: "_allocated",
        Budget.Adjusted: "_adjusted",
        Budget.ExpenseSubmitted: "_submitted",
        Budget.ExpenseApproved: "_approved",
        Budget.ExpenseRejected: "_rejected",
        Budget.ExpenseSpent: "_spent",
        Budget.SpendReversed: "_spend_reversed",
    }
    # stored events it does not read (tests/projections/test_event_coverage.py)
    ignores: ClassVar[frozenset[type]] = frozenset({
        ApprovalGrants.Opened, ApprovalGrants.Granted, ApprovalGrants.Used, Claim.Claimed,
        Closings.Opened, Closings.MonthClosed, CommandRecord.Recorded,
        CommandRecord.RecordedFor, Customer.Registered, Customer.CreditTermsSet,
        Customer.AtRiskFlagged, Customer.SaleRecorded, Customer.ReturnRecorded,
        Customer.PaymentRecorded, Customer.PaymentReversed, Customer.ReceivableWrittenOff,
        Dispute.Opened, Dispute.Resolved, PolicyBook.Opened, PolicyBook.PolicyAdopted,
        Rep.Registered, Rep.RankChanged, Rep.Fined, Rep.CommissionAccrued,
        Rep.CommissionPaid, Rep.FineReversed, Rep.PayoutReversed, Sku.Opened,
        Sku.ListPriceSet, User.Registered,
    })
    tables: ClassVar[dict[str, str]] = {
        "budgets": "budget_id TEXT PRIMARY KEY, origin TEXT NOT NULL UNIQUE, "
                   "department TEXT NOT NULL, category TEXT NOT NULL, period TEXT NOT NULL, "
                   "allocation BIGINT NOT NULL, adjustments BIGINT NOT NULL, "
                   "approved_by TEXT NOT NULL, allocated_on TEXT NOT NULL, position BIGINT NOT NULL",
        "adjustments": "position BIGINT PRIMARY KEY, budget_id TEXT NOT NULL, delta BIGINT NOT NULL, "
                       "approved_by TEXT NOT NULL, reason TEXT NOT NULL, business_date TEXT NOT NULL",
        "expenses": "expense_id TEXT PRIMARY KEY, budget_id TEXT NOT NULL, amount BIGINT NOT NULL, "
                    "description TEXT NOT NULL, planned_on TEXT NOT NULL, filed_on TEXT NOT NULL, "
                    "activity INTEGER NOT NULL, submitted_by TEXT NOT NULL, status TEXT NOT NULL, "
                    "approved_amount BIGINT NOT NULL, approved_by TEXT, approved_on TEXT, "
                    "late_activity INTEGER NOT NULL, spent BIGINT NOT NULL, invoice_no TEXT, "
                    "paid_on TEXT, rejected_by TEXT, rejected_on TEXT, reason TEXT, "
                    "position BIGINT NOT NULL",  # the submission's log position: filing order
        "spend_reversals": "position BIGINT PRIMARY KEY, expense_id TEXT NOT NULL, "
                           "budget_id TEXT NOT NULL, amount BIGINT NOT NULL, "
                           "paid_on TEXT NOT NULL, reversed_on TEXT NOT NULL",
    }
    indexes: ClassVar[dict[str, str]] = {
        "expenses_budget": "expenses(budget_id, status)",
        "adjustments_budget": "adjustments(budget_id)",
    }

    def _allocated(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('budgets')} (budget_id, origin, department, category, period, "
            "allocation, adjustments, approved_by, allocated_on, position) "
            "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            (e.budget_id, e.originator_id.hex, e.department, e.category, e.period, e.amount,
             e.approved_by, event_day(e), position),
        )

    def _adjusted(self, sql: Sql, position: int, e: Any) -> None:
        origin = e.originator_id.hex
        sql.execute(
            f"INSERT INTO {self.t('adjustments')} (position, budget_id, delta, approved_by, reason, "
            f"business_date) SELECT ?, budget_id, ?, ?, ?, ? FROM {self.t('budgets')} WHERE origin = ?",
            (position, e.delta, e.approved_by, e.reason, event_day(e), origin),
        )
        expect_rows(sql, 1, f"adjustment of budget {e.originator_id}")
        sql.execute(
            f"UPDATE {self.t('budgets')} SET adjustments = adjustments + ? WHERE origin = ?",
            (e.delta, origin),
        )

    def _submitted(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('expenses')} (expense_id, budget_id, amount, description, "
            "planned_on, filed_on, activity, submitted_by, status, approved_amount, late_activity, "
            f"spent, position) SELECT ?, budget_id, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ? "
            f"FROM {self.t('budgets')} WHERE origin = ?",
            (e.expense_id, e.amount, e.description, e.planned_on, e.filed_on, int(bool(e.activity)),
             e.submitted_by, SUBMITTED, position, e.originator_id.hex),
        )
        expect_rows(sql, 1, f"expense {e.expense_id}")

    def _approved(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"UPDATE {self.t('expenses')} SET status = ?, approved_amount = ?, approved_by = ?, "
            "approved_on = ?, late_activity = ? WHERE expense_id = ?",
            (APPROVED, e.amount, e.approved_by, event_day(e), int(bool(e.late_activity)),
             e.expense_id),
        )
        expect_rows(sql, 1, f"expense {e.expense_id}")

    def _rejected(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"UPDATE {self.t('expenses')} SET status = ?, rejected_by = ?, rejected_on = ?, "
            "reason = ? WHERE expense_id = ?",
            (REJECTED, e.rejected_by, event_day(e), e.reason, e.expense_id),
        )
        expect_rows(sql, 1, f"expense {e.expense_id}")

    def _spent(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"UPDATE {self.t('expenses')} SET status = ?, spent = ?, invoice_no = ?, paid_on = ? "
            "WHERE expense_id = ?",
            (SPENT, e.amount, e.invoice_no, e.paid_on, e.expense_id),
        )
        expect_rows(sql, 1, f"expense {e.expense_id}")

    def _spend_reversed(self, sql: Sql, position: int, e: Any) -> None:
        """A spend's reversal (SPEC 2.7): the expense is approved again, its commitment
        back, nothing spent; the spend kept with its dates."""
        sql.execute(
            f"INSERT INTO {self.t('spend_reversals')} (position, expense_id, budget_id, amount, "
            f"paid_on, reversed_on) SELECT ?, expense_id, budget_id, ?, ?, ? "
            f"FROM {self.t('expenses')} WHERE expense_id = ?",
            (position, e.amount, e.paid_on, event_day(e), e.expense_id),
        )
        expect_rows(sql, 1, f"expense {e.expense_id}")
        sql.execute(
            f"UPDATE {self.t('expenses')} SET status = ?, spent = 0, invoice_no = NULL, "
            "paid_on = NULL WHERE expense_id = ?",
            (APPROVED, e.expense_id),
        )
        expect_rows(sql, 1, f"expense {e.expense_id}")


# --- reading ---------------------------------------------------------------------------------


def _budget_figures(row: dict[str, Any], expenses: list[dict[str, Any]]) -> dict[str, Any]:
    allocation, adjustments = int(row["allocation"]), int(row["adjustments"])
    figures = Figures(
        allocated=allocation + adjustments,
        committed=sum(int(x["approved_amount"]) for x in expenses if x["status"] == APPROVED),
        spent=sum(int(x["spent"]) for x in expenses if x["status"] == SPENT),
    )
    by_status = {s: {"count": 0, "amount": 0} for s in STATUSES}
    for x in expenses:
        by_status[x["status"]]["count"] += 1
        by_status[x["status"]]["amount"] += int(x["amount"])
    return {
        "budget_id": row["budget_id"],
        "department": row["department"],
        "category": row["category"],
        "period": row["period"],
        "allocation": allocation,
        "adjustments": adjustments,
        "allocated": figures.allocated,
        "committed": figures.committed,
        "spent": figures.spent,
        "remaining": figures.remaining,
        "utilisation": decimal_text(figures.utilisation, 4),
        "by_status": by_status,
    }


def _expense_out(x: dict[str, Any]) -> dict[str, Any]:
    return {
        "expense_id": x["expense_id"], "status": x["status"], "amount": int(x["amount"]),
        "approved_amount": int(x["approved_amount"]), "spent": int(x["spent"]),
        "description": x["description"], "planned_on": x["planned_on"], "filed_on": x["filed_on"],
        "activity": bool(x["activity"]), "late_activity": bool(x["late_activity"]),
        "submitted_by": x["submitted_by"], "approved_by": x["approved_by"],
        "approved_on": x["approved_on"], "invoice_no": x["invoice_no"], "paid_on": x["paid_on"],
        "rejected_by": x["rejected_by"], "rejected_on": x["rejected_on"], "reason": x["reason"],
    }


def query_budget(projector: Projector, budget_id: str) -> dict[str, Any]:
    """``ledger query budget --budget B`` (SPEC 5.3).

    ``{budget_id, allocated, committed, spent, remaining, expenses}`` plus
    ``department``, ``category``, ``period``, ``allocation`` (the original allocation),
    ``adjustments`` (their sum) and ``adjustment_list``, ``utilisation`` ((committed +
    spent) / allocated as a decimal string, rounded half away from zero to 4 decimals;
    ``"0"`` for an empty allocation) and ``by_status`` (count and requested amount of
    the expenses in each status). ``expenses`` lists every expense in filing order:
    ``{expense_id, status, amount (requested), approved_amount, spent, ...}``.
    """
    p = projection_of(projector, BudgetsProjection)
    with projector.transaction(commit=False) as sql:
        row = sql.one(f"SELECT * FROM {p.t('budgets')} WHERE budget_id = ?", (budget_id,))
        if row is None:
            raise unknown("budget", budget_id, "budget")
        expenses = sql.all(f"SELECT * FROM {p.t('expenses')} WHERE budget_id = ? "
                           "ORDER BY position", (budget_id,))
        adjustments = sql.all(
            f"SELECT position, delta, approved_by, reason, business_date FROM {p.t('adjustments')} "
            "WHERE budget_id = ? ORDER BY position", (budget_id,),
        )
    out = _budget_figures(row, expenses)
    out["adjustment_list"] = [
        {"delta": int(a["delta"]), "approved_by": a["approved_by"], "reason": a["reason"],
         "date": a["business_date"]}
        for a in adjustments
    ]
    out["expenses"] = [_expense_out(x) for x in expenses]
    return out


def query_budgets(projector: Projector) -> dict[str, Any]:
    """Every budget line's figures (no expense list), with company totals:
    ``{budgets: [...], totals: {allocated, committed, spent, remaining}}``."""
    p = projection_of(projector, BudgetsProjection)
    with projector.transaction(commit=False) as sql:
        rows = sql.all(f"SELECT * FROM {p.t('budgets')} ORDER BY budget_id")
        expenses = sql.all(
            f"SELECT budget_id, status, amount, approved_amount, spent FROM {p.t('expenses')}"
        )
    per: dict[str, list[dict[str, Any]]] = {}
    for x in expenses:
        per.setdefault(x["budget_id"], []).append(x)
    budgets = [_budget_figures(r, per.get(r["budget_id"], [])) for r in rows]
    totals = {k: sum(b[k] for b in budgets) for k in ("allocated", "committed", "spent", "remaining")}
    return {"budgets": budgets, "totals": totals}
