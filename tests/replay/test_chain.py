"""The hash chain on both stores: written with the events by every write path, and every
kind of tampering done with plain SQL on the real database found at its position."""

from __future__ import annotations

import threading
import uuid

import pytest
import rawsql
from support import applied, at, cmd, sale, setup_company

from ledger.application import Ledger
from ledger.replay.chain import GENESIS, event_hash, verify
from ledger.store.chain import ChainError


def company(ledger: Ledger, sales: int = 6) -> int:
    """The standard company and a few sales; returns the last position."""
    setup_company(ledger)
    for i in range(sales):
        applied(ledger, sale(f"S{i}", day=f"2024-03-{5 + i:02d}"))
    return ledger.max_position()


def check(ledger: Ledger):
    return verify(ledger.app.recorder, page=7)  # small pages: the walk crosses page ends


def test_every_event_is_chained_in_log_order_by_import_http_and_month_close(ledger, fresh_database):
    from fastapi.testclient import TestClient

    from ledger.api import ApiKeys, create_app
    from ledger.bootstrap import Runtime

    company(ledger, sales=3)
    applied(ledger, cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01")))
    with TestClient(create_app(Runtime.for_ledger(ledger), ApiKeys({"key-sa": "sa"}))) as client:
        answer = client.post("/v1/commands", json=sale("S-http", day="2024-04-03"),
                             headers={"Authorization": "Bearer key-sa"})
        assert answer.status_code == 200, answer.text
    end = ledger.max_position()
    rows = rawsql.run(fresh_database, "SELECT position, prev_position, hash FROM {chain} ORDER BY position")
    events = rawsql.run(fresh_database, "SELECT {pos} FROM {events} ORDER BY {pos}")
    assert [r[0] for r in rows] == [e[0] for e in events] == list(range(1, end + 1))
    # each row: SHA-256 over the previous hash, position, aggregate, version, topic, payload
    prev = GENESIS
    for position, prev_position, stored in rows:
        oid, version, topic, state = rawsql.event(fresh_database, position)
        expected = event_hash(prev, position, uuid.UUID(str(oid)), version, topic, state)
        assert (prev_position, bytes(stored)) == (position - 1, expected)
        prev = expected
    v = check(ledger)
    assert (v.ok, v.events, v.position, v.head, v.first_break) == (True, end, end, prev, None)
    assert v.tree_size == end


def test_concurrent_writers_keep_one_chain(backend, fresh_database):
    with Ledger(fresh_database) as first:
        setup_company(first)
    ledgers = [Ledger(fresh_database) for _ in range(2)]  # two writers, two connection pools
    errors: list[BaseException] = []

    def write(led: Ledger, tag: str) -> None:
        try:
            for i in range(12):
                led.execute([sale(f"{tag}{i}-{j}", day="2024-03-05") for j in range(3)])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=write, args=(led, t)) for led, t in zip(ledgers, "AB")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for led in ledgers:
        led.close()
    assert errors == []
    with Ledger(fresh_database) as led:
        v = check(led)
        assert v.ok, v.first_break
        # PostgreSQL positions keep the gaps of rolled-back (conflicting) inserts
        assert v.position == led.max_position()
        assert v.events == rawsql.run(fresh_database, "SELECT COUNT(*) FROM {chain}")[0][0] \
            == rawsql.run(fresh_database, "SELECT COUNT(*) FROM {events}")[0][0] > 100


# --- tampering with plain SQL -------------------------------------------------------------


def test_a_changed_payload_byte_is_altered_at_its_position(ledger, fresh_database):
    company(ledger)
    p = 20
    *_, state = rawsql.event(fresh_database, p)
    k = len(state) // 2
    changed = state[:k] + bytes([state[k] ^ 1]) + state[k + 1:]  # one bit of one byte
    rawsql.run(fresh_database, "UPDATE {events} SET state = ? WHERE {pos} = ?", (changed, p))
    v = check(ledger)
    assert not v.ok
    assert (v.first_break.position, v.first_break.kind) == (p, "altered")
    assert "does not match its chain hash" in v.first_break.detail


