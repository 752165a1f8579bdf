"""Tracked projections: the read side's machinery (SPEC 3, ARCHITECTURE Projections).

A ``Projection`` owns some tables and turns events into rows. The ``Projector`` reads the
ledger's notification log and applies each event to every projection that has not seen
it, writing the rows *and* the projections' tracking positions (the library's tracking
recorder, ``_insert_tracking``) in one transaction: a crash at any point leaves either
both or neither, so every event is applied exactly once.

Catch-up reads many events per transaction (``batch_size``); live operation uses
``batch_size=1``. Both paths run the same ``apply`` code and reach the same state.

Tables live beside the log (the SQLite file, or the PostgreSQL schema) and are named
``<projection>_<table>_g<generation>``, so that a rebuild fills a new generation while the
old one answers queries (``GENERATIONS_TABLE`` says which one answers).
SQL is written once with ``?`` placeholders and runs on both backends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from eventsourcing.persistence import Tracking

from ledger.application import Ledger

SOURCE = "ledger"  # the upstream application's name in tracking records
LOCK_TABLE = "projection_lock"  # one row: every catch-up page takes it first
# Which generation of each projection answers queries (a rebuild fills the next one, then
# switches this row; SPEC 4 rebuild). No row: generation 1.
GENERATIONS_TABLE = "projection_generations"


class Sql:
    """A cursor on either backend, with ``?`` placeholders and dict-like rows.

    In a pipelined PostgreSQL transaction each statement gets its own cursor, so that
    ``rowcount`` (which waits for the replies) is the last statement's."""

    def __init__(self, cursor: Any, is_postgres: bool, pipeline: Any = None) -> None:
        self.cursor = cursor
        self.is_postgres = is_postgres
        self.pipeline = pipeline  # psycopg's pipeline, when statements are pipelined
        self._last = cursor
        self._checks: list[tuple[Any, int, str, type[Exception]]] = []

    def expect_rows(self, expected: int, what: str, error: type[Exception] = LookupError) -> None:
        """The last statement must have written ``expected`` rows. Checked at once on
        SQLite; when pipelined, before the transaction commits (no wait per statement)."""
        if self.pipeline is None:
            written = self.rowcount
            if written != expected:
                raise error(f"{what}: wrote {written} rows, expected {expected}")
        else:
            self._checks.append((self._last, expected, what, error))

    def verify(self) -> None:
        """Wait for the pipeline's replies and run the deferred row checks."""
        if self.pipeline is None or not self._checks:
            return
        self.pipeline.sync()
        for cursor, expected, what, error in self._checks:
            if cursor.rowcount != expected:
                raise error(f"{what}: wrote {cursor.rowcount} rows, expected {expected}")
        self._checks.clear()

    def _q(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.is_postgres else statement

    def _next(self) -> Any:
        self._last = self.cursor.connection.cursor() if self.pipeline is not None else self.cursor
        return self._last

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._next().execute(self._q(statement), tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            self._next().executemany(self._q(statement), rows)

    @property
    def rowcount(self) -> int:
        """Rows the last statement wrote (waits for the pipeline's replies first)."""
        if self.pipeline is not None:
            self.pipeline.sync()
        return int(getattr(self._last, "sqlite_cursor", self._last).rowcount)

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.execute(statement, params)
        return [dict(r) for r in self._last.fetchall()]

    def one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.all(statement, params)
        return rows[0] if rows else None

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(statement, params)
        return next(iter(row.values())) if row else None


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

    def apply(self, sql: Sql, position: int, event: Any) -> None:  # pragma: no cover
        raise NotImplementedError


# What a replay may do to each event before the projections see it: return the event
# (perhaps amended) or None to leave it out (what-if, SPEC 4).
Transform = Callable[[int, Any], Any | None]


class Projector:
    """Keeps a set of projections up to date with the ledger's log.

    The events come from ``ledger``'s log; the tables and their tracking live in
    ``target``'s store (default: the ledger's own). A sandbox (replay, SPEC 4) is a
    projector whose target is a throwaway store, optionally with a ``transform`` that
    leaves out or amends events; the live log and the live tables are never written."""

    def __init__(self, ledger: Ledger, projections: Sequence[Projection], *,
                 target: Ledger | None = None, transform: Transform | None = None,
                 follow_generations: bool = False) -> None:
        self.ledger = ledger
        self.target = target if target is not None else ledger
        self.transform = transform
        self.projections = list(projections)
        self.tracker = self.target.app.factory.tracking_recorder()
        self.is_postgres = self.target.database.is_postgres
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

    # --- transactions -----------------------------------------------------------------

    @contextmanager
    def transaction(self, *, commit: bool = True, pipeline: bool = False) -> Iterator[Sql]:
        """A transaction on the projections' tables. ``pipeline`` (PostgreSQL) sends the
        statements without waiting for each reply; a read waits for the replies before it."""
        with self.tracker.datastore.transaction(commit=commit) as cursor:
            if not self.is_postgres:
                yield Sql(cursor, False)
                return
            from psycopg.sql import SQL, Identifier

            # unqualified projection tables live in the ledger's schema, not ``public``
            cursor.execute(SQL("SET LOCAL search_path TO {}").format(
                Identifier(self.tracker.datastore.schema)))
            if not pipeline:
                yield Sql(cursor, True)
                return
            with cursor.connection.pipeline() as pipe:
                sql = Sql(cursor, True, pipe)
                yield sql
                sql.verify()

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
        return self.tracker.max_tracking_id(projection.tracking_name) or 0

    def positions(self) -> dict[str, int]:
        """Every projection's tracking position, in one read (every API read asks: one
        statement instead of one connection and statement per projection)."""
        projections = list(self.projections)
        if not self.is_postgres:
            with self.tracker.datastore.transaction(commit=False) as c:
                return {p.name: self.tracker._max_tracking_id(p.tracking_name, c) or 0  # noqa: SLF001
                        for p in projections}
        from psycopg.sql import SQL, Identifier

        # one MAX per name, each an index lookup (a GROUP BY would scan every tracking row)
        statement = SQL(
            "SELECT name, (SELECT MAX(notification_id) FROM {0}.{1} WHERE application_name = name) "
            "AS max FROM unnest(%s::text[]) AS name"
        ).format(Identifier(self.tracker.datastore.schema),
                 Identifier(self.tracker.tracking_table_name))
        with self.tracker.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, ([p.tracking_name for p in projections],), prepare=True)
            found = {r["name"]: r["max"] for r in curs.fetchall()}
        return {p.name: found.get(p.tracking_name) or 0 for p in projections}

    # --- processing -------------------------------------------------------------------

    def catch_up(self, batch_size: int = 1000, stop: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> int:
        """Apply every event up to ``stop`` (default: the log's end now), ``batch_size``
        events per transaction. Returns the number of event applications.

        Safe when several catch-ups run at once, in threads or in processes: each page's
        transaction first takes the projector's lock row (a write, so PostgreSQL and
        SQLite both serialise on it) and only then reads the tracking positions, applying
        only the events past them, so no event is applied twice."""
        app = self.ledger.app
        end = stop if stop is not None else (app.recorder.max_notification_id() or 0)
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
                notes = app.recorder.select_notifications(
                    start=start, limit=batch_size, stop=end, topics=topics,
                    inclusive_of_start=False,
                )
                page_end = notes[-1].id if len(notes) == batch_size else end
                events = [(n.id, n.topic, app.mapper.to_domain_event(n)) for n in notes]
                if self.transform is not None:
                    events = [(position, topic, changed) for position, topic, event in events
                              if (changed := self.transform(position, event)) is not None]
                with self.transaction(pipeline=True) as sql:
                    sql.execute(f"UPDATE {LOCK_TABLE} SET n = n + 1 WHERE id = 1")
                    # positions again, under the lock: another catch-up may have moved them
                    seen = {
                        p.name: self.tracker._max_tracking_id(  # noqa: SLF001
                            p.tracking_name, sql.cursor) or 0
                        for p in self.projections
                    }
                    for position, topic, event in events:
                        for p in self.projections:
                            if position > seen[p.name] and topic in p.topics:
                                p.apply(sql, position, event)
                                applied += 1
                    for p in self.projections:
                        if page_end > seen[p.name]:
                            self.tracker._insert_tracking(  # noqa: SLF001 - the library's hook
                                sql.cursor, Tracking(p.tracking_name, page_end)
                            )
                if progress:
                    progress(page_end - first, end - first)
        return applied

    def run(self, poll_interval: float = 0.2, until: Callable[[], bool] | None = None) -> None:
        """Live operation: follow the log, one event per transaction (SQLite has no
        LISTEN/NOTIFY subscription in the library, so we poll)."""
        while until is None or not until():
            if not self.catch_up(batch_size=1):
                time.sleep(poll_interval)

    def wait(self, position: int, timeout: float = 10.0) -> None:
        """Read-your-writes: block until every projection has reached ``position``."""
        deadline = time.monotonic() + timeout
        while min(self.positions().values(), default=position) < position:
            if time.monotonic() > deadline:
                raise TimeoutError(f"projections did not reach position {position}")
            if not self.catch_up():
                time.sleep(0.05)  # the position is not in the log yet (another writer)


def _generations(sql: Sql) -> dict[str, int]:
    return {r["name"]: int(r["generation"])
            for r in sql.all(f"SELECT name, generation FROM {GENERATIONS_TABLE}")}


def projector_for(ledger: Ledger, projections: Sequence[type[Projection]] | None = None) -> Projector:
    """The live projector: each projection in the generation that answers queries now."""
    from ledger.projections import ALL_PROJECTIONS

    return Projector(ledger, [cls() for cls in (projections or ALL_PROJECTIONS)],
                     follow_generations=True)
