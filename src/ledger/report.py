"""The demo's summary: what a finance lead and an auditor want to see first (issue 5).

Aging by class and bucket, budget utilisation, the last closed month's top commission
statements, the reconciliation of every control account, the late-reported count, and
how many events the log holds. Read from the projections only.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from ledger.application import Ledger
from ledger.domain.money import format_fen
from ledger.projections.engine import projector_for


def demo_summary(ledger: Ledger, report: dict[str, Any], out: Console, err: Console) -> dict[str, Any]:
    from ledger.projections.audit import late_reported_count
    from ledger.projections.budgets import query_budgets
    from ledger.projections.commissions import top_statements
    from ledger.projections.aging import query_aging, query_dso
    from ledger.projections.reconcile import query_reconcile

    projector = projector_for(ledger)
    started = time.perf_counter()
    applied = projector.catch_up(batch_size=2000)
    seconds = time.perf_counter() - started
    events = ledger.max_position()
    err.print(f"projected {events:,} events ({applied:,} applications) in {seconds:.1f}s "
              f"= {events / seconds if seconds else 0:,.0f} events/s")

    aging = query_aging(projector)
    dso = query_dso(projector)
    table = Table(title=f"Receivables aging as of {aging['as_of']} (open total "
                        f"{format_fen(aging['total'])}, DSO {dso.get('dso', '-')} days)")
    table.add_column("class")
    table.add_column("amount", justify="right")
    for name, amount in aging["classes"].items():
        table.add_row(name, format_fen(amount))
    out.print(table)
    buckets = Table(title="Open receivables by days past due")
    for name in aging["buckets"]:
        buckets.add_column(name, justify="right")
    buckets.add_row(*(format_fen(v) for v in aging["buckets"].values()))
    out.print(buckets)

    budgets = query_budgets(projector)
    totals = budgets["totals"]
    used = totals["committed"] + totals["spent"]
    util = Table(title=f"Marketing budgets: {format_fen(used)} of {format_fen(totals['allocated'])} "
                       f"committed or spent ({100 * used / max(1, totals['allocated']):.1f}%)")
    for col in ("budget", "allocated", "committed", "spent", "remaining", "utilisation"):
        util.add_column(col, justify="right" if col != "budget" else "left")
    fullest = sorted(budgets["budgets"], key=lambda b: -(b["committed"] + b["spent"]) / max(1, b["allocated"]))
    for b in fullest[:8]:
        util.add_row(b["budget_id"], format_fen(b["allocated"]), format_fen(b["committed"]),
                     format_fen(b["spent"]), format_fen(b["remaining"]), str(b.get("utilisation")))
    out.print(util)

    closings = ledger.app.repository
    from ledger.domain.model import Closings

    last = None
    try:
        last = closings.get(Closings.create_id()).last_closed
    except Exception:  # noqa: BLE001 - no month closed yet
        last = None
    if last:
        top = top_statements(projector, last, 5)
        stm = Table(title=f"Top commission statements, {last}")
        for col in ("rep", "rank", "personal sales", "rate", "commission", "晨星", "开星",
                    "override", "clawback", "fines", "total", "payable on"):
            stm.add_column(col, justify="right" if col not in ("rep", "rank") else "left")
        for s in top:
            stm.add_row(s["rep_id"], s["rank"], format_fen(s["personal_sales"]), s["rate"],
                        format_fen(s["commission"]), format_fen(s["morning_star_bonus"]),
                        format_fen(s["opening_star_bonus"]), format_fen(s["override"]),
                        format_fen(s["clawback"]), format_fen(s["fines"]), format_fen(s["total"]),
                        str(s["payable_on"]))
        out.print(stm)

    rec = query_reconcile(projector)
    rt = Table(title=f"Reconciliation: {'OK' if rec['ok'] else 'DIFFERENCES FOUND'}")
    for col in ("control account", "general ledger", "sub-ledger", "difference"):
        rt.add_column(col, justify="right" if col != "control account" else "left")
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