def test_a_changed_header_or_chain_row_is_altered(ledger, fresh_database):
    end = company(ledger)
    rawsql.run(fresh_database, "UPDATE {events} SET topic = ? WHERE {pos} = ?", ("x.y:Z", end - 1))
    assert (check(ledger).first_break.position, check(ledger).first_break.kind) == (end - 1, "altered")
    rawsql.run(fresh_database, "UPDATE {chain} SET hash = ? WHERE position = ?", (bytes(32), 4))
    assert (check(ledger).first_break.position, check(ledger).first_break.kind) == (4, "altered")
    # a header no recorder writes (NULL) is a break too, not a crash of verify
    rawsql.run(fresh_database, "UPDATE {events} SET topic = NULL, state = NULL WHERE {pos} = ?", (2,))
    assert (check(ledger).first_break.position, check(ledger).first_break.kind) == (2, "altered")


def test_a_deleted_event_is_missing_at_its_position(ledger, fresh_database):
    company(ledger)
    rawsql.run(fresh_database, "DELETE FROM {events} WHERE {pos} = ?", (17,))
    v = check(ledger)
    assert (v.first_break.position, v.first_break.kind) == (17, "missing")
    assert v.events == ledger.max_position() - 1


def test_an_event_deleted_with_its_chain_row_is_missing(ledger, fresh_database):
    end = company(ledger)
    rawsql.run(fresh_database, "DELETE FROM {events} WHERE {pos} = ?", (9,))
    rawsql.run(fresh_database, "DELETE FROM {chain} WHERE position = ?", (9,))
    v = check(ledger)
    assert (v.first_break.position, v.first_break.kind) == (9, "missing")
    assert "follows position 9" in v.first_break.detail
    assert (v.events, v.position) == (end - 1, end)


def test_an_inserted_event_is_inserted_at_its_position(ledger, fresh_database):
    end = company(ledger)
    oid, version, topic, state = rawsql.event(fresh_database, end)
    new_id = uuid.uuid4()
    rawsql.run(fresh_database, "INSERT INTO {events} (originator_id, originator_version, topic, state) "
                               "VALUES (?, ?, ?, ?)",
               (new_id.hex if not fresh_database.is_postgres else new_id, 1, topic, state))
    v = check(ledger)
    assert (v.first_break.position, v.first_break.kind) == (end + 1, "inserted")
    assert v.first_break.detail == f"the event at position {end + 1} has no chain row"
    assert v.events == end + 1


def test_swapped_payloads_are_reordered_naming_both_positions(ledger, fresh_database):
    company(ledger)
    p, q = 21, 25
    sp, sq = rawsql.event(fresh_database, p)[3], rawsql.event(fresh_database, q)[3]
    assert sp != sq
    rawsql.run(fresh_database, "UPDATE {events} SET state = ? WHERE {pos} = ?", (sq, p))
    rawsql.run(fresh_database, "UPDATE {events} SET state = ? WHERE {pos} = ?", (sp, q))
    v = check(ledger)
    assert (v.first_break.position, v.first_break.kind) == (p, "reordered")
    assert v.first_break.detail == f"the payload stored at position {p} is the one the chain records at position {q}"


def test_a_gap_in_positions_is_not_a_break_but_an_event_put_into_it_is_inserted(backend, ledger, fresh_database):
    if backend == "sqlite":
        pytest.skip("SQLite positions are rowids: a rolled-back insert leaves no gap")
    company(ledger, sales=1)
    (seq,) = rawsql.run(fresh_database, "SELECT pg_get_serial_sequence('{events}', 'notification_id')")[0]
    (gap,) = rawsql.run(fresh_database, f"SELECT nextval('{seq}')")[0]  # what a rolled-back insert leaves
    applied(ledger, sale("S-after", day="2024-03-20"))
    assert check(ledger).ok
    (prev_position,) = rawsql.run(fresh_database, "SELECT prev_position FROM {chain} WHERE position = ?", (gap + 1,))[0]
    assert prev_position == gap - 1
    # an event put into the gap with a chain row forged to chain from its predecessor
    oid, version, topic, state = rawsql.event(fresh_database, gap - 1)
    new_id = uuid.uuid4()
    prev = bytes(rawsql.run(fresh_database, "SELECT hash FROM {chain} WHERE position = ?", (gap - 1,))[0][0])
    rawsql.run(fresh_database, "INSERT INTO {events} VALUES (?, ?, ?, ?, ?)", (new_id, 1, topic, state, gap))
    rawsql.run(fresh_database, "INSERT INTO {chain} VALUES (?, ?, ?)",
               (gap, gap - 1, event_hash(prev, gap, new_id, 1, topic, state)))
    v = check(ledger)
    assert (v.first_break.position, v.first_break.kind) == (gap, "inserted")
    assert f"follows position {gap - 1}" in v.first_break.detail


