"""Event schema evolution: a stored sample of every event type must load with the current
code (ARCHITECTURE, Domain; issue 3). A change to an event class that would break old logs
must come with an upcast (``class_version`` + ``upcast_vN_vN+1``) and makes this fail
until it does. A new event type without a sample fails too."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from ledger.application import LedgerApplication
from ledger.domain import model
from ledger.store.transcoder import MsgspecTranscoder

SAMPLES = Path(__file__).parent / "event_samples" / "samples.ndjson"


def samples() -> list[dict]:
    return [msgspec.json.decode(line) for line in SAMPLES.read_text().splitlines() if line.strip()]


def current_event_topics() -> set[str]:
    """Topics of every event class our aggregates define. Each aggregate declares a
    placeholder ``Created`` class (explicit topics need one) but names its own creation
    event, so ``Created`` is never stored and has no sample."""
    topics = set()
    for name in model.__all__:
        for attr, value in vars(getattr(model, name)).items():
            if isinstance(value, type) and attr != "Created" and getattr(value, "TOPIC", None):
                topics.add(value.TOPIC)
    return topics


def floats_in(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(floats_in(v) for v in value.values())
    if isinstance(value, list):
        return any(floats_in(v) for v in value)
    return False


@pytest.fixture(scope="module")
def mapper():
    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    return app.mapper


def test_every_event_type_has_a_stored_sample():
    stored = {s["topic"] for s in samples()}
    missing = current_event_topics() - stored
    assert not missing, f"event types without a stored sample (run tests/event_samples/generate.py): {sorted(missing)}"


@pytest.mark.parametrize("sample", samples(), ids=lambda s: s["topic"])
def test_stored_sample_loads_with_current_code(sample, mapper):
    stored = StoredEvent(originator_id=uuid4(), originator_version=sample["originator_version"],
                         topic=sample["topic"], state=sample["state"].encode())
    event = mapper.to_domain_event(stored)
    assert type(event) is resolve_topic(sample["topic"])
    state = MsgspecTranscoder().decode(sample["state"].encode())
    assert not floats_in(state), "money and rates are never floats"
    # every field the sample carries is still on the event, with the same value
    for key, value in state.items():
        if key in ("timestamp", "class_version"):
            continue
        assert getattr(event, key) == value, key
    assert "meta" in state or sample["topic"].endswith((".Opened",)), "events carry meta"


def test_an_old_event_version_is_upcast_through_the_msgspec_transcoder(mapper):
    """The mechanism every future event change uses: ``class_version`` and
    ``upcast_vN_vN+1`` run on the decoded payload before the event is built."""
    from eventsourcing.domain import Aggregate

    class Parcel(Aggregate):
        TOPIC = "test:Parcel"

        class Created(Aggregate.Created):
            TOPIC = "test:Parcel.Created"

        class Weighed(Aggregate.Event):
            TOPIC = "test:Parcel.Weighed"
            class_version = 2
            grams: int
            unit: str

            @staticmethod
            def upcast_v1_v2(state: dict) -> None:
                # v1 stored kilograms as "kg": 2; v2 stores grams and the unit
                state["grams"] = state.pop("kg") * 1000
                state["unit"] = "g"

    v1_state = b'{"timestamp":"2025-01-01T00:00:00+00:00","kg":2}'
    event = mapper.to_domain_event(StoredEvent(uuid4(), 2, "test:Parcel.Weighed", v1_state))
    assert (event.grams, event.unit) == (2000, "g")
    again = mapper.to_domain_event(mapper.to_stored_event(event))
    assert (again.grams, again.unit) == (2000, "g")


# --- Customer.ReturnRecorded v2: ``to_written_off`` ----------------------------------------


def _stored_sample(topic: str) -> dict:
    (sample,) = [s for s in samples() if s["topic"] == topic]
    return sample


def test_a_stored_v1_return_loads_as_v2_with_nothing_written_off(mapper):
    """The stored sample predates ``to_written_off`` (version 1: no ``class_version`` in
    its state). It loads as the current class with ``to_written_off`` 0 and every stored
    field as it was; stored again, it is a version 2 event."""
    from ledger.domain.model import Customer

    sample = _stored_sample("ledger:Customer.ReturnRecorded")
    state = MsgspecTranscoder().decode(sample["state"].encode())
    assert "class_version" not in state and "to_written_off" not in state  # really v1
    stored = StoredEvent(originator_id=uuid4(), originator_version=sample["originator_version"],
                         topic=sample["topic"], state=sample["state"].encode())
    event = mapper.to_domain_event(stored)
    assert type(event) is Customer.ReturnRecorded and Customer.ReturnRecorded.class_version == 2
    assert event.to_written_off == 0
    assert event.commission_amount == event.amount  # a v1 return counted in full
    assert (event.amount, event.to_open, event.to_credit) == (1_088_400, 1_088_400, 0)
    assert event.amount == event.to_open + event.to_written_off + event.to_credit
    again = mapper.to_stored_event(event)
    restate = MsgspecTranscoder().decode(again.state)
    assert (restate["class_version"], restate["to_written_off"]) == (2, 0)
    assert mapper.to_domain_event(again).to_written_off == 0


def _customer_with_a_written_off_sale():
    from ledger.domain.model import Customer

    c = Customer(customer_id="C", name="C", credit_limit=0, payment_terms_days=30, region="r", meta={})
    c.record_sale(sale_id="S1", rep_id="R", invoice_no="I", invoice_date="2025-01-02",
                  due_on="2025-02-01", lines=[{"gross": 10_000, "tax_rate": "0.13"}], gross=10_000,
                  vat=1_150, credit_applied=0, price_approved_by=None, credit_approved_by=None,
                  checks={}, policy={}, meta={})
    c.write_off(writeoff_id="W1", sale_id="S1", amount=10_000, approved_by="d", reason="r", meta={})
    return c


def test_a_v2_return_round_trips_and_replays(mapper):
    from ledger.domain.model import Customer

    c = _customer_with_a_written_off_sale()
    c.record_return(return_id="RT1", sale_id="S1", amount=10_000, vat=1_150, to_open=0,
                    to_written_off=10_000, to_credit=0, commission_amount=0, approved_by="m",
                    reason="r", meta={})
    events = c.collect_events()
    stored = [mapper.to_stored_event(e) for e in events]
    assert stored[-1].topic == "ledger:Customer.ReturnRecorded"
    state = MsgspecTranscoder().decode(stored[-1].state)
    assert (state["class_version"], state["to_written_off"], state["to_credit"]) == (2, 10_000, 0)
    loaded = [mapper.to_domain_event(s) for s in stored]
    assert loaded[-1].to_written_off == 10_000
    replayed = None
    for e in loaded:
        replayed = e.mutate(replayed)
    assert isinstance(replayed, Customer)
    item = replayed.receivables["S1"]
    assert (item.open, item.unrecovered, replayed.credit, replayed.active) == (0, 0, 0, {})


def test_an_old_log_replays_its_v1_return_as_recorded(mapper):
    """Before version 2 a return of a written-off sale went to customer credit; an old log
    replays to exactly that (the written-off amount stays unrecovered), never re-split."""
    c = _customer_with_a_written_off_sale()
    stored = [mapper.to_stored_event(e) for e in c.collect_events()]
    v1 = (b'{"timestamp":"2025-03-01T00:00:00+00:00","return_id":"RT1","sale_id":"S1",'
          b'"amount":10000,"vat":1150,"to_open":0,"to_credit":10000,"approved_by":"m",'
          b'"reason":"r","meta":{}}')
    stored.append(StoredEvent(stored[0].originator_id, len(stored) + 1,
                              "ledger:Customer.ReturnRecorded", v1))
    replayed = None
    for s in stored:
        replayed = mapper.to_domain_event(s).mutate(replayed)
    item = replayed.receivables["S1"]
    assert (item.returned, item.unrecovered, replayed.credit) == (10_000, 10_000, 10_000)


# --- Rep.CommissionAccrued: schema history in the upcaster, not in the projection ----------


def test_an_accrual_older_than_its_sample_is_upcast_with_what_it_lacked(mapper):
    """The commission projection used to default ``morning_star_sales``, ``adjustments``
    and ``trainees`` with getattr; the upcaster fills them now (0, 0, []), along with the
    version-2 fields (``carried`` 0, ``policy`` {}), and leaves a stored sample's values."""
    early = (b'{"timestamp":"2025-02-01T00:00:00+00:00","period":"2025-01","plan_version":"p1",'
             b'"rank":"S","personal_sales":5000,"rate":"0.1","commission":500,'
             b'"morning_star_bonus":0,"opening_star_bonus":0,"override":0,"clawback":0,'
             b'"fines":0,"total":500,"payable_on":"2025-03-10","override_payable_on":"2025-03-10",'
             b'"lines":[],"rows_met":[],"as_of_position":3,"meta":{}}')
    event = mapper.to_domain_event(StoredEvent(uuid4(), 2, "ledger:Rep.CommissionAccrued", early))
    assert (event.morning_star_sales, event.adjustments, event.trainees) == (0, 0, [])
    assert (event.carried, event.policy, event.total) == (0, {}, 500)
    sample = _stored_sample("ledger:Rep.CommissionAccrued")
    state = MsgspecTranscoder().decode(sample["state"].encode())
    loaded = mapper.to_domain_event(StoredEvent(uuid4(), sample["originator_version"],
                                                sample["topic"], sample["state"].encode()))
    assert (loaded.morning_star_sales, loaded.adjustments, loaded.trainees) == (
        state["morning_star_sales"], state["adjustments"], state["trainees"])
