"""Test fixtures: every store-level test runs on SQLite and on the real PostgreSQL, each
in its own fresh database file or schema (DEVELOPERS.md). No database is ever mocked.

With CI=true a PostgreSQL server that does not answer fails the run; elsewhere the
PostgreSQL variants are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from ledger.application import Ledger
from ledger.config import Database, parse_database_url

PG_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgres")


def _postgres_error() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as e:  # noqa: BLE001 - any failure means "not available"
        return f"{type(e).__name__}: {e}"
    return None


_PG_ERROR = _postgres_error()


def pytest_sessionstart(session: pytest.Session) -> None:
    if _PG_ERROR and os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(f"CI=true and PostgreSQL is not available at {PG_URL}: {_PG_ERROR}")


def pytest_report_header(config: pytest.Config) -> str:
    return f"postgres: {'available at ' + PG_URL if not _PG_ERROR else 'NOT available: ' + _PG_ERROR}"


def _drop_schema(schema: str) -> None:
    import psycopg
    from psycopg.sql import SQL, Identifier

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


@pytest.fixture
def fresh_database(backend: str, tmp_path: object) -> Iterator[Database]:
    """A fresh, empty store on the backend named by the test's ``backend`` parameter."""
    if backend == "sqlite":
        yield parse_database_url(f"sqlite:///{tmp_path}/ledger.db")
        return
    if _PG_ERROR:
        pytest.skip(f"PostgreSQL not available: {_PG_ERROR}")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    sep = "&" if "?" in PG_URL else "?"
    yield parse_database_url(f"{PG_URL}{sep}schema={schema}")
    _drop_schema(schema)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def ledger(fresh_database: Database) -> Iterator[Ledger]:
    with Ledger(fresh_database) as led:
        yield led
