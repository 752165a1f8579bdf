"""Test fixtures: every store-level test runs on SQLite and on the real PostgreSQL, each
in its own fresh database file or schema (DEVELOPERS.md). No database is ever mocked.

With CI=true a PostgreSQL server that does not answer fails the run; elsewhere the
PostgreSQL variants are skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stores import IN_CI, PG_URL, postgres_error, scratch_database

from ledger.application import Ledger
from ledger.config import Database

BACKENDS = ("sqlite", "postgres")


def pytest_sessionstart(session: pytest.Session) -> None:
    if postgres_error() and IN_CI:
        raise pytest.UsageError(f"CI=true and PostgreSQL is not available at {PG_URL}: {postgres_error()}")


def pytest_report_header(config: pytest.Config) -> str:
    error = postgres_error()
    return f"postgres: {'available at ' + PG_URL if not error else 'NOT available: ' + error}"


@pytest.fixture
def fresh_database(backend: str, tmp_path: object) -> Iterator[Database]:
    """A fresh, empty store on the backend named by the test's ``backend`` parameter."""
    with scratch_database(backend, str(tmp_path)) as db:
        yield db


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def ledger(fresh_database: Database) -> Iterator[Ledger]:
    with Ledger(fresh_database) as led:
        yield led
