"""The library's own application-recorder test cases, run against the ledger's recorders
(which add the hash chain and the rejections table): SQLite's, and on PostgreSQL the one
built on the library's own recorder (``ledger.store.recorders.PostgresLedgerRecorder``,
selectable with ``APPLICATION_RECORDER_TOPIC``; the default, ``pg_fast``, has its own run
in tests/store/test_pg_fast_recorder.py); after each, the chain over whatever the case
wrote verifies."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.tests.persistence import ApplicationRecorderTestCase
from eventsourcing.utils import get_topic
from stores import scratch_database

from ledger.application import Ledger
from ledger.replay.chain import verify
from ledger.store.recorders import PostgresLedgerRecorder


class _Contract(ApplicationRecorderTestCase):  # type: ignore[type-arg]
    __test__ = False
    backend = "sqlite"

    def setUp(self) -> None:
        self._folder = tempfile.TemporaryDirectory()
        self._scratch = scratch_database(self.backend, str(Path(self._folder.name)))
        db = self._scratch.__enter__()
        if self.backend == "postgres":
            db = replace(db, env={**db.env, "APPLICATION_RECORDER_TOPIC":
                                  get_topic(PostgresLedgerRecorder)})
        self._ledger = Ledger(db)

    def tearDown(self) -> None:
        self._ledger.close()
        self._scratch.__exit__(None, None, None)
        self._folder.cleanup()

    def create_recorder(self) -> Any:
        recorder = self._ledger.app.recorder
        if self.backend == "postgres":
            assert type(recorder) is PostgresLedgerRecorder
        return recorder

    def _chain_ok(self) -> None:
        v = verify(self._ledger.app.recorder)
        assert v.ok, v.first_break
        assert v.events > 0

    def test_insert_select(self) -> None:
        super().test_insert_select()
        self._chain_ok()

    def test_concurrent_throughput(self) -> None:
        super().test_concurrent_throughput()
        self._chain_ok()

    @pytest.mark.skip(reason="timing only, no assertion (the library prints a rate)")
    def test_performance(self) -> None: ...

    @pytest.mark.skip(reason="100,000 events from 10 threads: too slow for this suite; "
                             "test_concurrent_throughput and tests/replay/test_chain.py cover "
                             "concurrent writers")
    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None: ...


class TestSQLiteLedgerRecorder(_Contract):
    __test__ = True
    backend = "sqlite"


class TestPostgresLedgerRecorder(_Contract):
    __test__ = True
    backend = "postgres"
