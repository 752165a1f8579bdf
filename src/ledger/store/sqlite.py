"""The library's SQLite persistence module with a real statement cache.

``eventsourcing.sqlite`` (9.5.6) connects with ``cached_statements=True``, which Python's
``sqlite3`` reads as a cache of ONE statement, so every statement but the last is parsed
again on each use. This module is the same persistence module (``PERSISTENCE_MODULE =
ledger.store.sqlite``) with connections that keep 256 prepared statements; everything
else (WAL mode, locking, the recorders) is the library's.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from eventsourcing.persistence import InterfaceError
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteFactory,
)

STATEMENT_CACHE = 256


class LedgerSQLiteConnectionPool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # auto-commit mode: transactions are explicit
                cached_statements=STATEMENT_CACHE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            cursor = c.cursor()
            cursor.execute("PRAGMA journal_mode;")
            if cursor.fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL;")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        c.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=c, max_age=self.max_age)


class Factory(SQLiteFactory):
    def __init__(self, env: Any) -> None:
        super().__init__(env)
        library_pool = self.datastore.pool
        self.datastore.pool = LedgerSQLiteConnectionPool(
            db_name=library_pool.db_name, lock_timeout=library_pool.lock_timeout,
            pool_size=library_pool.pool_size, max_overflow=library_pool.max_overflow,
            pool_timeout=library_pool.pool_timeout, max_age=library_pool.max_age,
            pre_ping=library_pool.pre_ping,
        )
        library_pool.close()
