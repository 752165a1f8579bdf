"""The unit of work: the one module that touches the eventsourcing library's internals.

``LedgerApplication`` is the library's application (recorder, msgspec mapper, repository,
log) with a batch save path. ``UnitOfWork`` holds the aggregates a batch loads or creates
and collects their new events in command order, then saves them (and the batch's stored
rejections) in one transaction; it loads the aggregates a batch names with one query
(``prefetch``). The other functions are the store reads the service makes besides: stored
rejections, the log's position, an aggregate as saved, and dropping the repository's cache
after a batch that was not saved.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    project_aggregate,
)
from eventsourcing.persistence import DataError, IntegrityError, Transcoder

from ledger.store.transcoder import MsgspecTranscoder

# aggregates the repository keeps in memory between batches
AGGREGATE_CACHE_SIZE = 5000
# notifications read per query when a handler reads the log
LOG_PAGE = 1000
# a version number past any aggregate's: reading "up to" it bypasses the repository cache
LATEST_SAVED = 2**62


class LedgerApplication(Application):
    """The eventsourcing application: recorder, mapper (msgspec), repository, log."""

    name = "ledger"
    # Cached aggregates are handed out without a copy: the Ledger runs one batch at a
    # time per process and drops the cache whenever a batch's changes are not saved.
    env = {"AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE_SIZE),
           "DEEPCOPY_FROM_AGGREGATE_CACHE": "n"}

    def construct_transcoder(self) -> Transcoder:
        return MsgspecTranscoder()

    def save_aggregates(self, aggregates: Iterable[Any], events: list[Any], **kwargs: Any) -> list[Any]:
        """``save()`` for a batch: the same recording path (``_record``, snapshots, notify),
        with the events in the order given (the commands' order, not grouped by aggregate)
        and without the runtime protocol checks ``collect_events`` makes per object."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        pending = 0
        for aggregate in aggregates:
            pending += len(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        if pending != len(events):  # pragma: no cover - a handler bypassed the unit of work
            raise RuntimeError(f"{pending} pending events but {len(events)} ordered")
        processing_event.events.extend(events)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings


class Conflict(Exception):
    """Another writer saved one of the batch's aggregates first (a version conflict)."""


class Unstorable(Exception):
    """The store refused a batch's data (a value out of its range)."""


class UnitOfWork:
    """Aggregates a batch has loaded (or created), and those it changed."""

    def __init__(self, app: LedgerApplication) -> None:
        self.app = app
        self.loaded: dict[UUID, Any] = {}
        self.touched: dict[UUID, Any] = {}
        self.events: list[Any] = []  # the batch's new events, in command order
        self._marks: dict[UUID, int] = {}
        self._adds: dict[UUID, None] = {}

    # --- the domain's UnitOfWork protocol (ledger.domain.handlers.context) -------------

    def get(self, cls: type[Any], *key: str) -> Any:
        agg_id = cls.create_id(*key)
        if agg_id in self.loaded:
            agg = self.loaded[agg_id]
        else:
            try:
                agg = self.app.repository.get(agg_id)
            except AggregateNotFoundError:
                agg = None
            self.loaded[agg_id] = agg
        if agg is not None:
            self._marks.setdefault(agg_id, len(agg.pending_events))
        return agg

    def add(self, aggregate: Any) -> None:
        if aggregate.id not in self.loaded or self.loaded[aggregate.id] is None:
            self._marks.setdefault(aggregate.id, 0)
        self.loaded[aggregate.id] = aggregate
        self.touched[aggregate.id] = aggregate
        self._adds.setdefault(aggregate.id, None)

    def log_position(self) -> int:
        return log_position(self.app)

    def read_log(self, topics: tuple[str, ...] = (), stop: int | None = None,
                 start: int = 1) -> Iterator[tuple[int, Any]]:
        """(position, domain event) in log order, optionally only some topics."""
        position = start
        while True:
            notes = self.app.recorder.select_notifications(
                start=position, limit=LOG_PAGE, stop=stop, topics=list(topics),
            )
            for n in notes:
                yield n.id, self.app.mapper.to_domain_event(n)
            if len(notes) < LOG_PAGE:
                return
            position = notes[-1].id + 1

    # --- the batch's bookkeeping ------------------------------------------------------

    def prefetch(self, ids: Iterable[UUID]) -> None:
        """Load the aggregates of ``ids`` for the batch with one query: a cached one
        brought up to date with its events saved since (what the repository's
        fast-forward does with a query per aggregate), any other built from its events,
        and one with no event at all known not to exist (``get`` answers None). ``get``
        then answers them without a query."""
        cache: Any = self.app.repository.cache
        held: dict[UUID, Any] = {}
        for agg_id in ids:
            if agg_id in self.loaded or agg_id in held:
                continue
            agg = None
            if cache is not None:
                with contextlib.suppress(KeyError):
                    agg = cache.get(agg_id)
            held[agg_id] = agg
        if not held:
            return
        after = [(agg_id, agg.version if agg is not None else 0) for agg_id, agg in held.items()]
        stored = self.app.recorder.select_events_after(after)  # type: ignore[attr-defined]
        news: dict[UUID, list[Any]] = {}
        for s in stored:
            news.setdefault(s.originator_id, []).append(s)
        to_domain_event = self.app.mapper.to_domain_event
        for agg_id, agg in held.items():
            new = news.get(agg_id)
            if new:
                agg = project_aggregate(agg, [to_domain_event(s) for s in new])
                if cache is not None and agg is not None:
                    cache.put(agg_id, agg)
            self.loaded[agg_id] = agg

    def begin(self) -> None:
        """A command starts: what it changes is counted from here."""
        self._marks = {}
        self._adds = {}

    def new_events(self) -> int:
        """Events the current command has added so far."""
        return sum(
            len(self.loaded[agg_id].pending_events) - mark
            for agg_id, mark in self._marks.items()
            if self.loaded.get(agg_id) is not None
        )

    def commit_command(self) -> None:
        """Append the command's new events to the batch's, in the order the command
        added their aggregates, so the log's order is the commands' order."""
        order = list(self._adds) + [i for i in self._marks if i not in self._adds]
        for agg_id in order:
            agg = self.loaded.get(agg_id)
            if agg is None:
                continue
            new = agg.pending_events[self._marks.get(agg_id, 0):]
            if new:
                self.touched[agg_id] = agg
                self.events.extend(new)

    def drop_command(self) -> None:
        """A lone command was rejected after changing aggregates: save none of it (and
        drop the cached aggregates it changed)."""
        self.touched.clear()
        forget_unsaved(self.app)

    def save(self, rejections: list[tuple[str, str, bytes]]) -> int | None:
        """Save every touched aggregate's new events and the rejections (key, body hash,
        answer) in one transaction; the highest log position written, None if nothing
        was. Raises ``Conflict`` or ``Unstorable``."""
        try:
            recordings = self.app.save_aggregates(self.touched.values(), self.events,
                                                  rejections=rejections)
        except IntegrityError as e:
            raise Conflict from e
        except (DataError, OverflowError) as e:
            raise Unstorable(f"{type(e).__name__}: {e}") from e
        return max((r.notification.id for r in recordings), default=None)


# --- the store reads of the service ------------------------------------------------------


def log_position(app: LedgerApplication) -> int:
    return app.recorder.max_notification_id() or 0


def forget_unsaved(app: LedgerApplication) -> None:
    """Aggregates in the cache may hold changes that were not saved: drop them all."""
    cache: Any = app.repository.cache
    if cache is not None:
        # LRUCache.clear() resets only its recency list, not its dict: empty both.
        with cache.lock:
            cache.cache.clear()
            cache.clear()
            cache.full = False


def stored_rejections(app: LedgerApplication, keys: list[str]) -> dict[str, tuple[str, bytes]]:
    """Idempotency key -> (body hash, encoded answer) of the keys' stored rejections."""
    if not keys:
        return {}
    return app.recorder.select_rejections(keys)  # type: ignore[attr-defined]


def saved(app: LedgerApplication, agg_id: UUID) -> Any | None:
    """The aggregate as saved (not the cached one, which a batch in progress may hold with
    unsaved changes), or None."""
    try:
        return app.repository.get(agg_id, version=LATEST_SAVED)
    except AggregateNotFoundError:
        return None
