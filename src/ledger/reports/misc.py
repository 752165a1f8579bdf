"""The remaining queries (issue 14): segregation of duties, disputes, trips, policies, and a
readable fallback for any other document (scalars as label/value lines, each list as a
table whose every cell keeps its full width)."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from ledger.reports.fmt import MONEY_KEYS, cell, group, pairs, table


def sod(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    verdict = Text.assemble(("OK" if d["ok"] else f"{len(d['violations'])} VIOLATION(S)",
                             "bold green" if d["ok"] else "bold red"),
                            f": {d['decisions_checked']:,} decisions and "
                            f"{d['approvals_checked']:,} approvals checked")
    parts: list[RenderableType] = [verdict, table(
        [("rule", "id"), ("violations", "num"), ("what it checks", "text")],
        [[c["rule"], str(c["violations"]), c["description"]] for c in d["checks"]])]
    if d["violations"]:
        parts.append(generic({"violations": d["violations"]}, width))
    return group(*parts)


def trips(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    head = Text.assemble(("Incentive trips ", "bold"), (f"{d['rep_id']}  {d['year']}", "bold"),
                         f"   plan {d.get('plan_version', '-')}")
    rows = []
    for t in d["trips"]:
        status = f"qualified in {t['qualified_in']}" if t["qualified"] else f"{t['still_needed']} more"
        rows.append([t["name"], f"{t['window_from']}..{t['window_to']}", t["row"],
                     f"{t['count']}/{t['required']}", status, _months(t["months"])])
    return group(head, table([("trip", "id"), ("window", "id"), ("row", "id"), ("months", "num"),
                              ("status", "text"), ("qualifying months", "text")], rows))


def _months(months: list[str]) -> str:
    """``2025-01 2025-02 2026-01`` -> ``2025: 01 02; 2026: 01`` (short enough to wrap)."""
    years: dict[str, list[str]] = {}
    for m in months:
        year, _, mm = m.partition("-")
        years.setdefault(year, []).append(mm)
    return "; ".join(f"{y}: {' '.join(ms)}" for y, ms in years.items()) or "-"


def disputes(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    head = Text.assemble(("Disputes", "bold"),
                         f"{' of ' + d['entity'] if d.get('entity') else ''}: {d['open']} open, "
                         f"{d['resolved']} resolved" + (" (open only)" if d.get("open_only") else ""))
    if not d["disputes"]:
        return group(head)
    return group(head, generic({"disputes": d["disputes"]}, width, scalars=False))


def policies(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    rows = []
    for name, p in d["policies"].items():
        values = p.get("values") or {}
        text = "\n".join(f"{k} = {cell(k, v)}" for k, v in values.items()) or "-"
        rows.append([name, p.get("version") or "-", p.get("effective_from") or "-", text])
    plan = d.get("plan") or {}
    head = Text.assemble(("Policies in force", "bold"), f" as of {d.get('as_of')}",
                         f"\ncommission plan {plan.get('version', '-')}"
                         f" (from {plan.get('effective_from') or 'the start'})")
    return group(head, table([("policy", "id"), ("version", "id"), ("from", "id"),
                              ("values", "text")], rows))


def generic(document: dict[str, Any], width: int = 80, *, scalars: bool = True) -> RenderableType:
    parts: list[RenderableType] = []
    if scalars:
        flat = [(k, cell(k, v)) for k, v in document.items() if not isinstance(v, (list, dict))]
        if flat:
            parts.append(pairs(flat, money_right=False))
    for key, value in document.items():
        if isinstance(value, dict) and value:
            parts.append(pairs([(str(k), cell(str(k), v)) for k, v in value.items()], title=key))
        elif isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            columns = list(dict.fromkeys(k for r in value for k in r))
            kinds = []
            for c in columns:
                sample = [r.get(c) for r in value if r.get(c) is not None]
                if c in MONEY_KEYS and all(isinstance(s, int) for s in sample):
                    kinds.append("money")
                elif any(isinstance(s, (dict, list)) or (isinstance(s, str) and " " in s)
                         for s in sample):
                    kinds.append("text")
                else:
                    kinds.append("id")
            parts.append(table(list(zip(columns, kinds)),
                               [[cell(c, r.get(c)) for c in columns] for r in value], title=key))
        elif isinstance(value, list) and value:
            parts.append(Text(f"{key}: " + ", ".join(cell(key, v) for v in value)))
    return group(*parts)
