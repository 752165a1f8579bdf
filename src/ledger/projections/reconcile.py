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
- ``commission_payable``: the statements of the months ended by the report date (their
  totals plus the fines they count), less the fines dated by then (a fine is posted on
  its own date, SPEC 3) and not reversed (a fine's reversal counts on the fine's date,
  SPEC 2.7), less the payouts paid by then and not reversed by then (commissions
  projection);
- ``marketing_expense:<category>``: the actual amounts of the spent expenses of the
  budgets of that category (budgets projection), and of the reversed spends paid by the
  report date and reversed after it, one check per category.

``--as-of D`` (SPEC 1): both sides count the facts whose business date is on or before D,
a join (an allocation, customer credit settling a sale) from the later of its two dates,
so the report is ok on every date. Every figure is in fen; ``difference`` = general_ledger - subledger; ``ok`` when every
difference is 0. Both sides are read in one transaction (a snapshot on SQLite; REPEATABLE
READ on PostgreSQL), so a catch-up committing meanwhile cannot split them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.domain.calendar import month
from ledger.domain.posting import (
    BAD_DEBT_EXPENSE,
    COMMISSION_PAYABLE,
    CUSTOMER_CREDIT,
    MARKETING_EXPENSE,
    RECEIVABLES,
    RECOVERY_INCOME,
    expense_account,
    statement_fines,
)
from ledger.projections.budgets import BudgetsProjection
from ledger.projections.commissions import CommissionsProjection
from ledger.projections.common import END_OF_TIME, fen_sum, from_json, parse_as_of
from ledger.projections.engine import Projector, Sql
from ledger.projections.general_ledger import GeneralLedger, account_balances, projection_of
from ledger.projections.receivables import ReceivablesProjection, sales_as_of


def _check(name: str, general_ledger: int, subledger: int) -> dict[str, Any]:
    return {"name": name, "general_ledger": general_ledger, "subledger": subledger,
            "difference": general_ledger - subledger}


def _debit_balance(sums: dict[str, tuple[int, int]], account: str) -> int:
    d, c = sums.get(account, (0, 0))
    return d - c


def commission_payable(sql: Sql, p: CommissionsProjection, upto: str = END_OF_TIME) -> int:
    """The commissions sub-ledger as of ``upto``: the totals of the statements of the
    months ended by then, each less what it carried in from an earlier negative month
    (that month booked it: SPEC 2.5), plus the fines each counts (a fine reduces the rep's
    balance on its own date, SPEC 3), less the fines dated by then, less the payouts paid
    by then."""
    accrued = sum(
        int(r["total"]) - int(r["carried"])
        + statement_fines(int(r["fines"]), from_json(r["lines"]) or [])
        for r in sql.all(f"SELECT period, total, carried, fines, lines FROM {p.t('statements')}")
        if month(r["period"]).last.isoformat() <= upto
    )
    fines = int(sql.scalar(f"SELECT {fen_sum('amount')} AS fines FROM {p.t('fines')} "
                           "WHERE day <= ?", (upto,)))
    # a reversed fine counts out on its own date, as the statements count it (SPEC 2.7)
    fines -= int(sql.scalar(f"SELECT {fen_sum('amount')} AS fines "
                            f"FROM {p.t('fine_reversals')} WHERE day <= ?", (upto,)))
    paid = int(sql.scalar(f"SELECT {fen_sum('amount')} AS paid FROM {p.t('payouts')} "
                          "WHERE day <= ?", (upto,)))
    # a reversed payout is payable again from the reversal's date (SPEC 2.7)
    paid -= int(sql.scalar(f"SELECT {fen_sum('amount')} AS paid "
                           f"FROM {p.t('payout_reversals')} WHERE day <= ?", (upto,)))
    return accrued - fines - paid


def reconcile(sql: Sql, projector: Projector, upto: str = END_OF_TIME) -> list[dict[str, Any]]:
    """The checks as of the business date ``upto`` (every fact by default)."""
    gl = projection_of(projector, GeneralLedger)
    rec = projection_of(projector, ReceivablesProjection)
    bud = projection_of(projector, BudgetsProjection)
    com = projection_of(projector, CommissionsProjection)
    sums = account_balances(sql, gl, None if upto == END_OF_TIME else upto)
    sales = sales_as_of(sql, rec, upto)
    credit = int(sql.scalar(f"SELECT {fen_sum('amount')} AS balance FROM {rec.t('credit')} "
                            "WHERE business_date <= ?", (upto,)))
    spent = {r["category"]: int(r["spent"]) for r in sql.all(
        f"SELECT b.category, {fen_sum('x.spent')} AS spent FROM {bud.t('expenses')} x "
        f"JOIN {bud.t('budgets')} b ON b.budget_id = x.budget_id "
        "WHERE x.status = ? AND x.paid_on <= ? GROUP BY b.category", ("spent", upto))}
    # a reversed spend counts from its paid_on until the reversal's date (SPEC 2.7)
    for r in sql.all(
        f"SELECT b.category, {fen_sum('CASE WHEN x.reversed_on <= ? THEN 0 ELSE x.amount END')} "
        f"AS spent FROM {bud.t('spend_reversals')} x JOIN {bud.t('budgets')} b "
        "ON b.budget_id = x.budget_id WHERE x.paid_on <= ? GROUP BY b.category", (upto, upto)):
        spent[r["category"]] = spent.get(r["category"], 0) + int(r["spent"])
    checks = [
        _check(RECEIVABLES, _debit_balance(sums, RECEIVABLES), sum(s.open for s in sales)),
        _check(CUSTOMER_CREDIT, -_debit_balance(sums, CUSTOMER_CREDIT), credit),
        _check("bad_debt_unrecovered",
               _debit_balance(sums, BAD_DEBT_EXPENSE) + _debit_balance(sums, RECOVERY_INCOME),
               sum(s.written_off for s in sales)),
        _check(COMMISSION_PAYABLE, -_debit_balance(sums, COMMISSION_PAYABLE),
               commission_payable(sql, com, upto)),
    ]
    categories = {a.split(":", 1)[1] for a in sums if a.startswith(f"{MARKETING_EXPENSE}:")}
    for category in sorted(categories | set(spent)):
        account = expense_account(category)
        checks.append(_check(account, _debit_balance(sums, account), spent.get(category, 0)))
    return checks


def query_reconcile(projector: Projector, as_of: date | str | None = None) -> dict[str, Any]:
    """SPEC 5.3 ``reconcile [--as-of D]``: ``{ok, as_of, checks: [{name, general_ledger,
    subledger, difference}]}``, every control account against its sub-ledger, as of the
    business date D (``as_of`` null: every fact the log holds)."""
    day = parse_as_of(as_of)
    upto = END_OF_TIME if day is None else day.isoformat()
    with projector.transaction(commit=False) as sql:
        if sql.is_postgres:
            sql.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        checks = reconcile(sql, projector, upto)
    return {"ok": all(c["difference"] == 0 for c in checks),
            "as_of": None if day is None else day.isoformat(), "checks": checks}
