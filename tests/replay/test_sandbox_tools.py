"""Replay tooling over a sandbox (SPEC 4): as-of a log position or recorded time, what-if
with events excluded or amended, and the drift check; the log and the live tables are
never touched. Both stores."""

from __future__ import annotations

import hashlib

import pytest
from projections.scenarios import NOW, build_receivables, clocked, dump  # noqa: F401
from support import cmd, sale

from ledger.bootstrap import projector_for
from ledger.projections.receivables import query_receivables
from ledger.replay.drift import drift
from ledger.replay.sandbox import position_at_time, sandbox
from ledger.replay.whatif import WhatIfError, parse_amend, what_if


def _position_of(ledger, topic: str, **fields) -> int:
    for n in ledger.app.recorder.select_notifications(start=1, limit=100_000):
        if n.topic == f"ledger:{topic}":
            e = ledger.app.mapper.to_domain_event(n)
            if all(getattr(e, k) == v for k, v in fields.items()):
                return n.id
    raise AssertionError(f"no {topic} {fields}")


def _fingerprint(ledger, live) -> str:
    """A hash of the whole log (positions, topics, payloads) and every live table."""
    h = hashlib.sha256()
    for n in ledger.app.recorder.select_notifications(start=1, limit=1_000_000):
        h.update(f"{n.id}|{n.originator_id}|{n.originator_version}|{n.topic}|".encode())
        h.update(bytes(n.state))
    h.update(repr(sorted(dump(live).items())).encode())
    return h.hexdigest()


def test_as_of_a_position_answers_what_the_query_answered_then(clocked):
    ledger = clocked
    live = projector_for(ledger)
    build_receivables(ledger)
    # replay the log again, answering at each payment's position, as a reader then did
    p1 = _position_of(ledger, "Customer.PaymentRecorded", payment_id="P1")
    p2 = _position_of(ledger, "Customer.PaymentRecorded", payment_id="P2")
    with sandbox(live.source, clock=live.clock, stop=p1) as then:
        at_p1 = query_receivables(then, "C1")
    with sandbox(live.source, clock=live.clock, stop=p2) as then:
        at_p2 = query_receivables(then, "C1")
    live.catch_up()
    now = query_receivables(live, "C1")
    # by hand (tests/projections/scenarios.py): after P1, S1 70,000 and S2 50,000 open
    assert {i["sale_id"]: i["open"] for i in at_p1["items"]} == {"S1": 70_000, "S2": 50_000}
    assert at_p1["open_total"] == 120_000
    # after P2 (and RT1, W1): S1 0 open with 10,000 written off unrecovered, S2 35,000
    assert at_p2["open_total"] == 35_000
    assert now["open_total"] == 54_000  # S5's 19,000 came later
    assert at_p1 != now


def test_as_of_equals_the_answer_recorded_at_that_time(clocked):
    """The same bytes: an answer recorded live at a position equals the sandbox's."""
    ledger = clocked
    live = projector_for(ledger)
    from support import setup_company

    setup_company(ledger)
    ledger.execute_one(sale("S1", 3))
    live.catch_up()
    recorded = query_receivables(live, "C1")
    position = ledger.max_position()
    ledger.execute_one(sale("S2", 2))
    ledger.execute_one(cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1",
                           amount=10_000, received_on="2024-03-06"))
    with sandbox(live.source, clock=live.clock, stop=position) as then:
        assert query_receivables(then, "C1") == recorded


def test_position_at_a_recorded_time(clocked):
    ledger = clocked
    from support import setup_company

    from datetime import datetime, timedelta, timezone

    setup_company(ledger)
    middle = ledger.max_position()
    stamps = [ledger.app.mapper.to_domain_event(n).timestamp
              for n in ledger.app.recorder.select_notifications(start=1, limit=1000)]
    ledger.execute_one(sale("S1"))
    # events carry the time they were recorded (the store's clock, not business time)
    source = projector_for(ledger).source
    assert position_at_time(source, datetime.now(timezone.utc)) == ledger.max_position()
    assert position_at_time(source, max(stamps)) == middle
    assert position_at_time(source, min(stamps) - timedelta(microseconds=1)) == 0


