"""A budget line with its expenses by status (issue 14)."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from ledger.reports.fmt import group, money, pairs, rate_pct, table

STATUSES = ("submitted", "approved", "spent", "rejected")


def budget(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    head = Text.assemble(("Budget ", "bold"), (d["budget_id"], "bold"),
                         *((f"\n{d['department']} / {d['category']} / {d['period']}",)
                           if d.get("department") else ()),
                         *((f"   used {rate_pct(d['utilisation'])}",) if d.get("utilisation") else ()))
    figures = [("allocation", money(d["allocation"]))] if "allocation" in d else []
    if d.get("adjustments"):
        figures.append(("+ adjustments", money(d["adjustments"])))
    figures += [("= allocated", money(d["allocated"])), ("- committed (approved, not spent)",
                money(d["committed"])), ("- spent", money(d["spent"])),
                ("= remaining", money(d["remaining"]))]
    parts: list[RenderableType] = [head, pairs(figures)]
    adjustments = d.get("adjustment_list") or []
    if adjustments:
        keys = [k for k in adjustments[0] if k != "amount"]
        parts.append(table([(k, "text") for k in keys] + [("amount", "money")],
                           [[str(a.get(k) if a.get(k) is not None else "-") for k in keys]
                            + [money(a["amount"])] for a in adjustments],
                           title="Allocation adjustments"))
    expenses = d.get("expenses", [])
    by_status = d.get("by_status", {})
    statuses = [s for s in STATUSES if any(e["status"] == s for e in expenses)] + sorted(
        {e["status"] for e in expenses} - set(STATUSES))
    wide = width >= 100
    for status in statuses:
        rows = [e for e in expenses if e["status"] == status]
        cols = [("expense", "id"), ("filed", "id"), ("amount", "money")]
        if status == "approved" or (status == "spent" and wide):
            cols.append(("approved", "money"))
        if status == "spent":
            cols.append(("spent", "money"))
        if wide:
            if status == "spent":
                cols.append(("paid on", "id"))
            cols += [("decided by", "id"), ("submitted by", "id")]
        cols.append(("description" if wide else "who, when, what", "text"))
        out = []
        for e in rows:
            r = [e["expense_id"], e.get("filed_on") or "-", money(e["amount"])]
            if status == "approved" or (status == "spent" and wide):
                r.append(money(e.get("approved_amount")))
            if status == "spent":
                r.append(money(e.get("spent")))
            decided = e.get("approved_by") or e.get("rejected_by") or "-"
            text = e.get("description") or ""
            if e.get("late_activity"):
                text += " [late activity filing]"
            if e.get("reason"):
                text += f" (reason: {e['reason']})"
            if wide:
                if status == "spent":
                    r.append(e.get("paid_on") or "-")
                r += [decided, e.get("submitted_by") or "-"]
            else:
                verb = "rejected" if status == "rejected" else "approved"
                if status == "spent":
                    verb += f" {money(e.get('approved_amount'))}"
                text = (f"{verb} by {decided}" if decided != "-" else f"by {e.get('submitted_by')}") + (
                    f", paid {e['paid_on']}" if e.get("paid_on") else "") + f": {text}"
            r.append(text or "-")
            out.append(r)
        s = by_status.get(status)
        title = f"{status}: {len(rows)} expense(s)" + (f", {money(s['amount'])}" if s else "")
        parts.append(table(cols, out, title=title))
    if not expenses:
        parts.append(Text("no expenses"))
    return group(*parts)
