"""Fresh stores for tests: the embedded SQLite file or a schema of the real PostgreSQL
server (DEVELOPERS.md: every store-level test runs on both; no database is mocked).

``tests/conftest.py`` uses these for the ``ledger`` fixture (one store per test); property
tests that need a store per hypothesis example use ``scratch_database`` / ``fresh_ledger``.
With CI=true a PostgreSQL server that does not answer is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.config import Database, parse_database_url

PG_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


@lru_cache(maxsize=1)
def postgres_error() -> str | None:
    """Why the test server cannot be used, or None when it answers."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as e:  # noqa: BLE001 - any failure means "not available"
        return f"{type(e).__name__}: {e}"
    return None


def require_postgres() -> None:
    error = postgres_error()
    if error:
        if IN_CI:
            pytest.fail(f"CI=true and PostgreSQL is not available at {PG_URL}: {error}")
        pytest.skip(f"PostgreSQL not available: {error}")


def pg_execute(statement: Any) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(statement)


def drop_schema(schema: str) -> None:
    from psycopg.sql import SQL, Identifier

    pg_execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


@contextlib.contextmanager
def scratch_database(backend: str, folder: str | None = None) -> Iterator[Database]:
    """A fresh, empty store on ``backend`` ("sqlite" or "postgres"), dropped afterwards."""
    if backend == "sqlite":
        if folder is not None:
            yield parse_database_url(f"sqlite:///{folder}/ledger.db")
            return
        with tempfile.TemporaryDirectory() as d:
            yield parse_database_url(f"sqlite:///{os.path.join(d, 'ledger.db')}")
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield parse_database_url(f"{PG_URL}{sep}schema={schema}")
    finally:
        drop_schema(schema)


@contextlib.contextmanager
def fresh_ledger(backend: str) -> Iterator[Ledger]:
    """A ledger on a scratch store (one per hypothesis example)."""
    with scratch_database(backend) as db, Ledger(db) as led:
        yield led
