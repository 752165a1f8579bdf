"""The commission statement as a payslip (issue 14): header, own sales, bonuses with the
threshold each met, override with each trainee's personal sales, deductions, adjustments
and carry, then total, paid and balance."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from ledger.reports.fmt import group, money, pairs, rate_pct, table, unit


def _bonus_group(plan: dict[str, Any] | None, rank: str) -> dict[str, Any] | None:
    if not plan:
        return None
    for g in plan.get("bonus_groups", []):
        if rank in g.get("ranks", []):
            return g
    return None


def payslip(document: dict[str, Any], width: int = 80, *,
            plan: dict[str, Any] | None = None,
            fine_reasons: dict[str, str | None] | None = None) -> RenderableType:
    """``query commission`` as a payslip. ``plan`` (the commission plan in force on the
    month's 1st, as ``query policies`` shows it) adds each bonus's threshold;
    ``fine_reasons`` (fine_id -> reason) each fine's reason."""
    d = document
    lines = d.get("lines", [])
    by_type: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_type.setdefault(line["type"], []).append(line)
    fine_reasons = fine_reasons or {}

    status = "closed" if d["closed"] else "OPEN (figures of the facts so far)"
    header = Text.assemble(
        ("Commission statement ", "bold"), (f"{d['rep_id']}  {d['period']}", "bold"), "\n",
        f"rank on the 1st {d['rank']}   month {status}\n",
        f"payable on {d['payable_on'] or '- (at the close)'}   override payable on "
        f"{d['override_payable_on'] or '-'}\n",
        f"personal sales {money(d['personal_sales'])} {unit(d)}   commission rate "
        f"{rate_pct(d['rate'])}",
    )
    parts: list[RenderableType | None] = [header]

    sales = by_type.get("sale", [])
    if sales:
        parts.append(table(
            [("date", "id"), ("sale", "id"), ("gross", "money"), ("returned", "money"),
             ("share", "money")],
            [(s["date"], s["sale_id"], money(s["gross"]), money(s["returned"]), money(s["share"]))
             for s in sales],
            title="Own sales", footer=("", f"{len(sales)} sales", money(sum(s["gross"] for s in sales)),
                                       money(sum(s["returned"] for s in sales)),
                                       money(d["commission"]))))
    else:
        parts.append(Text("Own sales: none this month", style="bold"))
    returns = by_type.get("return", [])
    if returns:
        parts.append(table([("date", "id"), ("return", "id"), ("of sale", "id"), ("amount", "money")],
                           [(r["date"], r["return_id"], r["sale_id"], money(r["amount"])) for r in returns],
                           title="Same-month returns (reduce personal sales)"))

    g = _bonus_group(plan, d["rank"])
    bonus_rows = []
    for name, key, threshold_key, scope in (
            ("晨星 morning star", "morning_star_bonus", "morning_star_min_sales", "sales by the "
             f"{plan.get('morning_star_last_day', 20) if plan else 20}th"),
            ("开星 opening star", "opening_star_bonus", "opening_star_min_sales", "sales in month")):
        amount = d[key]
        if g is not None:
            condition = f"{scope} >= {money(g[threshold_key])}"
            met = "met" if amount else "not met"
            bonus_rows.append((name, f"{condition} ({d['rank']}): {met}", money(amount)))
        else:
            bonus_rows.append((name, "met" if amount else "not met", money(amount)))
    parts.append(table([("bonus", "id"), ("threshold", "text"), ("amount", "money")], bonus_rows,
                       title="Bonuses"))

    trainees = by_type.get("trainee", [])
    if trainees or d["override"]:
        rate = plan.get("override", {}).get("rate") if plan else None
        parts.append(table(
            [("trainee", "id"), ("personal sales", "money")],
            [(t["rep_id"], money(t["personal_sales"])) for t in trainees],
            title=f"Override ({rate_pct(rate) + ' of ' if rate else ''}trainees' personal sales;"
                  f" payable {d['override_payable_on']})",
            footer=("override", money(d["override"]))))

    deductions = []
    for c in by_type.get("clawback", []):
        deductions.append((f"clawback ({c['kind']})", c["ref_id"],
                           f"sale {c['sale_id']} of {c['sale_period']}, gross {money(c['gross'])} "
                           f"at that month's rate {rate_pct(c['rate'])}", money(-c["amount"])))
    for f in by_type.get("fine", []):
        reason = fine_reasons.get(f["fine_id"])
        deductions.append(("fine", f["fine_id"], f"{f['date']}: {reason or 'reason not shown'}",
                           money(-f["amount"])))
    if deductions:
        parts.append(table([("deduction", "id"), ("ref", "id"), ("source", "text"), ("amount", "money")],
                           deductions, title="Deductions"))

    adjusting = []
    for a in by_type.get("adjustment", []):
        adjusting.append(("adjustment", a["ref_id"], f"late fact of {a['period']}"
                          + (f": {a['note']}" if a.get("note") else ""), money(a["amount"])))
    for c in by_type.get("carried", []):
        adjusting.append(("carried", c.get("period") or "-", "negative total carried in",
                          money(c["amount"])))
    if adjusting:
        parts.append(table([("line", "id"), ("ref", "id"), ("what", "text"), ("amount", "money")],
                           adjusting, title="Adjustments and carry"))

    summary = [("commission", money(d["commission"])),
               ("+ morning star bonus", money(d["morning_star_bonus"])),
               ("+ opening star bonus", money(d["opening_star_bonus"])),
               ("+ override", money(d["override"])),
               ("+ adjustment", money(d["adjustment"])),
               ("+ carried", money(d["carried"])),
               ("- clawback", money(d["clawback"])),
               ("- fines", money(d["fines"])),
               ("= total", money(d["total"])),
               ("paid", money(d["paid"])),
               ("balance", money(d["balance"]))]
    parts.append(pairs(summary, title=f"Total ({unit(d)})"))

    payouts = by_type.get("payout", [])
    if payouts:
        parts.append(table([("paid on", "id"), ("payout", "id"), ("amount", "money")],
                           [(p["date"], p["payout_id"], money(p["amount"])) for p in payouts],
                           title="Payouts"))
    disputes = d.get("disputes") or []
    if disputes:
        parts.append(table([("dispute", "id"), ("opened by", "id"), ("reason", "text")],
                           [(x.get("dispute_id", "-"), x.get("opened_by", "-"),
                             x.get("reason") or "-") for x in disputes],
                           title="Open disputes"))
    return group(*parts)
