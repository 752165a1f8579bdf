"""Shared pieces of the terminal layouts: money in yuan, dates, tables that never cut a
figure or an id (issue 14).

Money and id columns are ``no_wrap`` with a ``min_width`` of their longest cell, so rich
never shortens them; only text columns (reasons, descriptions, notes) wrap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ledger.domain.money import format_fen

# every key whose integer value is an amount in fen, across the query documents
MONEY_KEYS = frozenset({
    "amount", "gross", "returned", "share", "open", "written_off", "credit_limit",
    "credit_available", "credit_used", "customer_credit", "recovered", "open_total", "total",
    "debit", "credit", "debit_total", "credit_total", "general_ledger", "subledger",
    "difference", "allocated", "allocation", "adjustments", "committed", "spent", "remaining",
    "approved_amount", "personal_sales", "commission", "morning_star_bonus",
    "opening_star_bonus", "override", "adjustment", "carried", "clawback", "fines", "paid",
    "balance", "gross_sales", "running_total", "value", "live", "what_if", "vat",
    "unit_price", "list_price", "exposure", "shortfall", "credit_applied", "own_sales",
    "trained_sales", "trained_rep_min_sales", "morning_star_sales",
})


def money(fen: int | None) -> str:
    return "-" if fen is None else format_fen(int(fen))


def unit(document: dict[str, Any]) -> str:
    """How a layout names the money unit: ``yuan`` for CNY (the default), else the code."""
    currency = document.get("currency") or "CNY"
    return "yuan" if currency == "CNY" else currency


def yesno(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def rate_pct(rate: str | None) -> str:
    """``"0.2"`` -> ``"20%"``; ``"0.125"`` -> ``"12.5%"``."""
    if rate in (None, ""):
        return "-"
    from decimal import Decimal

    pct = (Decimal(str(rate)) * 100).normalize()
    return f"{pct:f}%"


def company_time(text: str | None) -> str:
    """An ISO instant as ``YYYY-MM-DD HH:MM`` in the company's time zone."""
    if not text:
        return "-"
    from ledger.domain.calendar import company_tz

    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(company_tz())
    return moment.strftime("%Y-%m-%d %H:%M")


def cell(key: str, value: Any) -> str:
    """A value as the terminal shows it: money in yuan for money keys."""
    if isinstance(value, bool):
        return yesno(value)
    if value is None:
        return "-"
    if isinstance(value, int) and key in MONEY_KEYS:
        return money(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(key, v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell(k, v)}" for k, v in value.items()) or "-"
    return str(value)


def table(columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]], *,
          title: str | None = None, footer: Sequence[str] | None = None,
          show_header: bool = True) -> RenderableType:
    """A table whose money, id and number cells keep their full width; text wraps.

    ``columns``: (header, kind), kind ``money`` (right-aligned), ``num`` (right-aligned),
    ``id`` (left) -- none of them ever cut -- or ``text`` (wraps at the width left)."""
    rows = [[c if not isinstance(c, (int, float)) else str(c) for c in r] for r in rows]
    t = Table(box=box.SIMPLE_HEAD, show_edge=False,
              show_header=show_header, show_footer=footer is not None, pad_edge=False,
              header_style="bold", footer_style="bold", expand=False)
    for i, (header, kind) in enumerate(columns):
        cells = [r[i] for r in rows] + ([footer[i]] if footer else [])
        longest = max([len(header.split("\n")[0]) if kind != "text" else 0,
                       *(_len(c) for c in cells)], default=0) if kind != "text" else None
        foot = footer[i] if footer else ""
        if kind == "text":
            t.add_column(header, footer=foot, overflow="fold", ratio=1, min_width=8)
        else:
            t.add_column(header, footer=foot, no_wrap=True, min_width=longest,
                         justify="right" if kind in ("money", "num") else "left")
    for r in rows:
        t.add_row(*r)
    return Group(heading(title), t) if title else t


def _len(c: Any) -> int:
    if not isinstance(c, (str, Text)):
        return 0
    return max((len(line) for line in str(c if not isinstance(c, Text) else c.plain).split("\n")),
               default=0)


def pairs(items: Sequence[tuple[str, str]], *, title: str | None = None,
          money_right: bool = True) -> RenderableType:
    """Label / value lines, values right-aligned (a statement's summary)."""
    t = Table(box=None,
              show_header=False, pad_edge=False)
    t.add_column("label", overflow="fold")
    t.add_column("value", no_wrap=True, justify="right" if money_right else "left",
                 min_width=max((len(v) for _, v in items), default=0))
    for label, value in items:
        t.add_row(label, value)
    return Group(heading(title), t) if title else t


def heading(text: str) -> Text:
    return Text(text, style="bold")


def group(*parts: RenderableType | None) -> Group:
    """Sections one under the other, a blank line between them."""
    spaced: list[RenderableType] = []
    for p in parts:
        if p is None:
            continue
        if spaced:
            spaced.append(Text(""))
        spaced.append(p)
    return Group(*spaced)
