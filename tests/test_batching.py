"""A batch gives every command the answer a one-by-one run would have given, and writes
the same facts (ARCHITECTURE, Writing many commands at once)."""

from __future__ import annotations

import msgspec
import pytest

from ledger.application import Ledger
from ledger.config import parse_database_url
from ledger.demo import Company


def comparable(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k not in ("position", "events")}


def facts(ledger: Ledger) -> list[tuple[str, dict]]:
    """The log without its recorded times."""
    out = []
    for n in ledger.app.recorder.select_notifications(start=1, limit=10**9):
        state = msgspec.json.decode(n.state)
        state.pop("timestamp", None)
        out.append((n.topic, state))
    return out


@pytest.mark.slow
def test_batch_and_one_by_one_agree(ledger, tmp_path):
    bodies = list(Company(seed=5, reps=8, customers=12).commands())
    # a few rejections and repeats mixed in
    bodies.insert(40, dict(bodies[30]))  # a repeat of an earlier command
    bodies.insert(41, {**bodies[35], "command_id": "dup-id-new"})  # same ids, new command id
    batched = []
    for i in range(0, len(bodies), 250):
        batched += ledger.execute(bodies[i:i + 250])
    with Ledger(parse_database_url(f"sqlite:///{tmp_path}/one.db")) as single:
        one_by_one = [single.execute_one(b) for b in bodies]
        assert [comparable(a) for a in batched] == [comparable(a) for a in one_by_one]
        assert facts(ledger) == facts(single)
    statuses = {a["status"] for a in batched}
    assert statuses == {"applied", "duplicate", "rejected"}
    closes = [a for a in batched if a["command"] == "CloseMonth"]
    assert len(closes) == 12 and all(a["status"] == "applied" for a in closes)