def test_what_if_lists_changed_figures_and_touches_nothing(clocked):
    ledger = clocked
    build_receivables(ledger)
    ledger.execute_one(cmd("AllocateBudget", "fin", budget_id="B1", department="east",
                           category="advertising", period="2024-Q2", amount=100_000,
                           approved_by="dir"))
    live = projector_for(ledger)
    live.catch_up()
    before = _fingerprint(ledger, live)
    s5 = _position_of(ledger, "Customer.SaleRecorded", sale_id="S5")
    p1 = _position_of(ledger, "Customer.PaymentRecorded", payment_id="P1")
    answer = what_if(live, exclude=[p1])
    changes = {(c["projection"], c["key"], c["field"]): c for c in answer["changes"]}
    # without P1's 30,000, S1 and C1 owe 30,000 more; nothing else about C1's sales moves
    assert changes[("receivables", "C1", "open_total")]["difference"] == 30_000
    assert changes[("receivables", "C1", "open_total")]["live"] == 54_000
    assert changes[("receivables", "C1", "open_total")]["what_if"] == 84_000
    assert all(c["difference"] in (30_000, -30_000) or c["key"].startswith("C1/")
               for c in answer["changes"] if c["projection"] == "receivables")
    # the sale S5 at half its price: 9,500 less owed, and R2's June sales 9,500 lower
    amended = what_if(live, amend={s5: {"gross": 9_500, "vat": 1_093}})
    got = {(c["projection"], c["key"], c["field"]): c["difference"] for c in amended["changes"]}
    assert got[("receivables", "C1/S5", "open")] == -9_500
    assert got[("receivables", "C1", "open_total")] == -9_500
    assert got[("commissions", "R2/2024-06", "personal_sales")] == -9_500
    # a budget allocation left out: its figures drop to zero in the what-if
    allocated = _position_of(ledger, "Budget.Allocated", budget_id="B1")
    gone = what_if(live, exclude=[allocated])["changes"]
    assert {(c["key"], c["field"], c["difference"]) for c in gone} == {
        ("B1", "allocated", -100_000), ("B1", "remaining", -100_000)}
    assert _fingerprint(ledger, live) == before


def test_what_if_refuses_positions_and_fields_that_do_not_exist(clocked):
    ledger = clocked
    build_receivables(ledger)
    live = projector_for(ledger)
    with pytest.raises(WhatIfError) as e:
        what_if(live, exclude=[ledger.max_position() + 1])
    assert e.value.rule == "unknown_reference"
    s5 = _position_of(ledger, "Customer.SaleRecorded", sale_id="S5")
    with pytest.raises(WhatIfError) as e:
        what_if(live, amend={s5: {"no_such_field": 1}})
    assert e.value.rule == "invalid_field" and "no_such_field" in e.value.message
    with pytest.raises(WhatIfError):
        parse_amend("12")
    assert parse_amend('12={"amount": 5}') == (12, {"amount": 5})


def test_drift_is_ok_on_a_true_projection_and_names_a_tampered_row(clocked):
    ledger = clocked
    build_receivables(ledger)
    live = projector_for(ledger)
    live.catch_up()
    assert drift(live) == {"ok": True, "position": ledger.max_position(),
                                   "differences": []}
    receivables = next(p for p in live.projections if p.name == "receivables")
    with live.transaction() as sql:
        sql.execute(f"UPDATE {receivables.t('customers')} SET name = 'Tampered' "
                    "WHERE customer_id = 'C1'")
    found = drift(live)
    assert found["ok"] is False
    assert [(d["projection"], d["table"], d["missing"], d["unexpected"])
            for d in found["differences"]] == [("receivables", "customers", 1, 1)]
    assert "Tampered" in repr(found["differences"][0]["rows"]["unexpected"])
