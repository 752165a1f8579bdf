"""A sandbox: the projections rebuilt from the live log into a throwaway store (SPEC 4,
ARCHITECTURE Replay). Up to a position (as-of), with events left out or amended (what-if),
or whole (drift). The live log and the live tables are only read.

The sandbox is an embedded SQLite file in a temporary folder, whatever the live store:
the projections' SQL runs unchanged on both, and nothing of it can reach the live
database. It is deleted when the ``with`` block ends.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from ledger.config import parse_database_url
from ledger.domain.calendar import utcnow
from ledger.projections.engine import EventSource, Projection, Projector, Transform
from ledger.store.log import LogSource
from ledger.store.tracking import ProjectionStore

SANDBOX_PAGE = 2000  # events per sandbox transaction
TIME_SCAN_PAGE = 5000  # notifications read per page when finding a recorded time's position


@contextmanager
def sandbox(source: EventSource, *, stop: int | None = None, transform: Transform | None = None,
            projections: Sequence[type[Projection]] | None = None,
            progress: Callable[[int, int], None] | None = None,
            clock: Callable[[], datetime] = utcnow,
            prepare: Callable[[Projector, int], None] | None = None) -> Iterator[Projector]:
    """A projector whose tables hold ``source``'s events up to ``stop`` (default: its end
    now), each passed through ``transform``. ``prepare(projector, end)`` runs on the fresh
    sandbox before the catch-up to ``end`` (the plan what-if adopts its plan and catches up
    close by close there)."""
    from ledger.projections import ALL_PROJECTIONS

    with tempfile.TemporaryDirectory(prefix="ledger-sandbox-") as folder:
        target = ProjectionStore.open(parse_database_url(f"sqlite:///{Path(folder) / 'sandbox.db'}"))
        try:
            projector = Projector(source, [cls() for cls in (projections or ALL_PROJECTIONS)],
                                  target, transform=transform, clock=clock)
            end = source.end() if stop is None else min(stop, source.end())
            if prepare is not None:
                prepare(projector, end)
            projector.catch_up(batch_size=SANDBOX_PAGE, stop=end, progress=progress)
            yield projector
        finally:
            target.close()


def position_at_time(source: LogSource, moment: datetime) -> int:
    """The log's last position recorded at or before ``moment`` (0 before the first
    event): where the log ended at that recorded time."""
    return source.position_at_time(moment, page=TIME_SCAN_PAGE)
