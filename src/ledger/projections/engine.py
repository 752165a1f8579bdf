"""Tracked projections: the read side's machinery (SPEC 3, ARCHITECTURE Projections).

A ``Projection`` owns some tables and turns events into rows. A ``Projector`` is a port
with two ends: an *event source* (anything that yields ``(position, event)`` in log order:
the live log, a copy with events left out or amended, the events of an evidence file)
and a *target* (a store: its tables and its tracking records). It applies each event to
every projection that has not seen it, writing the rows *and* the projections' tracking
positions in one transaction: a crash at any point leaves either both or neither, so
every event is applied exactly once. Live catch-up, rebuild, as-of, what-if, drift and
bundle verification are all this one loop over different sources and targets; nothing
here knows the write side.

Catch-up reads many events per transaction (``batch_size``); live operation uses
``batch_size=1``. Both paths run the same ``apply`` code and reach the same state.

Tables live beside the log (the SQLite file, or the PostgreSQL schema) and are named
``<projection>_<table>_g<generation>``, so that a rebuild fills a new generation while the
old one answers queries (``GENERATIONS_TABLE`` says which one answers).
SQL is written once with ``?`` placeholders and runs on both backends.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar, Protocol

from eventsourcing.utils import get_topic

from ledger.domain.calendar import utcnow
from ledger.store.sql import Sql
from ledger.store.tracking import ProjectionStore

SOURCE = "ledger"  # the upstream application's name in tracking records
LOCK_TABLE = "projection_lock"  # one row: every catch-up page takes it first
# Which generation of each projection answers queries (a rebuild fills the next one, then
# switches this row; SPEC 4 rebuild). No row: generation 1.
GENERATIONS_TABLE = "projection_generations"
CATCH_UP_PAGE = 1000  # events per transaction when catching up
LIVE_POLL_SECONDS = 0.2  # how often live operation looks for new events
WAIT_POLL_SECONDS = 0.05  # how often ``wait`` looks for a position not yet in the log
WAIT_TIMEOUT_SECONDS = 10.0

__all__ = ["GENERATIONS_TABLE", "EventSource", "Projection", "Projector", "Sql", "Transform",
           "refresh_statistics"]


class EventSource(Protocol):
    """Events in log order: the projector's input port."""

    def end(self) -> int:
        """The last position the source holds now."""

    def read(self, after: int, stop: int, limit: int,
             topics: Sequence[str] = ()) -> list[tuple[int, Any]]:
        """At most ``limit`` events with ``after < position <= stop``, of the ``topics``
        given (all when empty), in order."""


class ListSource:
    """An ``EventSource`` over events in memory (an evidence file's, a test's)."""

    def __init__(self, events: Sequence[tuple[int, Any]]) -> None:
        self.events = sorted(events, key=lambda pe: pe[0])

    def end(self) -> int:
        return self.events[-1][0] if self.events else 0

    def read(self, after: int, stop: int, limit: int,
             topics: Sequence[str] = ()) -> list[tuple[int, Any]]:
        wanted = set(topics)
        found = [(p, e) for p, e in self.events
                 if after < p <= stop and (not wanted or _topic_of(type(e)) in wanted)]
        return found[:limit]


_cached_topic = functools.cache(get_topic)


def _topic_of(cls: type) -> str:
    """The stored topic of an event class (cached: asked for every event and projection)."""
    return _cached_topic(cls)


class Projection:
    """One read model. Subclasses set ``name``, ``topics`` (the event topics it reads),
    ``tables`` (logical table name -> column DDL) and implement ``apply``."""

    name: ClassVar[str]
    topics: ClassVar[tuple[str, ...]]
    tables: ClassVar[dict[str, str]]
    indexes: ClassVar[dict[str, str]] = {}  # index suffix -> "table(columns)"

    def __init__(self, generation: int = 1) -> None:
        self.generation = generation

    @property
    def tracking_name(self) -> str:
        return f"{SOURCE}>{self.name}_g{self.generation}"

    def t(self, table: str) -> str:
        """Physical name of a logical table in this generation."""
        if table not in self.tables:
            raise KeyError(f"projection {self.name!r} has no table {table!r}")
        return f"{self.name}_{table}_g{self.generation}"

    def ddl(self) -> list[str]:
        statements = [f"CREATE TABLE IF NOT EXISTS {self.t(n)} ({cols})" for n, cols in self.tables.items()]
        for suffix, target in self.indexes.items():
            table, cols = target.split("(", 1)
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {self.name}_{suffix}_g{self.generation} "
                f"ON {self.t(table)} ({cols}"
            )
        return statements

    def drop_ddl(self) -> list[str]:
        return [f"DROP TABLE IF EXISTS {self.t(n)}" for n in self.tables]

    def reads(self, event: Any) -> bool:
        """Whether this projection applies ``event`` (its type is one of ``topics``)."""
        return _topic_of(type(event)) in self.topics

    def apply(self, sql: Sql, position: int, event: Any) -> None:  # pragma: no cover
        raise NotImplementedError

    def prepare(self, sql: Sql, events: Sequence[Any]) -> None:
        """Before a page's events are applied (``events``: those this projection will
        apply, in order), in the page's transaction: read at once what applying them
        will need of the projection's own rows (``common.Kept``)."""

    def finish(self, sql: Sql) -> None:
        """After a page's events are applied, in the page's transaction: write what the
        projection gathered over the page (``common.Kept``) in as few statements as it can."""

    def forget(self) -> None:
        """Drop what this instance keeps in memory about its own rows' changing state
        (``common.Kept``). The projector calls it before every page and when a page
        fails: such state never outlives the page's transaction, which holds the lock."""


