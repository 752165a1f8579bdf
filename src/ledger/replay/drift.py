"""Drift check (SPEC 4, 5.3 ``replay drift``): every live projection table compared row by
row with a fresh rebuild in a sandbox; any difference is listed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger.projections.engine import Projector
from ledger.replay.sandbox import sandbox

MAX_LISTED = 100  # differences listed per table (the count is always complete)


def _rows(projector: Projector, table: str) -> list[tuple[Any, ...]]:
    with projector.transaction(commit=False) as sql:
        rows = sql.all(f"SELECT * FROM {table}")
    return sorted((tuple(_norm(v) for v in r.values()) for r in rows), key=repr)


def _norm(value: Any) -> Any:
    """One representation on both stores (PostgreSQL sums are Decimals, booleans ints)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal | float) and value == int(value):
        return int(value)
    return value if value is None or isinstance(value, int | str) else str(value)


def drift(live: Projector) -> dict[str, Any]:
    """``{ok, position, differences: [{projection, table, missing, unexpected, rows}]}``:
    rows the rebuild has and the live table lacks (``missing``) and the other way round
    (``unexpected``), up to the position the live projections had reached."""
    reached = min(live.positions().values(), default=0)
    differences = []
    with sandbox(live.source, stop=reached, clock=live.clock,
                 projections=[type(p) for p in live.projections]) as fresh:
        for mine, theirs in zip(live.projections, fresh.projections, strict=True):
            for table in mine.tables:
                a = _rows(live, mine.t(table))
                b = _rows(fresh, theirs.t(table))
                if a == b:
                    continue
                sa, sb = set(a), set(b)
                missing = sorted(sb - sa, key=repr)
                unexpected = sorted(sa - sb, key=repr)
                differences.append({
                    "projection": mine.name, "table": table, "missing": len(missing),
                    "unexpected": len(unexpected),
                    "rows": {"missing": [list(r) for r in missing[:MAX_LISTED]],
                             "unexpected": [list(r) for r in unexpected[:MAX_LISTED]]}})
    return {"ok": not differences, "position": reached, "differences": differences}
