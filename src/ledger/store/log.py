"""The live log as an event source of the read side (ARCHITECTURE Projections): the
application's notification log, read in pages through the library's public recorder and
mapper API, as ``(position, domain event)`` in log order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Mapper

LOG_PAGE = 1000  # notifications per read when the whole log is streamed


class LogSource:
    """``(position, event)`` from the notification log of ``recorder``, mapped to domain
    events by ``mapper``. Implements the projector's ``EventSource`` port."""

    def __init__(self, recorder: ApplicationRecorder, mapper: Mapper[Any]) -> None:
        self.recorder = recorder
        self.mapper = mapper

    def end(self) -> int:
        """The log's last position now (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def read(self, after: int, stop: int, limit: int,
             topics: Sequence[str] = ()) -> list[tuple[int, Any]]:
        """At most ``limit`` events with ``after < position <= stop``, only the ``topics``
        given (all when empty), in log order."""
        notes = self.recorder.select_notifications(start=after, limit=limit, stop=stop,
                                                   topics=list(topics), inclusive_of_start=False)
        return [(n.id, self.mapper.to_domain_event(n)) for n in notes]

    def scan(self, after: int = 0, stop: int | None = None, topics: Sequence[str] = (),
             page: int = LOG_PAGE) -> Iterator[tuple[int, Any]]:
        """Every event after ``after`` up to ``stop`` (default: the log's end now)."""
        end = self.end() if stop is None else stop
        while after < end:
            events = self.read(after, end, page, topics)
            yield from events
            if len(events) < page:
                return
            after = events[-1][0]

    def position_at_time(self, moment: datetime, page: int = LOG_PAGE * 5) -> int:
        """The log's last position recorded at or before ``moment`` (0 before the first
        event): where the log ended at that recorded time."""
        last = 0
        for position, event in self.scan(page=page):
            if event.timestamp <= moment:
                last = position
        return last