# --- logs written before chaining -------------------------------------------------------------


def test_an_unchained_log_is_reported_then_sealed_once(ledger, fresh_database):
    end = company(ledger)
    rawsql.run(fresh_database, "DELETE FROM {chain}")  # as a database from before chaining
    v = check(ledger)
    assert (v.first_break.position, v.first_break.kind) == (1, "missing")
    assert "ledger verify --seal" in v.first_break.detail
    assert ledger.app.recorder.seal_chain() == end
    assert check(ledger).ok
    with pytest.raises(ChainError, match="already chained"):
        ledger.app.recorder.seal_chain()


def test_the_first_write_to_an_unchained_log_seals_it(ledger, fresh_database):
    end = company(ledger)
    rawsql.run(fresh_database, "DELETE FROM {chain}")
    applied(ledger, sale("S-new", day="2024-03-21"))
    v = check(ledger)
    assert v.ok, v.first_break
    assert v.events == ledger.max_position() > end
    assert rawsql.run(fresh_database, "SELECT COUNT(*) FROM {chain}")[0][0] == v.events


# --- the edges of the log -----------------------------------------------------------------


def test_breaks_at_the_first_and_last_positions(ledger, fresh_database):
    end = company(ledger, sales=2)
    s1, s2, s_end = (rawsql.event(fresh_database, p)[3] for p in (1, 2, end))
    # the first two payloads swapped: reordered at 1, naming 2
    rawsql.run(fresh_database, "UPDATE {events} SET state = ? WHERE {pos} = ?", (s2, 1))
    rawsql.run(fresh_database, "UPDATE {events} SET state = ? WHERE {pos} = ?", (s1, 2))
    brk = check(ledger).first_break
    assert (brk.position, brk.kind) == (1, "reordered") and brk.detail.endswith("at position 2")
    rawsql.run(fresh_database, "UPDATE {events} SET state = ? WHERE {pos} = ?", (s1, 1))
    rawsql.run(fresh_database, "UPDATE {events} SET state = ? WHERE {pos} = ?", (s2, 2))
    assert check(ledger).ok
    # the last event altered, then deleted (its chain row stays)
    rawsql.run(fresh_database, "UPDATE {events} SET state = ? WHERE {pos} = ?", (s_end + b" ", end))
    assert (check(ledger).first_break.position, check(ledger).first_break.kind) == (end, "altered")
    rawsql.run(fresh_database, "DELETE FROM {events} WHERE {pos} = ?", (end,))
    assert (check(ledger).first_break.position, check(ledger).first_break.kind) == (end, "missing")
    # the first event deleted
    rawsql.run(fresh_database, "DELETE FROM {events} WHERE {pos} = ?", (1,))
    assert (check(ledger).first_break.position, check(ledger).first_break.kind) == (1, "missing")


def test_two_whole_rows_swapped_are_reordered(ledger, fresh_database):
    company(ledger, sales=2)
    p, q = 12, 30
    a, b = rawsql.event(fresh_database, p), rawsql.event(fresh_database, q)
    rawsql.run(fresh_database, "DELETE FROM {events} WHERE {pos} IN (?, ?)", (p, q))
    for position, (oid, version, topic, state) in ((p, b), (q, a)):
        rawsql.run(fresh_database, "INSERT INTO {events} (originator_id, originator_version, topic, state, {pos}) "
                                   "VALUES (?, ?, ?, ?, ?)", (oid, version, topic, state, position))
    brk = check(ledger).first_break
    assert (brk.position, brk.kind) == (p, "reordered")
    assert brk.detail == f"the event stored at position {p} is the one the chain records at position {q}"
