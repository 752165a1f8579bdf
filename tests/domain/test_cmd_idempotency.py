"""Identity and time rules common to every command (SPEC 1 Identity and Time, SPEC 2.6):
idempotent repeats, a reused command_id with another body, business ids that exist,
occurred_at in the future, and the late-reporting flag."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ledger.application import Ledger
from support import (
    all_applied, applied, at, cmd, customer_state, events_after, facts_after, refused, sale,
    setup_company,
)

NOW = datetime(2024, 3, 5, 2, 0, tzinfo=timezone.utc)  # 10:00 in Asia/Shanghai


@pytest.fixture
def clocked(fresh_database):
    """A ledger whose recorded time is always NOW."""
    with Ledger(fresh_database, clock=lambda: NOW) as led:
        yield led


# --- idempotency ----------------------------------------------------------------------------


def test_same_command_id_same_body_is_a_duplicate_answering_the_first_answer(ledger):
    setup_company(ledger)
    body = sale("S1", 2)
    first = applied(ledger, body)
    position = ledger.max_position()
    again = ledger.execute_one(dict(body))
    assert again == {"command_id": body["command_id"], "command": "RecordSale", "status": "duplicate",
                     "original": {k: v for k, v in first.items() if k not in ("events", "position")}}
    assert ledger.max_position() == position
    assert customer_state(ledger, "C1").open_total == 20_000  # recorded once


def test_a_rejected_command_repeated_answers_its_first_rejection(ledger):
    setup_company(ledger, credit_limit=15_000)
    applied(ledger, sale("S1", 1))
    body = sale("S2", 1)
    first = refused(ledger, body, "credit_limit", exposure=20_000, shortfall=5_000)
    # the credit room is there now, but the repeat still answers the first answer
    applied(ledger, cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=10_000,
                        received_on="2024-03-06"))
    position = ledger.max_position()
    again = ledger.execute_one(body)
    assert again["status"] == "duplicate"
    assert again["original"] == first
    assert ledger.max_position() == position
    assert "S2" not in customer_state(ledger, "C1").receivables
    # the same sale under a new command_id is judged afresh
    assert applied(ledger, sale("S2", 1))["result"]["exposure"] == 10_000


def test_same_command_id_with_a_different_body_is_invalid_field(ledger):
    setup_company(ledger)
    body = sale("S1", 2)
    applied(ledger, body)
    changed = {**body, "invoice_no": "OTHER"}
    answer = refused(ledger, changed, "invalid_field", field="command_id")
    assert answer["command_id"] == body["command_id"]
    # the first command is untouched, and its repeat is still a duplicate
    assert customer_state(ledger, "C1").receivables["S1"].invoice_no == "INV-S1"
    assert ledger.execute_one(body)["status"] == "duplicate"
    # the same for a command whose first answer was a rejection
    bad = sale("S2", actor="mgr")
    refused(ledger, bad, "not_authorized")
    refused(ledger, {**bad, "invoice_no": "INV-S2b"}, "invalid_field", field="command_id")
    assert "S2" not in customer_state(ledger, "C1").receivables


def test_the_idempotency_key_is_the_actor_and_the_command_id(ledger):
    """SPEC 1: no user can occupy another's ids. An auditor's rejected RecordSale under a
    command_id does not block the service's real command under the same id, and tells the
    auditor nothing about it."""
    setup_company(ledger)
    body = sale("S1", 2, actor="sa")
    spoof = {**body, "actor": "aud"}
    first = refused(ledger, spoof, "not_authorized")
    real = applied(ledger, body)
    assert real["command_id"] == spoof["command_id"]
    assert customer_state(ledger, "C1").receivables["S1"].gross == 20_000
    # each actor's repeat answers its own first answer
    assert ledger.execute_one(dict(spoof)) == {
        "command_id": spoof["command_id"], "command": "RecordSale", "status": "duplicate",
        "original": first}
    again = ledger.execute_one(dict(body))
    assert again["status"] == "duplicate" and again["original"]["status"] == "applied"
    # and the auditor's different body under the same id is still refused as a reuse
    refused(ledger, {**spoof, "invoice_no": "X"}, "invalid_field", field="command_id")


def test_two_actors_may_use_the_same_command_id_in_one_batch(ledger):
    setup_company(ledger)
    a = sale("S1", 1, actor="sa")
    b = {**sale("S2", 1, actor="svc"), "command_id": a["command_id"]}
    answers = ledger.execute([a, b, dict(a), dict(b)])
    assert [x["status"] for x in answers] == ["applied", "applied", "duplicate", "duplicate"]
    assert answers[3]["original"]["result"]["sale_id"] == "S2"
    assert customer_state(ledger, "C1").open_total == 20_000


def test_a_record_keyed_by_command_id_alone_still_answers_its_actor(ledger):
    """Logs written before the key held the actor keep their command records under the
    command_id alone: a repeat by the same actor is still a duplicate; another actor's
    command under that id is judged on its own."""
    from ledger.domain.commands import body_hash
    from ledger.domain.model import CommandRecord

    setup_company(ledger)
    body = sale("S1", 1)
    old_answer = {"command_id": body["command_id"], "command": "RecordSale",
                  "status": "applied", "result": {"sale_id": "S1"}}
    record = CommandRecord(command_id=body["command_id"], command="RecordSale",
                           body_hash=body_hash(body), actor="sa", answer=old_answer, meta={},
                           key=body["command_id"])
    ledger.app.save(record)
    assert ledger.execute_one(dict(body)) == {
        "command_id": body["command_id"], "command": "RecordSale", "status": "duplicate",
        "original": old_answer}
    other = {**sale("S2", 1, actor="svc"), "command_id": body["command_id"]}
    assert applied(ledger, other)["result"]["sale_id"] == "S2"


def test_repeats_inside_one_batch(ledger):
    setup_company(ledger)
    body = sale("S1", 1)
    answers = ledger.execute([body, dict(body), {**body, "invoice_no": "X"}, sale("S2", 1)])
    assert [a["status"] for a in answers] == ["applied", "duplicate", "rejected", "applied"]
    assert answers[2]["rule"] == "invalid_field" and answers[2]["details"]["field"] == "command_id"
    assert customer_state(ledger, "C1").open_total == 20_000


def test_an_existing_business_id_under_a_new_command_id_is_duplicate_id(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1)])
    refused(ledger, sale("S1", 5), "duplicate_id", kind="sale", ref="S1")
    assert customer_state(ledger, "C1").receivables["S1"].gross == 10_000


def test_a_command_without_command_id_is_invalid_field(ledger):
    setup_company(ledger)
    body = sale("S1", 1)
    del body["command_id"]
    refused(ledger, body, "invalid_field", field="command_id")
    refused(ledger, {**sale("S1", 1), "colour": "red"}, "invalid_field", field="colour")


# --- occurred_at in the future (SPEC 1 Time) ------------------------------------------------


def test_occurred_at_more_than_five_minutes_after_the_recorded_time(clocked):
    setup_company(clocked)
    ahead = (NOW + timedelta(minutes=5, seconds=1)).isoformat()
    refused(clocked, {**sale("S1"), "occurred_at": ahead, "reported_at": ahead}, "invalid_field",
            field="occurred_at")
    exactly = (NOW + timedelta(minutes=5)).isoformat()
    applied(clocked, {**sale("S1"), "occurred_at": exactly, "reported_at": exactly})
    refused(clocked, {**sale("S2"), "occurred_at": "2024-03-05T10:00:00"}, "invalid_field",
            field="occurred_at")  # no offset


# --- reporting duty (SPEC 2.6) --------------------------------------------------------------


def _untimed(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("occurred_at", "reported_at")}


def test_late_reporting_is_flagged_on_every_event_never_rejected(clocked):
    setup_company(clocked)
    occurred = NOW - timedelta(hours=6)
    on_time = (occurred + timedelta(hours=4)).isoformat()
    late = (occurred + timedelta(hours=4, seconds=1)).isoformat()

    def meta_of(body):
        before = clocked.max_position()
        applied(clocked, body)
        metas = [e.meta for e in events_after(clocked, before)]
        assert len(metas) == 4  # sale and invoice claims, sale, command record
        assert all(m == metas[0] for m in metas)
        return metas[0]

    meta = meta_of({**sale("S1"), "occurred_at": occurred.isoformat(), "reported_at": on_time})
    assert (meta["late"], meta["reported_at"]) == (False, on_time)
    meta = meta_of({**sale("S2"), "occurred_at": occurred.isoformat(), "reported_at": late})
    assert meta["late"] is True
    assert meta["reporting_policy"] == "default"
    # without reported_at the recorded time counts: 6 hours after occurring is late
    meta = meta_of({**_untimed(sale("S3")), "occurred_at": occurred.isoformat()})
    assert (meta["late"], meta["reported_at"]) == (True, NOW.isoformat())
    # without either, the command occurs and is reported now
    meta = meta_of(_untimed(sale("S4")))
    assert (meta["late"], meta["occurred_at"]) == (False, NOW.isoformat())


def test_reporting_policy_version_decides_late(clocked):
    setup_company(clocked)
    applied(clocked, cmd("AdoptPolicy", "dir", policy="reporting", version="r8", effective_from="2024-03-05",
                         values={"late_after_hours": 8, "future_tolerance_minutes": 5}))
    # reported 6 hours after occurring on 5 March: r8 (8 hours) is in force, not late
    before = clocked.max_position()
    applied(clocked, {**sale("S1"), "occurred_at": "2024-03-05T04:00:00+08:00",
                      "reported_at": "2024-03-05T10:00:00+08:00"})
    (fact,) = facts_after(clocked, before)
    assert (fact.meta["late"], fact.meta["reporting_policy"]) == (False, "r8")
    # reported 6 hours after occurring on 4 March: the default 4 hours holds, late
    before = clocked.max_position()
    applied(clocked, {**sale("S2"), "occurred_at": "2024-03-04T22:00:00+08:00",
                      "reported_at": "2024-03-05T04:00:00+08:00"})
    (fact,) = facts_after(clocked, before)
    assert (fact.meta["late"], fact.meta["reporting_policy"]) == (True, "default")
