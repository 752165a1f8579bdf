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
