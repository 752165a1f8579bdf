"""Rebuild (SPEC 4, 5.3 ``replay rebuild``): a projection recomputed from position 0 into a
new generation of its tables, in pages, while the current generation keeps answering
queries; then the queries are switched over in one transaction and the old generation is
dropped. Memory stays flat in the log's size (one page of events at a time)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ledger.projections.engine import GENERATIONS_TABLE, Projector, refresh_statistics

REBUILD_PAGE = 2000  # events per transaction while rebuilding
DROP_GRACE_SECONDS = 2.0  # reads that began before the switch finish on the old tables


class RebuildError(ValueError):
    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"rule": "invalid_field", "message": self.message, "details": self.details}


def rebuild(live: Projector, names: Sequence[str] | None = None, *,
            progress: Callable[[int, int], None] | None = None,
            grace: float = DROP_GRACE_SECONDS) -> dict[str, Any]:
    """``{projections: [{name, from_generation, to_generation}], events, seconds, rate}``:
    ``live`` (the live projector) keeps answering from its generations meanwhile."""
    live.follow_generations()
    known = [p.name for p in live.projections]
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        raise RebuildError(f"--projection: unknown projection {', '.join(unknown)} "
                           f"(one of {', '.join(known)})", field="projection", allowed=known)
    chosen = [p for p in live.projections if not names or p.name in names]
    fresh_ones = [type(p)(p.generation + 1) for p in chosen]
    started = time.perf_counter()
    # leftovers of an earlier rebuild that did not finish: its tables and the positions
    # tracked for them (else the new tables would be filled from where it stopped)
    with live.transaction() as sql:
        for p in fresh_ones:
            for statement in p.drop_ddl():
                sql.execute(statement)
            live.target.untrack(sql, p.tracking_name)
    fresh = Projector(live.source, fresh_ones, live.target, clock=live.clock)
    fresh.catch_up(batch_size=REBUILD_PAGE, progress=progress)
    fresh.catch_up(batch_size=REBUILD_PAGE)  # what was written meanwhile
    refresh_statistics(fresh)  # the planner knows the new tables before they answer
    with live.transaction() as sql:  # the switch: one transaction
        for p in fresh_ones:
            sql.execute(f"DELETE FROM {GENERATIONS_TABLE} WHERE name = ?", (p.name,))
            sql.execute(f"INSERT INTO {GENERATIONS_TABLE} (name, generation) VALUES (?, ?)",
                        (p.name, p.generation))
    elapsed = time.perf_counter() - started
    if grace:
        time.sleep(grace)
    with live.transaction() as sql:
        for p in chosen:
            for statement in p.drop_ddl():
                sql.execute(statement)
            live.target.untrack(sql, p.tracking_name)
    end = min(fresh.positions().values(), default=0)
    return {"projections": [{"name": old.name, "from_generation": old.generation,
                             "to_generation": new.generation}
                            for old, new in zip(chosen, fresh_ones, strict=True)],
            "events": end, "seconds": round(elapsed, 3),
            "rate": round(end / elapsed) if elapsed > 0 else None}