# What a replay may do to each event before the projections see it: return the event
# (perhaps amended) or None to leave it out (what-if, SPEC 4).
Transform = Callable[[int, Any], Any | None]


class Projector:
    """Keeps a set of projections in ``target`` up to date with ``source``.

    ``transform`` leaves out or amends events on their way (a what-if); ``clock`` is the
    recorded time queries take "today" from (business dates, SPEC 1 Time)."""

    def __init__(self, source: EventSource, projections: Sequence[Projection],
                 target: ProjectionStore, *, transform: Transform | None = None,
                 follow_generations: bool = False,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.source = source
        self.target = target
        self.transform = transform
        self.clock = clock
        self.projections = list(projections)
        self._thread_lock = threading.Lock()
        with self.transaction() as sql:
            sql.execute(f"CREATE TABLE IF NOT EXISTS {LOCK_TABLE} "
                        "(id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
            sql.execute(f"INSERT INTO {LOCK_TABLE} VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
            sql.execute(f"CREATE TABLE IF NOT EXISTS {GENERATIONS_TABLE} "
                        "(name TEXT PRIMARY KEY, generation INTEGER NOT NULL)")
            if follow_generations:
                current = _generations(sql)
                self.projections = [type(p)(current.get(p.name, p.generation))
                                    for p in self.projections]
            for p in self.projections:
                for statement in p.ddl():
                    sql.execute(statement)

    @property
    def is_postgres(self) -> bool:
        return self.target.is_postgres

    @property
    def tracker(self) -> Any:
        """The target's tracking recorder (the library's, extended)."""
        return self.target.recorder

    # --- transactions -----------------------------------------------------------------

    @contextmanager
    def transaction(self, *, commit: bool = True, pipeline: bool = False) -> Iterator[Sql]:
        """A transaction on the projections' tables (see ``ProjectionStore``)."""
        with self.target.transaction(commit=commit, pipeline=pipeline) as sql:
            yield sql

    # --- generations (SPEC 4 rebuild) -------------------------------------------------------

    def generations(self) -> dict[str, int]:
        """The generation of each projection that answers queries now."""
        with self.transaction(commit=False) as sql:
            return _generations(sql)

    def follow_generations(self) -> bool:
        """Switch to the generations a rebuild has made current (one small read); True if
        any changed. Queries and catch-ups after it use the new tables."""
        current = self.generations()
        if all(current.get(p.name, p.generation) == p.generation for p in self.projections):
            return False
        with self._thread_lock:
            self.projections = [type(p)(current.get(p.name, p.generation))
                                for p in self.projections]
        return True

    def position(self, projection: Projection) -> int:
        return self.target.positions([projection.tracking_name])[projection.tracking_name]

    def positions(self) -> dict[str, int]:
        """Every projection's tracking position, in one read."""
        projections = list(self.projections)
        found = self.target.positions([p.tracking_name for p in projections])
        return {p.name: found[p.tracking_name] for p in projections}

    def reached(self) -> int:
        """The position every projection has reached."""
        return min(self.positions().values(), default=0)

    # --- processing -------------------------------------------------------------------

    def catch_up(self, batch_size: int = CATCH_UP_PAGE, stop: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> int:
        """Apply every event up to ``stop`` (default: the source's end now), ``batch_size``
        events per transaction. Returns the number of event applications.

        Safe when several catch-ups run at once, in threads or in processes: each page's
        transaction first takes the projector's lock row (a write, so PostgreSQL and
        SQLite both serialise on it) and only then reads the tracking positions, applying
        only the events past them, so no event is applied twice."""
        end = stop if stop is not None else self.source.end()
        topics = sorted({t for p in self.projections for t in p.topics})
        applied = 0
        first: int | None = None
        if min(self.positions().values(), default=end) >= end:
            return 0  # nothing to do: no write transaction, no lock
        with self._thread_lock:
            while True:
                # Read the page before taking the write lock: the library's pool must not
                # be asked for a reader while this thread holds its writer.
                start = min(self.positions().values(), default=end)
                if start >= end:
                    break
                first = start if first is None else first
                events = self.source.read(start, end, batch_size, topics)
                page_end = events[-1][0] if len(events) == batch_size else end
                if self.transform is not None:
                    events = [(position, changed) for position, event in events
                              if (changed := self.transform(position, event)) is not None]
                try:
                    with self.transaction(pipeline=True) as sql:
                        applied += self._apply_page(sql, events, page_end)
                except BaseException:
                    for p in self.projections:
                        p.forget()  # what they kept may hold rolled-back rows
                    raise
                if progress:
                    progress(page_end - first, end - first)
        return applied

    def _apply_page(self, sql: Sql, events: Sequence[tuple[int, Any]], page_end: int) -> int:
        """One page in ``sql``'s transaction: take the lock, read the positions under it
        (another catch-up may have moved them), let each projection prepare for its events,
        apply them in log order, let each finish, track ``page_end``. Returns the number
        of event applications."""
        sql.execute(f"UPDATE {LOCK_TABLE} SET n = n + 1 WHERE id = 1")
        seen = {p.name: self.target.tracked(sql, p.tracking_name) for p in self.projections}
        readers: dict[type, list[Projection]] = {}  # event class -> the projections reading it
        mine: dict[str, list[Any]] = {p.name: [] for p in self.projections}
        work: list[tuple[int, Any, list[Projection]]] = []
        for position, event in events:
            found = readers.get(type(event))
            if found is None:
                found = readers[type(event)] = [p for p in self.projections if p.reads(event)]
            takers = [p for p in found if position > seen[p.name]]
            if takers:
                work.append((position, event, takers))
                for p in takers:
                    mine[p.name].append(event)
        for p in self.projections:
            p.forget()
            if mine[p.name]:
                p.prepare(sql, mine[p.name])
        for position, event, takers in work:
            for p in takers:
                p.apply(sql, position, event)
        for p in self.projections:
            if mine[p.name]:
                p.finish(sql)
            if page_end > seen[p.name]:
                self.target.track(sql, p.tracking_name, page_end)
        return sum(len(takers) for _, _, takers in work)

    def run(self, poll_interval: float = LIVE_POLL_SECONDS,
            until: Callable[[], bool] | None = None) -> None:
        """Live operation: follow the log, one event per transaction (SQLite has no
        LISTEN/NOTIFY subscription in the library, so we poll)."""
        while until is None or not until():
            if not self.catch_up(batch_size=1):
                time.sleep(poll_interval)

    def wait(self, position: int, timeout: float = WAIT_TIMEOUT_SECONDS) -> None:
        """Read-your-writes: block until every projection has reached ``position``."""
        deadline = time.monotonic() + timeout
        while min(self.positions().values(), default=position) < position:
            if time.monotonic() > deadline:
                raise TimeoutError(f"projections did not reach position {position}")
            if not self.catch_up():
                time.sleep(WAIT_POLL_SECONDS)  # the position is not in the log yet


def _generations(sql: Sql) -> dict[str, int]:
    return {r["name"]: int(r["generation"])
            for r in sql.all(f"SELECT name, generation FROM {GENERATIONS_TABLE}")}


def refresh_statistics(projector: Projector) -> list[str]:
    """ANALYZE the projection tables (PostgreSQL) whose planner statistics are missing or
    stale by autovacuum's own rule (rows changed since the last ANALYZE > 50 + 10% of the
    rows), for a server that runs without autovacuum, and for tables just filled faster
    than autovacuum looks. Without statistics the planner takes a customer's sales for
    165 rows and each sale's movements for 1,000, and joins by hashing every movement:
    ``receivables`` then reads the whole table (tens of ms at a million events) instead
    of a few index entries. ANALYZE takes no lock a reader or a writer of rows waits for.
    Returns the tables analyzed (none on SQLite, whose planner needs no statistics to
    prefer an index)."""
    if not projector.is_postgres:
        return []
    tables = sorted({p.t(name) for p in projector.projections for name in p.tables})
    with projector.transaction(commit=False) as sql:
        stale = [r["relname"] for r in sql.all(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
            "AND relname = ANY(?) AND n_mod_since_analyze > 50 + 0.1 * n_live_tup",
            (tables,))]
    if stale:
        with projector.transaction() as sql:
            sql.execute(f"ANALYZE {', '.join(stale)}")
    return stale
