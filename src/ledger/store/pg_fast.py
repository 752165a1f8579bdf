"""A PostgreSQL application recorder of our own below the library's API (issue 12, lever 1).

Same tables, same transaction and same guarantees as ``PostgresLedgerRecorder`` (the
library's recorder plus the hash chain and the rejections table): the events table is
locked in EXCLUSIVE mode before the insert, so positions are handed out and committed in
the same order (gapless in commit order), and the chain rows are written in the same
transaction, after the insert, from the last chain row. What changes is how the rows
travel:

- the events go in one ``INSERT … SELECT FROM unnest(uuid[], bigint[], text[], bytea[])
  RETURNING notification_id`` of four plain arrays, which psycopg dumps in C, instead of
  one array of composite values built and dumped in Python, row by row;
- the chain rows go in one ``INSERT … SELECT FROM unnest(bigint[], bigint[], bytea[])``
  instead of ``executemany`` (a statement per row);
- both travel in binary: psycopg's pure-Python text dumping escapes every array element
  with a regular expression (two ``re.sub`` per row, the largest cost of the library's
  recorder after the server's own time); binary arrays are packed, not escaped.

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

from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Identifier

from ledger.replay.chain import chain_rows
from ledger.store.chain import CHAIN_TABLE
from ledger.store.recorders import PostgresLedgerRecorder

TOPIC = "ledger.store.pg_fast:FastPostgresLedgerRecorder"


class FastPostgresLedgerRecorder(PostgresLedgerRecorder):
    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        id_type = SQL(self.datastore.originator_id_type)  # "uuid" or "text"
        self._fast_insert = SQL(
            "INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{}[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(schema, Identifier(self.events_table_name), id_type)
        self._fast_chain = SQL(
            "INSERT INTO {}.{} (position, prev_position, hash) "
            "SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::bytea[])"
        ).format(schema, Identifier(CHAIN_TABLE))

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                              **kwargs: Any) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self._fast_insert, (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        ), prepare=True, binary=True)

    def _chain_new(self, curs: Any, rows: list[Any]) -> None:
        curs.execute(self._chain_last, prepare=True)
        last = curs.fetchone()
        if last is None:
            prev_pos, prev = self._seal(curs, rows[0][0] - 1)
        else:
            prev_pos, prev = last["position"], bytes(last["hash"])
        chain = chain_rows(prev_pos, prev, rows)
        curs.execute(self._fast_chain, ([r[0] for r in chain], [r[1] for r in chain],
                                        [r[2] for r in chain]), prepare=True, binary=True)
