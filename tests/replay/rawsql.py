"""Plain SQL on a test database, bypassing the ledger: how a tamperer would edit the log.

Statements use ``?`` placeholders and ``{pos}`` for the position column (``rowid`` on
SQLite, ``notification_id`` on PostgreSQL); ``{events}`` and ``{chain}`` name the tables.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ledger.config import Database


def run(db: Database, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    names = {"events": "ledger_events" if db.is_postgres else "stored_events", "chain": "ledger_chain",
             "pos": "notification_id" if db.is_postgres else "rowid"}
    statement = statement.format(**names)
    if not db.is_postgres:
        conn = sqlite3.connect(db.env["SQLITE_DBNAME"], isolation_level=None)
        try:
            cur = conn.execute(statement, params)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()
    import psycopg

    e = db.env
    with psycopg.connect(dbname=e["POSTGRES_DBNAME"], host=e["POSTGRES_HOST"], port=e["POSTGRES_PORT"],
                         user=e["POSTGRES_USER"], password=e["POSTGRES_PASSWORD"], autocommit=True,
                         options=f"-c search_path={db.schema}") as conn:
        cur = conn.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
        return [tuple(r) for r in cur.fetchall()] if cur.description else []


def event(db: Database, position: int) -> tuple[Any, int, str, bytes]:
    """(aggregate id, version, topic, payload) of the event stored at ``position``."""
    (row,) = run(db, "SELECT originator_id, originator_version, topic, state FROM {events} "
                     "WHERE {pos} = ?", (position,))
    return row[0], row[1], row[2], bytes(row[3])
