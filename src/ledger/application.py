"""The ledger: one event-sourced application, one log (ARCHITECTURE), and its command path.

``Ledger`` is the facade the CLI, the HTTP API, the demo, the benchmarks and the tests
hold: a database, a clock, and two entry points for commands (JSON objects):

- ``handle(bodies) -> list[Answer]``: the typed answers (``Applied | Duplicate |
  Rejected``, ``ledger.service.answers``) that the edges encode (the HTTP API, the import);
- ``execute(bodies) -> list[dict]`` and ``execute_one(body) -> dict``: the same answers as
  the JSON objects the edges write (the dict edge the tests read).

The service layer does the work: ``service.batches`` judges batches and retries them,
``service.idempotency`` finds first answers, ``service.unit_of_work`` holds a batch's
aggregates and is the one module that touches the eventsourcing library's internals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ledger.config import Database, ensure_schema
from ledger.domain.calendar import business_date, utcnow
from ledger.domain.policies import PolicyBook, default_version
from ledger.service import unit_of_work
from ledger.service.answers import Answer
from ledger.service.answers import document as answer_document
from ledger.service.batches import Batch, segments
from ledger.service.unit_of_work import LedgerApplication

__all__ = ["Ledger", "LedgerApplication"]


class Ledger:
    """The write side: a database, a clock, and the command path (built by the composition
    root, ``ledger.bootstrap``)."""

    def __init__(self, database: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        ensure_schema(self.database)
        self.app = LedgerApplication(env=self.database.env)
        self.clock = clock
        self._write_lock = threading.Lock()
        self.conflicts = 0  # batches replayed after a version conflict (for tests, metrics)

    def close(self) -> None:
        self.app.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the command path -------------------------------------------------------------

    def handle(self, bodies: Sequence[Any]) -> list[Answer]:
        """Apply a batch of commands (JSON objects) in order; one typed answer each.

        A command that reads the log (``CloseMonth``) must see every command before it,
        so it ends the batch before it and runs on its own."""
        answers: list[Answer] = []
        with self._write_lock:
            for segment in segments(bodies):
                batch = Batch(self.app, self.clock, self._before_save)
                try:
                    answers.extend(batch.run(segment))
                finally:
                    self.conflicts += batch.conflicts
        return answers

    def execute(self, bodies: Sequence[Any]) -> list[dict[str, Any]]:
        """``handle``'s answers as the JSON objects the edges write."""
        return [answer_document(answer) for answer in self.handle(bodies)]

    def execute_one(self, body: Any) -> dict[str, Any]:
        return self.execute([body])[0]

    def _before_save(self) -> None:
        """A seam for tests that need two writers to reach the save at the same time."""

    # --- reading ----------------------------------------------------------------------

    def load(self, cls: type[Any], *key: str) -> Any | None:
        """The aggregate ``cls`` of business id ``key`` as saved, or None: what the edges
        ask of the write side (a caller's roles, a rep's own user)."""
        return unit_of_work.saved(self.app, cls.create_id(*key))

    def max_position(self) -> int:
        return unit_of_work.log_position(self.app)

    def currency(self) -> str:
        """The ledger's currency (policy ``currency`` in force today, SPEC 1)."""
        book = unit_of_work.saved(self.app, PolicyBook.create_id())
        day = business_date(self.clock())
        version = book.in_force("currency", day) if book is not None else default_version("currency")
        return str(version.values["code"])

    def with_currency(self, document: Any) -> Any:
        """A query document naming its currency (SPEC 1: every query document does)."""
        if isinstance(document, dict) and "currency" not in document:
            return {**document, "currency": self.currency()}
        return document
