"""A cursor on either store, with ``?`` placeholders and dict-like rows: the one way the
read side (projection rows, tracking, queries) talks SQL on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class Sql:
    """A cursor on either backend, with ``?`` placeholders and dict-like rows.

    In a pipelined PostgreSQL transaction each statement gets its own cursor, so that
    ``rowcount`` (which waits for the replies) is the last statement's."""

    def __init__(self, cursor: Any, is_postgres: bool, pipeline: Any = None) -> None:
        self.cursor = cursor
        self.is_postgres = is_postgres
        self.pipeline = pipeline  # psycopg's pipeline, when statements are pipelined
        self._last = cursor
        self._checks: list[tuple[Any, int, str, type[Exception]]] = []

    def expect_rows(self, expected: int, what: str, error: type[Exception] = LookupError) -> None:
        """The last statement must have written ``expected`` rows. Checked at once on
        SQLite; when pipelined, before the transaction commits (no wait per statement)."""
        if self.pipeline is None:
            written = self.rowcount
            if written != expected:
                raise error(f"{what}: wrote {written} rows, expected {expected}")
        else:
            self._checks.append((self._last, expected, what, error))

    def verify(self) -> None:
        """Wait for the pipeline's replies and run the deferred row checks."""
        if self.pipeline is None or not self._checks:
            return
        self.pipeline.sync()
        for cursor, expected, what, error in self._checks:
            if cursor.rowcount != expected:
                raise error(f"{what}: wrote {cursor.rowcount} rows, expected {expected}")
        self._checks.clear()

    def _q(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.is_postgres else statement

    def _next(self) -> Any:
        self._last = self.cursor.connection.cursor() if self.pipeline is not None else self.cursor
        return self._last

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._next().execute(self._q(statement), tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            self._next().executemany(self._q(statement), rows)

    @property
    def rowcount(self) -> int:
        """Rows the last statement wrote (waits for the pipeline's replies first)."""
        if self.pipeline is not None:
            self.pipeline.sync()
        return int(getattr(self._last, "sqlite_cursor", self._last).rowcount)

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.execute(statement, params)
        return [dict(r) for r in self._last.fetchall()]

    def one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.all(statement, params)
        return rows[0] if rows else None

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(statement, params)
        return next(iter(row.values())) if row else None
