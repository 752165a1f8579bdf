"""A cursor on either store, with ``?`` placeholders and dict-like rows: the one way the
read side (projection rows, tracking, queries) talks SQL on SQLite and PostgreSQL alike."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

# A plain ``INSERT INTO t (columns) VALUES (?, ...)``: what a batching ``Sql`` may hold
# back and send with the other rows of the same statement as one multi-row INSERT.
_PLAIN_INSERT = re.compile(
    r"\s*INSERT INTO (\w+) \(([\w, ]+)\) VALUES \((\?(?:, ?\?)*)\)\s*", re.ASCII)
MAX_BATCH_ROWS = 5_000  # rows in one multi-row INSERT
SEND_AT_ROWS = 250  # rows held of one statement that are sent at once (pipelined)
_encode = msgspec.json.Encoder().encode


@functools.lru_cache(maxsize=512)
def plain_insert(statement: str) -> tuple[str, tuple[str, ...]] | None:
    """(table, column names) when ``statement`` is a plain single-row INSERT whose values
    are all placeholders; None otherwise (anything that reads, updates or may skip a row)."""
    m = _PLAIN_INSERT.fullmatch(statement)
    if m is None:
        return None
    names = tuple(c.strip() for c in m.group(2).split(","))
    return (m.group(1), names) if m.group(3).count("?") == len(names) else None


class _Held:
    """Rows of one plain INSERT statement not sent yet."""

    __slots__ = ("table", "names", "text", "rows")

    def __init__(self, table: str, names: tuple[str, ...]) -> None:
        self.table = table
        self.names = names
        columns = ", ".join(names)
        self.text = (f"INSERT INTO {table} ({columns}) SELECT {columns} "
                     f"FROM json_populate_recordset(NULL::{table}, %s::json)")
        self.rows: list[tuple[Any, ...]] = []


class Sql:
    """A cursor on either backend, with ``?`` placeholders and dict-like rows.

    In a pipelined PostgreSQL transaction each statement gets its own cursor, so that
    ``rowcount`` (which waits for the replies) is the last statement's.

    With ``batch_inserts`` (a catch-up page) plain single-row INSERTs are held back and
    sent as one multi-row INSERT per statement: before any other statement that names
    their table (a read, an UPDATE, an INSERT ... SELECT sees every row written before
    it, as if each had been sent at once), and before the transaction commits. A page of
    a thousand events then costs a few dozen statements instead of thousands; what the
    tables hold at commit is the same, row for row."""

    def __init__(self, cursor: Any, is_postgres: bool, pipeline: Any = None, *,
                 batch_inserts: bool = False) -> None:
        self.cursor = cursor
        self.is_postgres = is_postgres
        self.pipeline = pipeline  # psycopg's pipeline, when statements are pipelined
        self.batch_inserts = batch_inserts
        self._last = cursor
        self._held_rows = 0  # rows of the last statement, when it was held back
        self._checks: list[tuple[Any, int, str, type[Exception]]] = []
        self._held: dict[str, _Held] = {}  # statement -> its rows held back

    def expect_rows(self, expected: int, what: str, error: type[Exception] = LookupError) -> None:
        """The last statement must have written ``expected`` rows. Checked at once on
        SQLite; when pipelined, before the transaction commits (no wait per statement)."""
        if self._held_rows:
            written = self._held_rows  # a plain INSERT writes each of its rows or fails
            if written != expected:
                raise error(f"{what}: wrote {written} rows, expected {expected}")
        elif self.pipeline is None:
            written = self.rowcount
            if written != expected:
                raise error(f"{what}: wrote {written} rows, expected {expected}")
        else:
            self._checks.append((self._last, expected, what, error))

    def verify(self) -> None:
        """Send the rows held back, wait for the pipeline's replies and run the deferred
        row checks."""
        self.flush()
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
        if self.batch_inserts and self._hold(statement, (tuple(params),)):
            return
        self._before(statement)
        self._next().execute(self._q(statement), tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        values = [tuple(r) for r in rows]
        if not values:
            return
        if self.batch_inserts and self._hold(statement, values):
            return
        self._before(statement)
        self._next().executemany(self._q(statement), values)

    # --- held-back INSERTs ----------------------------------------------------------------

    def _hold(self, statement: str, rows: Sequence[tuple[Any, ...]]) -> bool:
        held = self._held.get(statement)
        if held is None:
            found = plain_insert(statement)
            if found is None:
                return False
            held = self._held[statement] = _Held(*found)
        held.rows.extend(rows)
        self._held_rows = len(rows)
        if len(held.rows) >= SEND_AT_ROWS:
            self.flush([statement])  # the server writes them while Python goes on
        return True

    def _before(self, statement: str) -> None:
        """Send the held rows of every table ``statement`` names, before it runs."""
        self._held_rows = 0
        if self._held:
            self.flush([s for s, h in self._held.items() if h.table in statement])

    def flush(self, statements: Sequence[str] | None = None) -> None:
        """Send the rows held back (of ``statements``, or all), in the order the
        statements were first held: one INSERT per statement and chunk, its rows one
        JSON parameter that PostgreSQL turns into rows of the table's own column types
        (``json_populate_recordset``), so the statement's text is the same for every
        chunk and psycopg dumps one value instead of one per column and row."""
        for statement in list(self._held) if statements is None else statements:
            held = self._held.pop(statement)
            for i in range(0, len(held.rows), MAX_BATCH_ROWS):
                chunk = held.rows[i:i + MAX_BATCH_ROWS]
                names = held.names
                document = _encode([dict(zip(names, row, strict=True)) for row in chunk])
                self._next().execute(held.text, (document.decode(),), prepare=True)

    @property
    def rowcount(self) -> int:
        """Rows the last statement wrote (waits for the pipeline's replies first)."""
        if self._held_rows:
            return self._held_rows
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
