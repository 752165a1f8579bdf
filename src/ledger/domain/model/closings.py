"""Month closes (SPEC 5.2 CloseMonth, SPEC 2.5). Months are closed in order; closing a
closed month again records nothing new. The close of a month records the log position
it read up to, so facts recorded later for a closed month land in the next close."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

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

    @event("Opened", topic="ledger:Closings.Opened")
    def __init__(self) -> None:
        self.closed: dict[str, dict[str, Any]] = {}  # period -> close summary

    @property
    def last_closed(self) -> str | None:
        return max(self.closed) if self.closed else None

    def is_closed(self, period: str) -> bool:
        return period in self.closed

    @event("MonthClosed", topic="ledger:Closings.MonthClosed")
    def close(self, period: str, closed_by: str, log_position: int, summary: dict[str, Any],
              meta: dict[str, Any]) -> None:
        self.closed[period] = {"closed_by": closed_by, "log_position": log_position, **summary}
