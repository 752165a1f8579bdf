"""The INSERTs a catch-up page holds back (``store.sql.Sql`` with ``batch_inserts``: on
PostgreSQL, one ``INSERT ... SELECT ... FROM json_populate_recordset`` per statement) write
what the same INSERTs sent one by one write, value for value: text with any character a
command may hold, integers at the ends of BIGINT and INTEGER (past 2^53, where a JSON
number read as a float would round), NULL, digits into BIGINT, an int into TEXT; a read,
an UPDATE or an INSERT ... SELECT naming the table (under an alias too) sees every row held
before it; a PRIMARY KEY conflict among held rows is the same error and nothing commits.
Both stores (SQLite sends each INSERT at once: the reference)."""

from __future__ import annotations

import pytest

from ledger.bootstrap import Runtime
from ledger.store.sql import MAX_BATCH_ROWS, SEND_AT_ROWS

TEXTS = ["", " ", "tab\there", "new\nline", "cr\r", 'quote"s', "back\\slash", "\\u0000",
         "null", "NULL", "true", "1e5", "007", "é", "\u2028\u2029", "😀𝄞", '{"a": 1}', "[1,2]",
         "x" * 10_000, "%s", "?", "$1", "'; DROP TABLE t; --", "\u00a0\ufeff"]
NUMBERS = [0, -1, 2**63 - 1, -2**63, 2**53 + 1, -(2**53) - 1, "42"]
INSERT = "INSERT INTO {} (k, s, n, i) VALUES (?, ?, ?, ?)"


def _rows() -> list[tuple]:
    rows: list[tuple] = [(k, s, k, None) for k, s in enumerate(TEXTS)]
    rows += [(100 + k, None, n, 2**31 - 1 if k % 2 else -2**31) for k, n in enumerate(NUMBERS)]
    rows.append((200, 5, 1, 0))  # an int into TEXT
    return rows


@pytest.fixture
def store(ledger):
    store = Runtime.for_ledger(ledger).store
    with store.transaction() as sql:
        for table in ("held", "direct", "copied"):
            sql.execute(f"CREATE TABLE {table} (k BIGINT PRIMARY KEY, s TEXT, n BIGINT NOT NULL, "
                        "i INTEGER)")
    return store


def _table(store, table: str) -> list[dict]:
    with store.transaction(commit=False) as sql:
        return sql.all(f"SELECT k, s, n, i FROM {table} ORDER BY k")


def test_held_rows_are_the_rows_sent_one_by_one(store):
    with store.transaction(pipeline=True) as sql:
        assert sql.batch_inserts == store.is_postgres
        for row in _rows():
            sql.execute(INSERT.format("held"), row)
        sql.expect_rows(1, "the last row")
    with store.transaction() as sql:
        for row in _rows():
            sql.execute(INSERT.format("direct"), row)
    held = _table(store, "held")
    assert held == _table(store, "direct")
    assert [r["s"] for r in held[:len(TEXTS)]] == TEXTS
    assert [r["n"] for r in held[len(TEXTS):-1]] == [int(n) for n in NUMBERS]
    assert held[-1]["s"] == "5"


def test_what_names_the_table_sees_the_rows_held_before_it(store):
    with store.transaction(pipeline=True) as sql:
        sql.executemany(INSERT.format("held"), [(k, "a", k, k) for k in range(10)])
        assert sql.scalar("SELECT COUNT(*) FROM held h WHERE h.n >= ?", (0,)) == 10
        sql.execute(INSERT.format("held"), (10, "b", 10, 10))
        sql.execute("UPDATE held SET s = ? WHERE k >= ?", ("updated", 5))
        sql.execute(INSERT.format("held"), (11, "c", 11, 11))
        sql.execute("INSERT INTO copied (k, s, n, i) SELECT x.k, x.s, x.n, x.i FROM held x "
                    "WHERE x.k > ?", (7,))
        sql.execute(INSERT.format("copied"), (99, "last", 99, None))
        assert sql.all("SELECT k FROM copied ORDER BY k DESC")[0]["k"] == 99
    held = _table(store, "held")
    assert [(r["k"], r["s"]) for r in held] == (
        [(k, "a") for k in range(5)] + [(k, "updated") for k in range(5, 11)] + [(11, "c")])
    assert [(r["k"], r["s"]) for r in _table(store, "copied")] == [
        (8, "updated"), (9, "updated"), (10, "updated"), (11, "c"), (99, "last")]


def test_more_rows_than_a_statement_sends_all_arrive_in_order(store):
    count = MAX_BATCH_ROWS + SEND_AT_ROWS + 1
    with store.transaction(pipeline=True) as sql:
        sql.executemany(INSERT.format("held"), [(k, str(k), k, None) for k in range(count - 1)])
        sql.execute(INSERT.format("held"), (count - 1, "last", 0, None))
    held = _table(store, "held")
    assert len(held) == count
    assert [r["k"] for r in held] == list(range(count))
    assert held[-1]["s"] == "last"


def test_a_primary_key_conflict_among_held_rows_fails_the_page_and_nothing_commits(store):
    errors = []
    for pipeline in (True, False):
        with pytest.raises(Exception) as failed:
            with store.transaction(pipeline=pipeline) as sql:
                sql.execute(INSERT.format("held"), (1, "first", 1, 1))
                sql.execute(INSERT.format("direct"), (1, "other table", 1, 1))
                sql.execute(INSERT.format("held"), (1, "again", 1, 1))
        errors.append(type(failed.value).__name__)
    assert errors == ["IntegrityError", "IntegrityError"]
    assert _table(store, "held") == [] and _table(store, "direct") == []
