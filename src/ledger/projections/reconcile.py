"""Reconciliation: each control account of the general ledger against its sub-ledger
(SPEC 3 General ledger, SPEC 5.3 ``reconcile``).

The two sides come from different projections that read the same events independently:
the general ledger's postings on one side, and on the other

- ``receivables``: the sum of the per-sale open amounts (receivables projection);
- ``customer_credit``: the sum of the per-customer credit balances (receivables
  projection, its ``credit`` movements);
- ``bad_debt_unrecovered``: the written-off amounts not yet recovered nor cancelled by
  a return, per sale (receivables projection), against bad-debt expense (write-offs less
  what returns cancelled) less bad-debt recovery income;
- ``commission_payable``: per rep, the closed statements' totals less the payouts
  (commissions projection);
- ``marketing_expense:<category>``: the actual amounts of the spent expenses of the
  budgets of that category (budgets projection), one check per category.

Every figure is in fen; ``difference`` = general_ledger - subledger; ``ok`` when every
difference is 0. Both sides are read in one transaction (a snapshot on SQLite; REPEATABLE
READ on PostgreSQL), so a catch-up committing meanwhile cannot split them.
"""

from __future__ import annotations

from typing import Any

from ledger.projections.budgets import BudgetsProjection
from ledger.projections.commissions import CommissionsProjection, commission_accounts
from ledger.projections.common import END_OF_TIME, fen_sum
from ledger.projections.engine import Projector, Sql
from ledger.projections.general_ledger import (
    BAD_DEBT_EXPENSE, COMMISSION_PAYABLE, CUSTOMER_CREDIT, MARKETING_EXPENSE, RECEIVABLES,
    RECOVERY_INCOME, GeneralLedger, account_balances, expense_account, projection_of,
)
from ledger.projections.receivables import ReceivablesProjection, sales_as_of


def _check(name: str, general_ledger: int, subledger: int) -> dict[str, Any]:
    return {"name": name, "general_ledger": general_ledger, "subledger": subledger,
            "difference": general_ledger - subledger}


def _debit_balance(sums: dict[str, tuple[int, int]], account: str) -> int:
    d, c = sums.get(account, (0, 0))
    return d - c


def reconcile(sql: Sql, projector: Projector) -> list[dict[str, Any]]:
    gl = projection_of(projector, GeneralLedger)
    rec = projection_of(projector, ReceivablesProjection)
    bud = projection_of(projector, BudgetsProjection)
    projection_of(projector, CommissionsProjection)
    sums = account_balances(sql, gl)
    sales = sales_as_of(sql, rec, END_OF_TIME)
    credit = sql.all(f"SELECT customer_id, {fen_sum('amount')} AS balance "
                     f"FROM {rec.t('credit')} GROUP BY customer_id")
    commissions = commission_accounts(projector, sql)
    spent = {r["category"]: int(r["spent"]) for r in sql.all(
        f"SELECT b.category, {fen_sum('x.spent')} AS spent FROM {bud.t('expenses')} x "
        f"JOIN {bud.t('budgets')} b ON b.budget_id = x.budget_id WHERE x.status = ? "
        "GROUP BY b.category", ("spent",))}
    checks = [
        _check(RECEIVABLES, _debit_balance(sums, RECEIVABLES), sum(s.open for s in sales)),
        _check(CUSTOMER_CREDIT, -_debit_balance(sums, CUSTOMER_CREDIT),
               sum(int(r["balance"]) for r in credit)),
        _check("bad_debt_unrecovered",
               _debit_balance(sums, BAD_DEBT_EXPENSE) + _debit_balance(sums, RECOVERY_INCOME),
               sum(s.written_off for s in sales)),
        _check(COMMISSION_PAYABLE, -_debit_balance(sums, COMMISSION_PAYABLE),
               sum(a["balance"] for a in commissions.values())),
    ]
    categories = {a.split(":", 1)[1] for a in sums if a.startswith(f"{MARKETING_EXPENSE}:")}
    for category in sorted(categories | set(spent)):
        account = expense_account(category)
        checks.append(_check(account, _debit_balance(sums, account), spent.get(category, 0)))
    return checks


def query_reconcile(projector: Projector) -> dict[str, Any]:
    """SPEC 5.3 ``reconcile``: ``{ok, checks: [{name, general_ledger, subledger,
    difference}]}``, every control account against its sub-ledger."""
    with projector.transaction(commit=False) as sql:
        if sql.is_postgres:
            sql.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        checks = reconcile(sql, projector)
    return {"ok": all(c["difference"] == 0 for c in checks), "checks": checks}
