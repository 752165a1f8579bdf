"""A thread that keeps the projections caught up while ``ledger serve`` runs, so the first
read after a burst of writes does not pay for the backlog (issue 13). Reads then wait only
when they ask to (``wait_for``) for a position the projections have not reached. It also
keeps the planner's statistics of the projection tables fresh (PostgreSQL), at start and
then at most every ``STATISTICS_CHECK_SECONDS`` while events come in: the reads' plans
depend on them (``bootstrap.refresh_statistics``)."""

from __future__ import annotations

import logging
import threading
import time

from ledger.bootstrap import refresh_statistics
from ledger.projections.engine import Projector

POLL_SECONDS = 0.1  # how often an idle projector looks at the log's end
PAGE_EVENTS = 1000  # events per projection transaction while catching up a backlog
ERROR_BACKOFF_SECONDS = 1.0
# how often, at most, the planner's statistics are looked at while events come in (and
# once at start): ``bootstrap.refresh_statistics``
STATISTICS_CHECK_SECONDS = 30.0

log = logging.getLogger("ledger.projector")


class BackgroundProjector:
    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-projector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        checked: float | None = None  # when the planner's statistics were last looked at
        while not self._stop.is_set():
            try:
                self.projector.follow_generations()  # a rebuild may have switched tables
                applied = self.projector.catch_up(batch_size=PAGE_EVENTS)
                now = time.monotonic()
                if checked is None or (applied and now - checked >= STATISTICS_CHECK_SECONDS):
                    checked = now
                    analyzed = refresh_statistics(self.projector)
                    if analyzed:
                        log.info("projector: statistics refreshed for %s", ", ".join(analyzed))
            except Exception:  # noqa: BLE001 - keep serving; the error is logged and retried
                log.exception("projector: catch-up failed; retrying")
                self._stop.wait(ERROR_BACKOFF_SECONDS)
                continue
            if not applied:
                self._stop.wait(POLL_SECONDS)
