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

from ledger.application import Ledger
from ledger.config import parse_database_url
from ledger.projections.engine import Projection, Projector, Transform

SANDBOX_PAGE = 2000  # events per sandbox transaction
TIME_SCAN_PAGE = 5000  # notifications read per page when finding a recorded time's position


@contextmanager
def sandbox(ledger: Ledger, *, stop: int | None = None, transform: Transform | None = None,
            projections: Sequence[type[Projection]] | None = None,
            progress: Callable[[int, int], None] | None = None,
            prepare: Callable[[Projector, int], None] | None = None) -> Iterator[Projector]:
    """A projector whose tables hold the live log's events up to ``stop`` (default: the
    log's end now), each passed through ``transform``. ``prepare(projector, end)`` runs on
    the fresh sandbox before the catch-up to ``end`` (the plan what-if adopts its plan and
    catches up close by close there)."""
    from ledger.projections import ALL_PROJECTIONS

    with tempfile.TemporaryDirectory(prefix="ledger-sandbox-") as folder:
        target = Ledger(parse_database_url(f"sqlite:///{Path(folder) / 'sandbox.db'}"))
        try:
            projector = Projector(ledger, [cls() for cls in (projections or ALL_PROJECTIONS)],
                                  target=target, transform=transform)
            end = ledger.max_position() if stop is None else min(stop, ledger.max_position())
            if prepare is not None:
                prepare(projector, end)
            projector.catch_up(batch_size=SANDBOX_PAGE, stop=end, progress=progress)
            yield projector
        finally:
            target.close()


def position_at_time(ledger: Ledger, moment: datetime) -> int:
    """The log's last position recorded at or before ``moment`` (0 before the first
    event): where the log ended at that recorded time."""
    app = ledger.app
    last = 0
    start = 0
    while True:
        notes = app.recorder.select_notifications(start=start, limit=TIME_SCAN_PAGE,
                                                  inclusive_of_start=False)
        if not notes:
            return last
        for n in notes:
            if app.mapper.to_domain_event(n).timestamp <= moment:
                last = n.id
        start = notes[-1].id
