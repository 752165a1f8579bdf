"""The hash chain's table, written by the recorders in the same transaction as the events.

``ledger_chain(position PRIMARY KEY, prev_position, hash)``: one row per stored event,
``hash`` as defined in ``ledger.replay.chain``. The mixins hook the library's recorders
where the new events' positions become known inside the insert transaction:

- SQLite: ``_insert_events`` returns the rowids; the write lock is already held (the
  events were just inserted), so the last chain row read next is the latest committed.
- PostgreSQL: ``_fetch_ids_after_insert_events`` runs after the library has taken its
  EXCLUSIVE lock on the events table and inserted the events, still in the transaction,
  so positions commit in order and the last chain row is the previous event's.

Every write path (import, HTTP, month close, the demo) saves through these recorders, so
every event is chained. A database written before chaining existed (no chain row at
all) is sealed — its events chained from the first — by the first write that finds the
chain empty, or by ``ledger verify --seal``. The recorders also serve the reads
verification needs (``ledger.replay.chain.LogSource``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ledger.replay.chain import GENESIS, ChainError, ChainRow, EventRow, chain_rows

CHAIN_TABLE = "ledger_chain"
SEAL_PAGE = 2000


def _new_rows(ids: Sequence[int], stored_events: Sequence[StoredEvent]) -> list[EventRow]:
    return sorted(
        (pos, s.originator_id, s.originator_version, s.topic, s.state)
        for pos, s in zip(ids, stored_events, strict=True)
    )


class SQLiteChainMixin:
    """For ``SQLiteApplicationRecorder`` subclasses (put the mixin first)."""

    events_table_name: str
    datastore: Any

    def construct_create_table_statements(self) -> list[str]:
        statements: list[str] = super().construct_create_table_statements()  # type: ignore[misc]
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} (position INTEGER PRIMARY KEY, "
            "prev_position INTEGER NOT NULL, hash BLOB NOT NULL)"
        )
        return statements

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)  # type: ignore[misc]
        if ids:
            self._chain_new(c, _new_rows(ids, stored_events))
        return ids

    def _chain_new(self, c: Any, rows: list[EventRow]) -> None:
        c.execute(f"SELECT position, hash FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1")
        last = c.fetchone()
        if last is None:
            prev_pos, prev = self._seal(c, rows[0][0] - 1)
        else:
            prev_pos, prev = last[0], bytes(last[1])
        c.executemany(f"INSERT INTO {CHAIN_TABLE} VALUES (?,?,?)", chain_rows(prev_pos, prev, rows))

    def _seal(self, c: Any, stop: int) -> tuple[int, bytes]:
        """Chain the events up to ``stop`` of a log that has no chain row at all."""
        prev_pos, prev = 0, GENESIS
        while True:
            c.execute(
                f"SELECT rowid, originator_id, originator_version, topic, state FROM "
                f"{self.events_table_name} WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?",
                (prev_pos, stop, SEAL_PAGE),
            )
            page = [(r[0], _sqlite_id(r[1]), r[2], r[3], _blob(r[4])) for r in c.fetchall()]
            if not page:
                return prev_pos, prev
            rows = chain_rows(prev_pos, prev, page)
            c.executemany(f"INSERT INTO {CHAIN_TABLE} VALUES (?,?,?)", rows)
            prev_pos, prev = rows[-1][0], rows[-1][2]

    def seal_chain(self) -> int:
        """Chain a log written before chaining existed; returns the events chained."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"SELECT COUNT(*) FROM {CHAIN_TABLE}")
            if c.fetchone()[0]:
                raise ChainError("the log is already chained: --seal only chains a log with no chain")
            c.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
            stop = c.fetchone()[0] or 0
            self._seal(c, stop)
            c.execute(f"SELECT COUNT(*) FROM {CHAIN_TABLE}")
            return int(c.fetchone()[0])

    # --- reads for verification (ledger.replay.chain.LogSource) -------------------------

    def log_end(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT MAX(COALESCE((SELECT MAX(rowid) FROM {self.events_table_name}), 0), "
                f"COALESCE((SELECT MAX(position) FROM {CHAIN_TABLE}), 0))"
            )
            return int(c.fetchone()[0])

    def select_event_rows(self, start: int, stop: int, limit: int) -> list[EventRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid, originator_id, originator_version, topic, state FROM "
                f"{self.events_table_name} WHERE rowid >= ? AND rowid <= ? ORDER BY rowid LIMIT ?",
                (start, stop, limit),
            )
            return [(r[0], _sqlite_id(r[1]), r[2], r[3], _blob(r[4])) for r in c.fetchall()]

    def select_chain(self, start: int, stop: int, limit: int) -> list[ChainRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT position, prev_position, hash FROM {CHAIN_TABLE} "
                "WHERE position >= ? AND position <= ? ORDER BY position LIMIT ?",
                (start, stop, limit),
            )
            return [(r[0], r[1], bytes(r[2])) for r in c.fetchall()]

    def count_events(self, stop: int) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT COUNT(*) FROM {self.events_table_name} WHERE rowid <= ?", (stop,))
            return int(c.fetchone()[0])


class PostgresChainMixin:
    """For ``PostgresApplicationRecorder`` subclasses (put the mixin first)."""

    events_table_name: str
    datastore: Any
    sql_create_statements: list[Any]

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)  # type: ignore[call-arg]
        if self.datastore.enable_db_functions:
            raise ChainError("POSTGRES_ENABLE_DB_FUNCTIONS bypasses the hash chain; leave it off")
        schema = Identifier(self.datastore.schema)
        chain = Identifier(CHAIN_TABLE)
        events = Identifier(self.events_table_name)
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {}.{} (position bigint PRIMARY KEY, "
                "prev_position bigint NOT NULL, hash bytea NOT NULL)").format(schema, chain)
        )
        self._chain_last = SQL(
            "SELECT position, hash FROM {}.{} ORDER BY position DESC LIMIT 1").format(schema, chain)
        self._chain_insert = SQL("INSERT INTO {}.{} VALUES (%s, %s, %s)").format(schema, chain)
        self._chain_count = SQL("SELECT COUNT(*) AS n FROM {}.{}").format(schema, chain)
        self._chain_select = SQL(
            "SELECT position, prev_position, hash FROM {}.{} WHERE position >= %s "
            "AND position <= %s ORDER BY position LIMIT %s").format(schema, chain)
        self._events_select = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE notification_id >= %s AND notification_id <= %s ORDER BY notification_id "
            "LIMIT %s").format(schema, events)
        self._events_count = SQL(
            "SELECT COUNT(*) AS n FROM {}.{} WHERE notification_id <= %s").format(schema, events)
        self._log_end = SQL(
            "SELECT GREATEST(COALESCE((SELECT MAX(notification_id) FROM {}.{}), 0), "
            "COALESCE((SELECT MAX(position) FROM {}.{}), 0)) AS n").format(schema, events, schema, chain)

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)  # type: ignore[misc]
        if ids:
            self._chain_new(curs, _new_rows(ids, stored_events))
        return ids

    def _chain_new(self, curs: Any, rows: list[EventRow]) -> None:
        curs.execute(self._chain_last)
        last = curs.fetchone()
        if last is None:
            prev_pos, prev = self._seal(curs, rows[0][0] - 1)
        else:
            prev_pos, prev = last["position"], bytes(last["hash"])
        curs.executemany(self._chain_insert, chain_rows(prev_pos, prev, rows))

    def _seal(self, curs: Any, stop: int) -> tuple[int, bytes]:
        prev_pos, prev = 0, GENESIS
        while True:
            curs.execute(self._events_select, (prev_pos + 1, stop, SEAL_PAGE))
            page = [_pg_event(r) for r in curs.fetchall()]
            if not page:
                return prev_pos, prev
            rows = chain_rows(prev_pos, prev, page)
            curs.executemany(self._chain_insert, rows)
            prev_pos, prev = rows[-1][0], rows[-1][2]

    def seal_chain(self) -> int:
        with self.datastore.transaction(commit=True) as curs:
            for statement in self.lock_table_statements:  # type: ignore[attr-defined]
                curs.execute(statement)
            curs.execute(self._chain_count)
            if curs.fetchone()["n"]:
                raise ChainError("the log is already chained: --seal only chains a log with no chain")
            curs.execute(self.max_notification_id_statement)  # type: ignore[attr-defined]
            row = curs.fetchone()
            self._seal(curs, (row["max"] if row else None) or 0)
            curs.execute(self._chain_count)
            return int(curs.fetchone()["n"])

    def log_end(self) -> int:
        return int(self._one(self._log_end, ())["n"])

    # Verification reads in binary (bytea arrives as bytes, not hex text) as plain tuples.
    def select_event_rows(self, start: int, stop: int, limit: int) -> list[EventRow]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._events_select, (start, stop, limit), prepare=True, binary=True)
            return [(r[0], r[1], r[2], r[3], _blob(r[4])) for r in curs.fetchall()]

    def select_chain(self, start: int, stop: int, limit: int) -> list[ChainRow]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._chain_select, (start, stop, limit), prepare=True, binary=True)
            return [(r[0], r[1], bytes(r[2])) for r in curs.fetchall()]

    def count_events(self, stop: int) -> int:
        return int(self._one(self._events_count, (stop,))["n"])

    def _one(self, statement: Any, params: Any) -> Any:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return curs.fetchone()


def _pg_event(r: Any) -> EventRow:
    return (r["notification_id"], r["originator_id"], r["originator_version"], r["topic"],
            _blob(r["state"]))


def _sqlite_id(text: Any) -> Any:
    """The 16 bytes of a UUID stored as 32 hex digits; anything else is left for the
    chain to refuse (a tampered header must not stop verification)."""
    if isinstance(text, str) and len(text) == 32:
        try:
            return bytes.fromhex(text)
        except ValueError:
            return text
    return text


def _blob(value: Any) -> Any:
    return bytes(value) if value is not None else None
