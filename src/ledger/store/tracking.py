"""Where projections write: a store's tables plus the library's tracking records, in one
transaction (ARCHITECTURE Projections: exactly once).

``ProjectionStore`` is the projector's *target* port: it opens transactions on the store
(``Sql``), reads the tracking positions and records a new one inside the caller's
transaction. The tracking recorders here subclass the library's own, which is how the
library's views record tracking in the same transaction as their rows (a view is a
tracking recorder with methods of its own that call ``_insert_tracking`` on their cursor).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment

from ledger.config import Database
from ledger.store.sql import Sql

APPLICATION_NAME = "ledger"  # the library names the PostgreSQL tracking table after it
READ_SETTINGS = ("SET LOCAL search_path TO {}; SET LOCAL jit = off; "
                 "SET LOCAL max_parallel_workers_per_gather = 0")


class _Tracked:
    """A tracking recorder whose records can be read and written inside a transaction the
    caller opened (with the projection rows of the same page)."""

    def tracked(self, cursor: Any, name: str) -> int:
        return self._max_tracking_id(name, cursor) or 0  # type: ignore[attr-defined]

    def track(self, cursor: Any, name: str, position: int) -> None:
        self._insert_tracking(cursor, Tracking(name, position))  # type: ignore[attr-defined]


class SQLiteProjectionRecorder(_Tracked, SQLiteTrackingRecorder):
    pass


class PostgresProjectionRecorder(_Tracked, PostgresTrackingRecorder):
    pass


class ProjectionStore:
    """The projections' store: the live ledger's database (sharing the write side's
    connection pool) or a sandbox of its own."""

    def __init__(self, factory: InfrastructureFactory[Any], is_postgres: bool, *,
                 owns_factory: bool = False) -> None:
        cls: type[TrackingRecorder] = (PostgresProjectionRecorder if is_postgres
                                       else SQLiteProjectionRecorder)
        self.recorder: Any = factory.tracking_recorder(cls)
        self.is_postgres = is_postgres
        self._factory = factory if owns_factory else None

    @classmethod
    def open(cls, database: Database) -> ProjectionStore:
        """A store of its own on ``database`` (a sandbox): close it when done."""
        factory = InfrastructureFactory.construct(Environment(APPLICATION_NAME, database.env))
        return cls(factory, database.is_postgres, owns_factory=True)

    def close(self) -> None:
        if self._factory is not None:
            self._factory.close()

    @contextmanager
    def transaction(self, *, commit: bool = True, pipeline: bool = False) -> Iterator[Sql]:
        """A transaction on the projections' tables. ``pipeline`` (PostgreSQL) sends the
        statements without waiting for each reply (a read waits for the replies before it)
        and holds plain INSERTs back to send them as multi-row INSERTs (``Sql``)."""
        datastore = self.recorder.datastore
        with datastore.transaction(commit=commit) as cursor:
            if not self.is_postgres:
                yield Sql(cursor, False)
                return
            from psycopg.sql import SQL, Identifier

            # unqualified projection tables live in the ledger's schema, not ``public``
            if commit:
                cursor.execute(SQL("SET LOCAL search_path TO {}").format(
                    Identifier(datastore.schema)))
                if pipeline:
                    # A catch-up page's rows are derived: a crash may lose the last pages
                    # committed (rows and tracking together, never one without the other),
                    # and the next catch-up applies those events again. So a page does not
                    # wait for its WAL to reach the disk; the log's own writes (and a
                    # rebuild's switch) still do.
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            else:
                # a read (queries, reports): neither parallel workers nor JIT compiling,
                # each of which costs more (starting workers ~10 ms on a busy machine,
                # compiling 100-500 ms) than it could save on the few rows a query reads;
                # the planner asks for them from its cost estimates alone (a table never
                # analyzed, a big report) -- set in the same round trip as the path, by SET
                # (no snapshot taken: a reader may still choose its isolation level)
                cursor.execute(READ_SETTINGS.format(Identifier(datastore.schema).as_string(cursor)))
            if not pipeline:
                yield Sql(cursor, True)
                return
            with cursor.connection.pipeline() as pipe:
                sql = Sql(cursor, True, pipe, batch_inserts=True)
                yield sql
                sql.verify()

    def tracked(self, sql: Sql, name: str) -> int:
        """The position tracked under ``name``, read in ``sql``'s transaction."""
        return int(self.recorder.tracked(sql.cursor, name))

    def track(self, sql: Sql, name: str, position: int) -> None:
        """Record ``position`` under ``name`` in ``sql``'s transaction."""
        self.recorder.track(sql.cursor, name, position)

    def untrack(self, sql: Sql, name: str) -> None:
        """Forget every position tracked under ``name`` (its tables were dropped), in
        ``sql``'s transaction."""
        table = self.recorder.tracking_table_name if self.is_postgres else "tracking"
        sql.execute(f"DELETE FROM {table} WHERE application_name = ?", (name,))

    def positions(self, names: Sequence[str]) -> dict[str, int]:
        """The position tracked under each name, in one read (every API read asks: one
        statement instead of one connection and statement per projection)."""
        if not self.is_postgres:
            with self.recorder.datastore.transaction(commit=False) as c:
                return {name: self.recorder.tracked(c, name) for name in names}
        from psycopg.sql import SQL, Identifier

        # one MAX per name, each an index lookup (a GROUP BY would scan every tracking row)
        statement = SQL(
            "SELECT name, (SELECT MAX(notification_id) FROM {0}.{1} WHERE application_name = name) "
            "AS max FROM unnest(%s::text[]) AS name"
        ).format(Identifier(self.recorder.datastore.schema),
                 Identifier(self.recorder.tracking_table_name))
        with self.recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (list(names),), prepare=True)
            found = {r["name"]: r["max"] for r in curs.fetchall()}
        return {name: found.get(name) or 0 for name in names}
