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


@pytest.fixture(autouse=True)
def _command_ids_as_when_the_answers_were_recorded(request: pytest.FixtureRequest) -> None:
    """tests/test_answers_unchanged.py's samples store names its commands with
    ``support.cmd``'s running counter (``PayCommission-10`` ...), and its recorded answers
    hold those ids, as counted when that module runs alone. Other modules advance the
    counter (some at import), so in a full run the ids differed and the answers with them:
    start the counter afresh for that module, as when it runs alone."""
    if request.module.__name__ == "test_answers_unchanged":
        import itertools

        import support

        support._ids = itertools.count(1)
