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
from ledger.projections.common import decimal_text, fen_sum, report_date
from ledger.projections.engine import Projector
from ledger.projections.receivables import (
    ReceivablesProjection,
    aging_policy,
    at_risk_customers,
    projection_of,
    sales_as_of,
)


def query_aging(projector: Projector, as_of: date | str | None = None) -> dict[str, Any]:
    """``ledger query aging [--as-of D]`` (SPEC 5.3): ``{as_of, total, classes, buckets}``.

    ``total`` and ``buckets`` count open amounts only; ``classes`` splits the open amounts
    into ``receivable``, ``in_collection`` and ``doubtful`` (an at-risk customer's open
    amounts are doubtful) and reports in ``bad_debt`` what has been written off and not
    recovered (nor cancelled by a return of the goods). Every class and bucket is present,
    0 when empty; the buckets are named by the ``bucket_limits`` of the aging policy in
    force on the report date (SPEC 2.3).
    """
    p = projection_of(projector, ReceivablesProjection)
    day, upto = report_date(projector, as_of)
    with projector.transaction(commit=False) as sql:
        sales = sales_as_of(sql, p, upto)
        at_risk = at_risk_customers(sql, p, upto)
        policy = aging_policy(sql, p, day)
    classes = dict.fromkeys(CLASSES, 0)
    buckets = dict.fromkeys(bucket_names(policy), 0)
    for s in sales:
        classes["bad_debt"] += s.written_off
        if s.open > 0:
            dpd = days_past_due(date.fromisoformat(s.due_on), day)
            classes[receivable_class(dpd, s.customer_id in at_risk, policy)] += s.open
            buckets[aging_bucket(dpd, policy)] += s.open
    return {"as_of": day.isoformat(), "total": sum(buckets.values()), "classes": classes,
            "buckets": buckets}


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
