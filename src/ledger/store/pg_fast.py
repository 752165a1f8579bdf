"""A PostgreSQL application recorder of our own below the library's API (issue 12).

Same tables, same transaction and same guarantees as ``PostgresLedgerRecorder`` (the
library's recorder plus the hash chain and the rejections table): the events table is
locked in EXCLUSIVE mode before the insert, so positions are handed out and committed in
the same order (gapless in commit order), and the chain rows are written in the same
transaction, after the insert, from the last chain row. What changes is how the rows
travel: by binary COPY, the events and then the chain rows, instead of the library's one
array of composite values built and dumped in Python row by row (two ``re.sub`` per row)
and an ``executemany`` of the chain rows (a statement per row). COPY returns no
positions: they are read back, the ones past the highest position committed before the
COPY (under the EXCLUSIVE lock no one else inserts), in order, as many as events copied
(else the transaction fails). The rejections, the lock and the NOTIFY travel in one
pipeline before the COPY.

The PostgreSQL recorder ``ledger.config`` selects (``APPLICATION_RECORDER_TOPIC``). The
library's recorder with the same additions, ``ledger.store.recorders.PostgresLedgerRecorder``,
stays selectable by that variable (the tests compare the two logs)::

    from dataclasses import replace
    db = parse_database_url(url)
    db = replace(db, env={**db.env, "APPLICATION_RECORDER_TOPIC":
                          "ledger.store.recorders:PostgresLedgerRecorder"})
    Ledger(db)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, ProgrammingError, StoredEvent
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from ledger.replay.chain import chain_rows
from ledger.store.chain import CHAIN_TABLE, _new_rows
from ledger.store.recorders import PostgresLedgerRecorder

TOPIC = "ledger.store.pg_fast:FastPostgresLedgerRecorder"


class FastPostgresLedgerRecorder(PostgresLedgerRecorder):
    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        events = Identifier(self.events_table_name)
        self._id_type = self.datastore.originator_id_type  # "uuid" or "text"
        self._max_id = SQL(
            "SELECT COALESCE(MAX(notification_id), 0) AS n FROM {}.{}").format(schema, events)
        self._copy_events = SQL(
            "COPY {}.{} (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)").format(schema, events)
        self._ids_after = SQL(
            "SELECT notification_id FROM {}.{} WHERE notification_id > %s "
            "ORDER BY notification_id").format(schema, events)
        self._copy_chain = SQL(
            "COPY {}.{} (position, prev_position, hash) FROM STDIN (FORMAT BINARY)"
        ).format(schema, Identifier(CHAIN_TABLE))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        """The library's ``insert_events`` (one transaction: the rejections, the table
        lock, the events, their positions, the chain), with the events and the chain rows
        sent by binary COPY. Positions: under the EXCLUSIVE lock no other transaction
        inserts, so the events' positions are those past the highest committed one, in
        the order the rows were copied (checked: as many as events)."""
        ids: list[int] | None = None
        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as curs:
            with conn.pipeline():
                self._insert_events(curs, stored_events, **kwargs)  # the rejections
                if stored_events:
                    self._lock_table(curs)
                    self._notify_channel(curs)
                    curs.execute(self._max_id, prepare=True)
            if stored_events:
                before = curs.fetchone()["n"]
                with curs.copy(self._copy_events) as copy:
                    copy.set_types([self._id_type, "int8", "text", "bytea"])
                    for e in stored_events:
                        copy.write_row((e.originator_id, e.originator_version, e.topic, e.state))
                curs.execute(self._ids_after, (before,), prepare=True)
                ids = [row["notification_id"] for row in curs.fetchall()]
                if len(ids) != len(stored_events):
                    raise ProgrammingError(f"{len(ids)} positions for {len(stored_events)} "
                                           "events copied")
                self._chain_new(curs, _new_rows(ids, stored_events))
        return ids

    def _chain_new(self, curs: Any, rows: list[Any]) -> None:
        curs.execute(self._chain_last, prepare=True)
        last = curs.fetchone()
        if last is None:
            prev_pos, prev = self._seal(curs, rows[0][0] - 1)
        else:
            prev_pos, prev = last["position"], bytes(last["hash"])
        with curs.copy(self._copy_chain) as copy:
            copy.set_types(["int8", "int8", "bytea"])
            for row in chain_rows(prev_pos, prev, rows):
                copy.write_row(row)
