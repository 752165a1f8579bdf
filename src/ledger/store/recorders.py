"""Application recorders: the library's SQLite and PostgreSQL recorders, plus the
``ledger_rejections`` table written in the same transaction as the events.

A rejected command stores no event (SPEC 1, Identity) but its answer is kept under its
``command_id`` so that a repeat answers the first answer. The rows ride on the
``save(..., rejections=[...])`` keyword that the library passes down to
``_insert_events``, so one transaction holds a batch's events and its rejections.
The hash chain (``ledger_chain``) is written in that transaction too (``store/chain.py``).
Applied commands are recorded as ``CommandRecord`` aggregates (see domain/commands_log).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ledger.store.chain import PostgresChainMixin, SQLiteChainMixin

REJECTIONS_TABLE = "ledger_rejections"


class SQLiteLedgerRecorder(SQLiteChainMixin, SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {REJECTIONS_TABLE} ("
            "command_id TEXT PRIMARY KEY, body_hash TEXT NOT NULL, answer BLOB NOT NULL)"
        )
        return statements

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        rejections = kwargs.get("rejections") or ()
        if rejections:
            c.executemany(
                f"INSERT OR IGNORE INTO {REJECTIONS_TABLE} VALUES (?,?,?)",
                [tuple(r) for r in rejections],
            )
        return super()._insert_events(c, stored_events, **kwargs)

    def select_rejections(self, command_ids: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        ids = list(command_ids)
        found: dict[str, tuple[str, bytes]] = {}
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                c.execute(
                    f"SELECT command_id, body_hash, answer FROM {REJECTIONS_TABLE} "
                    f"WHERE command_id IN ({marks})",
                    chunk,
                )
                for row in c.fetchall():
                    found[row[0]] = (row[1], bytes(row[2]))
        return found

    def select_events_after(self, after: Iterable[tuple[UUID, int]]) -> list[StoredEvent]:
        """The events of each (aggregate id, version) pair's aggregate past that version,
        in one read transaction (per aggregate in version order)."""
        out: list[StoredEvent] = []
        with self.datastore.transaction(commit=False) as c:
            for agg_id, version in after:
                c.execute(
                    f"SELECT originator_version, topic, state FROM {self.events_table_name} "
                    "WHERE originator_id = ? AND originator_version > ? "
                    "ORDER BY originator_version",
                    (agg_id.hex, version),
                )
                out.extend(StoredEvent(agg_id, row[0], row[1], bytes(row[2]))
                           for row in c.fetchall())
        return out

    def select_first_events(self, originator_ids: Iterable[UUID]) -> dict[UUID, StoredEvent]:
        ids = [i.hex for i in originator_ids]
        found: dict[UUID, StoredEvent] = {}
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                c.execute(
                    f"SELECT originator_id, originator_version, topic, state FROM "
                    f"{self.events_table_name} WHERE originator_version=1 AND "
                    f"originator_id IN ({marks})",
                    chunk,
                )
                for row in c.fetchall():
                    oid = UUID(row[0])
                    found[oid] = StoredEvent(oid, row[1], row[2], bytes(row[3]))
        return found


class PostgresLedgerRecorder(PostgresChainMixin, PostgresApplicationRecorder):
    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        table = Identifier(REJECTIONS_TABLE)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} (command_id text PRIMARY KEY, "
                "body_hash text NOT NULL, answer bytea NOT NULL)"
            ).format(schema, table)
        )
        self._insert_rejection = SQL(
            "INSERT INTO {}.{} VALUES (%s, %s, %s) ON CONFLICT (command_id) DO NOTHING"
        ).format(schema, table)
        self._select_rejections = SQL(
            "SELECT command_id, body_hash, answer FROM {}.{} WHERE command_id = ANY(%s)"
        ).format(schema, table)
        self._select_after = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%b::{}[], %b::bigint[]) AS w(id, v) JOIN {}.{} AS e "
            "ON e.originator_id = w.id AND e.originator_version > w.v "
            "ORDER BY e.originator_id, e.originator_version"
        ).format(SQL(self.datastore.originator_id_type), schema,
                 Identifier(self.events_table_name))
        self._select_first = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE originator_version = 1 AND originator_id = ANY(%s)"
        ).format(schema, Identifier(self.events_table_name))

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        rejections = kwargs.get("rejections") or ()
        if rejections:
            curs.executemany(self._insert_rejection, [tuple(r) for r in rejections])
        super()._insert_events(curs, stored_events, **kwargs)

    def select_rejections(self, command_ids: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        ids = list(command_ids)
        if not ids:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_rejections, (ids,))
            return {
                row["command_id"]: (row["body_hash"], bytes(row["answer"]))
                for row in curs.fetchall()
            }

    def select_events_after(self, after: Iterable[tuple[UUID, int]]) -> list[StoredEvent]:
        """The events of each (aggregate id, version) pair's aggregate past that version,
        in one query (per aggregate in version order)."""
        pairs = list(after)
        if not pairs:
            return []
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._select_after, ([p[0] for p in pairs], [p[1] for p in pairs]),
                         prepare=True, binary=True)
            return [StoredEvent(row[0], row[1], row[2], bytes(row[3])) for row in curs.fetchall()]

    def select_first_events(self, originator_ids: Iterable[UUID]) -> dict[UUID, StoredEvent]:
        ids = list(originator_ids)
        if not ids:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_first, (ids,))
            return {
                row["originator_id"]: StoredEvent(
                    row["originator_id"], row["originator_version"], row["topic"],
                    bytes(row["state"]),
                )
                for row in curs.fetchall()
            }


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
