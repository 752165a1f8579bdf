"""A customer's receivables and the company's aging (issue 14): items grouped by class,
oldest first, with days past due; totals per class and per bucket."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from ledger.reports.fmt import group, money, pairs, table

CLASSES = ("receivable", "in_collection", "doubtful", "bad_debt")
BUCKETS = ("not_due", "1-30", "31-60", "61-90", "91-180", "181-365", "365+")


def receivables(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    header = Text.assemble(
        ("Receivables ", "bold"), (f"{d['customer_id']}  as of {d['as_of']}", "bold"), "\n",
        f"open {money(d['open_total'])}   credit limit {money(d['credit_limit'])}   "
        f"available {money(d['credit_available'])}",
        *((f"\nterms {d['payment_terms_days']} days",) if "payment_terms_days" in d else ()),
        *(("   AT RISK",) if d.get("at_risk") else ()),
        *((f"   customer credit {money(d['customer_credit'])}",) if d.get("customer_credit") else ()),
        *((f"\nwritten off {money(d['written_off'])}, recovered {money(d.get('recovered', 0))}",)
          if d.get("written_off") else ()),
    )
    parts: list[RenderableType] = [header]
    items = d["items"]
    wide = width >= 100
    for cls in [c for c in CLASSES if any(i["class"] == c for i in items)] + sorted(
            {i["class"] for i in items} - set(CLASSES)):
        rows = sorted((i for i in items if i["class"] == cls),
                      key=lambda i: (i["due_on"], i["sale_id"]))
        cols = [("sale", "id"), ("invoice", "id")]
        if wide:
            cols.append(("invoiced", "id"))
        cols += [("due on", "id"), ("days past due", "num"), ("bucket", "id"), ("open", "money")]
        if any(i.get("written_off") for i in rows):
            cols.append(("written off", "money"))
        out_rows = []
        for i in rows:
            r = [i["sale_id"], i.get("invoice_no") or "-"]
            if wide:
                r.append(i.get("invoice_date") or "-")
            r += [i["due_on"], str(i["days_past_due"]), i["bucket"], money(i["open"])]
            if len(cols) > len(r):
                r.append(money(i.get("written_off", 0)))
            out_rows.append(r)
        footer = ["", f"{len(rows)} items"] + [""] * (len(cols) - 3)
        footer.insert(cols.index(("open", "money")), money(sum(i["open"] for i in rows)))
        footer = footer[:len(cols)]
        parts.append(table(cols, out_rows, title=f"{cls} (oldest first)", footer=footer))
    if not items:
        parts.append(Text("no open items"))
    buckets = {b: 0 for b in BUCKETS}
    for i in items:
        buckets[i["bucket"]] = buckets.get(i["bucket"], 0) + i["open"]
    parts.append(pairs([(b, money(v)) for b, v in buckets.items()] +
                       [("open total", money(d["open_total"]))], title="Open by days past due"))
    return group(*parts)


def aging(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    header = Text.assemble(("Aging as of ", "bold"), (d["as_of"], "bold"),
                           f"   open total {money(d['total'])}")
    classes = pairs([(k, money(v)) for k, v in d["classes"].items()],
                    title="By class (bad_debt: written off, not recovered)")
    buckets = pairs([(k, money(v)) for k, v in d["buckets"].items()] +
                    [("total", money(d["total"]))], title="Open by days past due")
    return group(header, classes, buckets)


def dso(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    return group(Text.assemble(("DSO ", "bold"), (f"{d.get('dso') or '-'} days", "bold"),
                               f" as of {d['as_of']}"),
                 pairs([("open receivables", money(d["open_total"])),
                        (f"gross sales {d['window_from']}..{d['as_of']} ({d['window_days']} days)",
                         money(d["gross_sales"]))]))
