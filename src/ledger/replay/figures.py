"""The figures finance disputes, read from any projector (live or sandbox) in one shape
so two sets can be compared (what-if, SPEC 4): ``{(projection, key, field): value}``.

- commission statements: every rep, every month with a statement or a counted fact;
  the statement's money fields (``commission`` … ``total``, ``paid``, ``balance``);
- receivables: every customer's ``open_total``, ``customer_credit``, ``written_off`` and
  ``recovered``, and every sale's ``open`` (key ``customer/sale``);
- budgets: every budget's ``allocated``, ``committed``, ``spent`` and ``remaining``.
"""

from __future__ import annotations

from typing import Any

from ledger.projections.budgets import query_budgets
from ledger.projections.commissions import (
    CommissionsProjection,
    projection_of,
    query_commission,
    statement_months,
)
from ledger.projections.engine import Projector
from ledger.projections.receivables import query_customers, query_receivables

Figures = dict[tuple[str, str, str], int]

STATEMENT_FIELDS = ("personal_sales", "commission", "morning_star_bonus", "opening_star_bonus",
                    "override", "adjustment", "carried", "clawback", "fines", "total", "paid",
                    "balance")
CUSTOMER_FIELDS = ("open_total", "customer_credit", "written_off", "recovered")
BUDGET_FIELDS = ("allocated", "committed", "spent", "remaining")


def rep_months(projector: Projector) -> dict[str, set[str]]:
    """Each rep's months worth a statement: closed months and months of their sales,
    returns, write-offs and fines."""
    p = projection_of(projector, CommissionsProjection)
    out: dict[str, set[str]] = {}
    with projector.transaction(commit=False) as sql:
        reps = {r["rep_key"]: r["rep_id"] for r in sql.all(
            f"SELECT rep_key, rep_id FROM {p.t('reps')}")}
        for rep_id in reps.values():
            out[rep_id] = set()
        for r in sql.all(f"SELECT rep_id, day FROM {p.t('sales')}"):
            out.setdefault(r["rep_id"], set()).add(str(r["day"])[:7])
        for r in sql.all(f"SELECT rep_key, day FROM {p.t('fines')}"):
            if r["rep_key"] in reps:
                out[reps[r["rep_key"]]].add(str(r["day"])[:7])
    for rep_id in out:
        out[rep_id] |= {m["period"] for m in statement_months(projector, rep_id)}
    return out


def figures(projector: Projector, months: dict[str, set[str]] | None = None) -> Figures:
    """Every figure of the three kinds; ``months`` (rep -> periods) widens the statements
    read (so both sides of a comparison read the same ones)."""
    found: Figures = {}
    wanted = rep_months(projector)
    for rep_id, periods in (months or {}).items():
        wanted.setdefault(rep_id, set()).update(periods)
    known_reps = set(rep_months(projector)) if months else set(wanted)
    for rep_id in sorted(wanted):
        if rep_id not in known_reps:
            continue
        for period in sorted(wanted[rep_id]):
            statement = query_commission(projector, rep_id, period)
            for field in STATEMENT_FIELDS:
                if isinstance(statement.get(field), int):
                    found[("commissions", f"{rep_id}/{period}", field)] = statement[field]
    for c in query_customers(projector)["customers"]:
        for field in CUSTOMER_FIELDS:
            found[("receivables", c["customer_id"], field)] = int(c[field])
        for item in query_receivables(projector, c["customer_id"])["items"]:
            found[("receivables", f"{c['customer_id']}/{item['sale_id']}", "open")] = int(item["open"])
    for b in query_budgets(projector)["budgets"]:
        for field in BUDGET_FIELDS:
            found[("budgets", b["budget_id"], field)] = int(b[field])
    return found


def differences(live: Figures, other: Figures) -> list[dict[str, Any]]:
    """``[{projection, key, field, live, what_if, difference}]`` for every figure that
    differs (a figure missing on one side counts as 0 there), sorted."""
    out = []
    for key in sorted(set(live) | set(other)):
        a, b = live.get(key, 0), other.get(key, 0)
        if a != b:
            projection, entity, field = key
            out.append({"projection": projection, "key": entity, "field": field, "live": a,
                        "what_if": b, "difference": b - a})
    return out
