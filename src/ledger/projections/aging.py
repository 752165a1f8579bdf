"""Aging (SPEC 2.3 classes and buckets, SPEC 3 aging report and DSO, SPEC 5.3 ``aging``).

The company report as of any business date, by class and by bucket, and days sales
outstanding. A view over the receivables projection's dated rows (``receivables.py``
keeps the tables): nothing is replayed to answer "as of 30 June".
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.domain.receivables import (
    CLASSES,
    aging_bucket,
    bucket_names,
    days_past_due,
    days_sales_outstanding,
    receivable_class,
)
from ledger.domain.receivables import dso_window as window_of
from ledger.projections.common import decimal_text, fen_sum, report_date, to_json
from ledger.projections.engine import Projector, Sql
from ledger.projections.receivables import (
    ReceivablesProjection,
    aging_policy,
    at_risk_customers,
    projection_of,
)


def query_aging(projector: Projector, as_of: date | str | None = None) -> dict[str, Any]:
    """``ledger query aging [--as-of D]`` (SPEC 5.3): ``{as_of, total, classes, buckets}``.

    ``total`` and ``buckets`` count open amounts only; ``classes`` splits the open amounts
    into ``receivable``, ``in_collection`` and ``doubtful`` (an at-risk customer's open
    amounts are doubtful) and reports in ``bad_debt`` what has been written off and not
    recovered (nor cancelled by a return of the goods). Every class and bucket is present,
    0 when empty; the buckets are named by the ``bucket_limits`` of the aging policy in
    force on the report date (SPEC 2.3).

    The database sums: per sale its open and unrecovered amounts as of the date, then
    those that are positive by due date and by whether the customer is at risk; the
    domain's rules class and bucket each of those few sums (a sale's days past due are
    its due date's).
    """
    p = projection_of(projector, ReceivablesProjection)
    day, upto = report_date(projector, as_of)
    with projector.transaction(commit=False) as sql:
        at_risk = at_risk_customers(sql, p, upto)
        policy = aging_policy(sql, p, day)
        groups = open_by_due_date(sql, p, upto, at_risk)
    classes = dict.fromkeys(CLASSES, 0)
    buckets = dict.fromkeys(bucket_names(policy), 0)
    for due_on, risky, open_amount, written_off in groups:
        classes["bad_debt"] += written_off
        if open_amount > 0:
            dpd = days_past_due(date.fromisoformat(due_on), day)
            classes[receivable_class(dpd, risky, policy)] += open_amount
            buckets[aging_bucket(dpd, policy)] += open_amount
    return {"as_of": day.isoformat(), "total": sum(buckets.values()), "classes": classes,
            "buckets": buckets}


def open_by_due_date(sql: Sql, p: ReceivablesProjection, upto: str,
                     at_risk: set[str]) -> list[tuple[str, bool, int, int]]:
    """``(due_on, at_risk, open, written_off)``: over the sales invoiced on or before
    ``upto``, the sum of each sale's open amount and of its written-off amount not yet
    recovered, as of ``upto`` (the movements dated on or before it), each counted only
    when positive (as ``sales_as_of`` figures them), by due date and by whether the
    sale's customer is in ``at_risk``.

    Read from the ``balances`` rows, never from every sale: a sale none of whose movements
    is dated after ``upto`` holds as of ``upto`` what it holds now, so only the sales with
    something open or written off now count among those (the partial index
    ``balances_open``); a sale with movements dated after ``upto`` holds its sums less
    theirs (the index ``balances_last``, then those movements only)."""
    risky, params = _among_customers(sql, "x.customer_id", at_risk)
    b, m = p.t("balances"), p.t("movements")
    rows = sql.all(
        f"SELECT x.due_on, {risky} AS risky, "
        f"{fen_sum('CASE WHEN x.open_amount > 0 THEN x.open_amount ELSE 0 END')} AS open_amount, "
        f"{fen_sum('CASE WHEN x.unrecovered > 0 THEN x.unrecovered ELSE 0 END')} AS written_off "
        "FROM ("
        f"SELECT b.due_on, b.customer_id, b.open_amount, b.unrecovered FROM {b} b "
        "WHERE (b.open_amount > 0 OR b.unrecovered > 0) AND b.last_date <= ? "
        "AND b.invoice_date <= ? "
        "UNION ALL "
        "SELECT b.due_on, b.customer_id, "
        "b.open_amount - SUM(m.open_delta) AS open_amount, "
        "b.unrecovered - SUM(m.unrecovered_delta) AS unrecovered "
        f"FROM {b} b JOIN {m} m ON m.sale_id = b.sale_id AND m.business_date > ? "
        "WHERE b.last_date > ? AND b.invoice_date <= ? "
        "GROUP BY b.sale_id, b.due_on, b.customer_id, b.open_amount, b.unrecovered"
        ") x GROUP BY 1, 2",  # by the select list's due date and at-risk mark
        (*params, upto, upto, upto, upto, upto),
    )
    return [(r["due_on"], bool(r["risky"]), int(r["open_amount"]), int(r["written_off"]))
            for r in rows]


def _among_customers(sql: Sql, column: str, customers: set[str]) -> tuple[str, tuple[Any, ...]]:
    """An SQL expression, 1 when ``column`` is one of ``customers`` else 0, and its
    parameters (one: the ids as an array on PostgreSQL, as a JSON array on SQLite)."""
    if not customers:
        return "0", ()
    ids = sorted(customers)
    if sql.is_postgres:
        return f"CASE WHEN {column} = ANY(?) THEN 1 ELSE 0 END", (ids,)
    return (f"CASE WHEN {column} IN (SELECT value FROM json_each(?)) THEN 1 ELSE 0 END",
            (to_json(ids),))


def dso_text(open_total: int, gross_sales: int, window_days: int) -> str | None:
    """DSO (``receivables.days_sales_outstanding``) in days, as a decimal string rounded
    half away from zero to 0.01 day; None without sales."""
    dso = days_sales_outstanding(open_total, gross_sales, window_days)
    return None if dso is None else decimal_text(dso, 2)


def dso_window(day: date, window_days: int) -> tuple[str, str]:
    """The ``window_days`` days up to and including ``day`` (``receivables.dso_window``),
    as ISO dates."""
    first, last = window_of(day, window_days)
    return first.isoformat(), last.isoformat()


def query_dso(projector: Projector, as_of: date | str | None = None) -> dict[str, Any]:
    """Days sales outstanding as of D (SPEC 3): open receivables at D / gross sales
    invoiced in the ``aging.dso_window_days`` days up to D (D included) x those days.

    ``{as_of, open_total, gross_sales, window_days, window_from, dso}``; ``dso`` is a
    decimal string of days (``"45.5"``), null when the window holds no sales.
    """
    p = projection_of(projector, ReceivablesProjection)
    day, upto = report_date(projector, as_of)
    with projector.transaction(commit=False) as sql:
        window = int(aging_policy(sql, p, day)["dso_window_days"])
        first, last = dso_window(day, window)
        open_total = int(sql.scalar(
            f"SELECT {fen_sum('m.open_delta')} AS open_total FROM {p.t('movements')} m "
            f"JOIN {p.t('sales')} s ON s.sale_id = m.sale_id "
            "WHERE s.invoice_date <= ? AND m.business_date <= ?", (upto, upto),
        ))
        gross = int(sql.scalar(
            f"SELECT {fen_sum('gross')} AS gross FROM {p.t('sales')} "
            "WHERE invoice_date >= ? AND invoice_date <= ?", (first, last),
        ))
    return {"as_of": day.isoformat(), "open_total": open_total, "gross_sales": gross,
            "window_days": window, "window_from": first, "dso": dso_text(open_total, gross, window)}
