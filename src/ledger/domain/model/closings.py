"""Month closes (SPEC 5.2 CloseMonth, SPEC 2.5). Months are closed in order; closing a
closed month again records nothing new. The close of a month records the log position
it read up to, so facts recorded later for a closed month land in the next close.

A ``MonthClosed`` event holds ``period``, ``closed_by``, ``log_position`` (the last log
position the close read: facts after it dated in this month are *late*) and the close's
``summary`` (see ``handlers.month_close``), among which ``scan_from`` (the first position
the close had to read for facts of its month) and ``next_scan_from`` (the lowest position
of a fact dated after the month that the close saw): facts dated in the next month or
later all lie at or after it, so the next close need not read the log before it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.calendar import previous_month as _previous
from ledger.domain.ids import aggregate_id


class Closings(Aggregate):
    TOPIC = "ledger:Closings"
    KIND = "closings"
    SINGLETON = "ledger"

    class Created(Aggregate.Created):
        TOPIC = "ledger:Closings.Created"

    @staticmethod
    def create_id() -> UUID:
        return aggregate_id(Closings.KIND, Closings.SINGLETON)

    class Opened(Aggregate.Created):
        TOPIC = "ledger:Closings.Opened"

    @event(Opened)
    def __init__(self) -> None:
        self.closed: dict[str, dict[str, Any]] = {}  # period -> close summary

    @property
    def last_closed(self) -> str | None:
        return max(self.closed) if self.closed else None

    @property
    def first_closed(self) -> str | None:
        return min(self.closed) if self.closed else None

    def is_closed(self, period: str) -> bool:
        return period in self.closed

    def log_position_of(self, period: str) -> int:
        """The last log position the close of ``period`` read."""
        return int(self.closed[period]["log_position"])

    def scan_from(self, period: str) -> int:
        """A log position before which no fact dated in ``period`` or later lies (as far as
        the log up to the close of the month before knew): where a close of ``period``
        starts reading. 1 when the month before was not closed by this code."""
        previous = _previous(period)
        return int(self.closed.get(previous, {}).get("next_scan_from", 1))

    class MonthClosed(Aggregate.Event):
        TOPIC = "ledger:Closings.MonthClosed"
        period: str
        closed_by: str
        log_position: int
        summary: dict[str, Any]
        meta: dict[str, Any]

    @event(MonthClosed)
    def close(self, period: str, closed_by: str, log_position: int, summary: dict[str, Any],
              meta: dict[str, Any]) -> None:
        self.closed[period] = {"closed_by": closed_by, "log_position": log_position, **summary}
