"""The demo's summary: what a finance lead and an auditor want to see first (issue 5).

Aging by class and bucket, budget utilisation, the last closed month's top commission
statements, the reconciliation of every control account, the late-reported count, and
how many events the log holds. Read from the projections only.
"""

from __future__ import annotations

import time
from datetime import date
from fractions import Fraction
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from ledger.bootstrap import Runtime
from ledger.domain.budgeting import utilisation
from ledger.domain.money import format_fen


def demo_summary(runtime: Runtime, report: dict[str, Any], out: Console, err: Console,
                 as_of: date | None = None) -> dict[str, Any]:
    from ledger.projections.aging import query_aging, query_dso
    from ledger.projections.audit import late_reported_count
    from ledger.projections.budgets import query_budgets
    from ledger.projections.commissions import last_closed, top_statements
    from ledger.projections.reconcile import query_reconcile

    projector = runtime.projector()
    started = time.perf_counter()
    projector.catch_up(batch_size=2000)
    seconds = time.perf_counter() - started
    events = runtime.position()

    aging = query_aging(projector, as_of)
    dso = query_dso(projector, as_of)
    table = Table(title=f"Receivables aging as of {aging['as_of']} (open total "
                        f"{format_fen(aging['total'])}, DSO {dso.get('dso', '-')} days)")
    table.add_column("class")
    table.add_column("amount", justify="right", no_wrap=True)
    for name, amount in aging["classes"].items():
        table.add_row(name, format_fen(amount))
    out.print(table)
    # one row per bucket: seven figures side by side do not fit 80 columns untruncated
    buckets = Table(title="Open receivables by days past due")
    buckets.add_column("days past due", no_wrap=True)
    buckets.add_column("amount", justify="right", no_wrap=True)
    for name, amount in aging["buckets"].items():
        buckets.add_row(name, format_fen(amount))
    out.print(buckets)

    budgets = query_budgets(projector)
    totals = budgets["totals"]
    used = totals["committed"] + totals["spent"]
    share = utilisation(totals["allocated"], totals["committed"], totals["spent"])
    util = Table(title=f"Marketing budgets: {format_fen(used)} of {format_fen(totals['allocated'])} "
                       f"committed or spent ({_percent(share, 1)}); the fullest lines")
    util.add_column("budget", overflow="fold")
    for col in ("allocated", "committed", "spent", "remaining", "used"):
        util.add_column(col, justify="right", no_wrap=True)
    def used_share(b: dict[str, Any]) -> Fraction:
        return utilisation(b["allocated"], b["committed"], b["spent"])

    fullest = sorted(budgets["budgets"], key=lambda b: -used_share(b))
    for b in fullest[:6]:
        util.add_row(b["budget_id"], format_fen(b["allocated"]), format_fen(b["committed"]),
                     format_fen(b["spent"]), format_fen(b["remaining"]),
                     _percent(used_share(b), 0))
    out.print(util)

    last = last_closed(projector)
    if last:
        top = top_statements(projector, last, 5)
        stm = Table(title=f"Top commission statements, {last} (payable {top[0]['payable_on'] if top else '-'})",
                    box=box.SIMPLE_HEAD)
        stm.add_column("rep", overflow="fold")
        stm.add_column("rank", no_wrap=True, min_width=4)
        for col in ("sales", "commission", "bonuses", "override", "total"):
            stm.add_column(col, justify="right", no_wrap=True)
        for s in top:
            stm.add_row(s["rep_id"], s["rank"], format_fen(s["personal_sales"]),
                        format_fen(s["commission"]),
                        format_fen(s["morning_star_bonus"] + s["opening_star_bonus"]),
                        format_fen(s["override"]), format_fen(s["total"]))
        out.print(stm)

    rec = query_reconcile(projector)
    rt = Table(title=f"Reconciliation: {'OK' if rec['ok'] else 'DIFFERENCES FOUND'}")
    rt.add_column("control account", overflow="fold")  # names fold; figures never truncate
    for col in ("general ledger", "sub-ledger", "difference"):
        rt.add_column(col, justify="right", no_wrap=True)
    for c in rec["checks"]:
        rt.add_row(c["name"], format_fen(c["general_ledger"]), format_fen(c["subledger"]),
                   format_fen(c["difference"]))
    out.print(rt)

    late = late_reported_count(projector)
    out.print(f"[bold]{events:,}[/] events in the log; [bold]{late}[/] reported late "
              f"(more than the reporting policy's hours after they occurred); "
              f"{report['applied']:,} commands applied, {len(report['rejected'])} rejected "
              "(nothing stored for them).")
    if report["rejected"]:
        rej = Table(title="Rejected commands")
        for col in ("line", "command_id", "rule", "message"):
            rej.add_column(col)
        for r in report["rejected"][:10]:
            rej.add_row(str(r["line"]), str(r["command_id"]), r["rule"], r["message"])
        out.print(rej)
    return {"events": events, "projection_seconds": seconds, "reconciled": rec["ok"], "late": late}


def _percent(share: Fraction, places: int) -> str:
    """An exact share as a percentage rounded half up (``domain.budgeting.utilisation``)."""
    from decimal import ROUND_HALF_UP, Decimal

    value = Decimal(share.numerator * 100) / Decimal(share.denominator)
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)}%"
