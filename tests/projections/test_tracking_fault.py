"""Exactly once at the tracking write itself (SPEC 3; ARCHITECTURE Projections).

The projector writes a page's rows and the projections' tracking positions in ONE
transaction. The SIGKILL test of ``test_exactly_once`` stops a catch-up before either
write; here the fault is at the tracking write: the real tracking recorder's
``_insert_tracking`` (the library's hook the projector calls) raises once, in the real
code path, on SQLite and PostgreSQL (no database is mocked). The page's rows must roll
back with it: the tables stay those of the committed pages, the positions do not move,
and the next catch-up gives tables identical to an uninterrupted run.

A projector that wrote the tracking in its own transaction after the rows would leave
the page's rows committed and the positions behind, and the next catch-up would apply
the page a second time.
"""

from __future__ import annotations

import pytest
from scenarios import MINE, build_receivables, dump, projector

from ledger.bootstrap import projector_over
from ledger.projections.general_ledger import GeneralLedger, trial_balance
from ledger.projections.receivables import query_receivables

KEPT = (*MINE, GeneralLedger)


class TrackingFault(RuntimeError):
    """The fault planted at the tracking write."""


def _fail_once_at_call(tracker, monkeypatch, nth: int) -> list[str]:
    """Make ``tracker._insert_tracking`` raise on its ``nth`` call (1-based) and only
    then; returns the list of tracking names it was called with."""
    real = tracker._insert_tracking  # noqa: SLF001 - the hook the projector calls
    calls: list[str] = []

    def faulty(cursor, tracking):
        calls.append(tracking.application_name)
        if len(calls) == nth:
            raise TrackingFault(f"planted fault at tracking write {tracking.application_name}")
        return real(cursor, tracking)

    monkeypatch.setattr(tracker, "_insert_tracking", faulty)
    return calls


@pytest.mark.parametrize("batch_size", [1, 9])
def test_a_fault_at_the_tracking_write_rolls_the_pages_rows_back(ledger, monkeypatch, batch_size):
    build_receivables(ledger)
    end = ledger.max_position()
    middle = end // 2

    p = projector_over(ledger, [cls() for cls in KEPT])
    p.catch_up(batch_size=batch_size, stop=middle)
    assert set(p.positions().values()) == {middle}
    committed = dump(p)
    # the same log up to ``middle`` in another generation, never faulted
    reference_middle = projector_over(ledger, [cls(3) for cls in KEPT])
    reference_middle.catch_up(batch_size=1000, stop=middle)
    assert dump(reference_middle) == committed

    # the fault: the SECOND tracking write of the next page (the first projection's
    # position is already written in the same transaction)
    calls = _fail_once_at_call(p.tracker, monkeypatch, nth=2)
    with pytest.raises(TrackingFault):
        p.catch_up(batch_size=batch_size)
    assert len(calls) == 2
    # nothing of the faulted page stays: neither the first projection's position nor
    # any projection's rows
    assert set(p.positions().values()) == {middle}
    assert dump(p) == committed

    # the next catch-up (the fault is gone: it raised once) ends where an uninterrupted
    # run ends, with identical tables
    p.catch_up(batch_size=batch_size)
    assert set(p.positions().values()) == {end}
    assert len(calls) > 2  # the resumed catch-up went through the same hook
    uninterrupted = projector(ledger, *KEPT, generation=4, batch_size=1000)
    assert dump(p) == dump(uninterrupted)
    assert dump(uninterrupted) != committed  # the middle really was part-way
    # and the figures are the hand-worked ones of the scenario (scenarios.py), once each
    r = query_receivables(p, "C1")
    assert (r["open_total"], r["written_off"]) == (35_000 + 19_000, 10_000)
    tb = trial_balance(p)
    assert tb["debit_total"] == tb["credit_total"]
    assert trial_balance(p) == trial_balance(uninterrupted)


def test_a_fault_at_the_first_tracking_write_of_a_later_page_keeps_earlier_pages(ledger, monkeypatch):
    """Several pages in one catch-up: the pages before the faulted one stay committed
    (each page is its own transaction), the faulted page leaves nothing behind."""
    build_receivables(ledger)
    end = ledger.max_position()
    p = projector_over(ledger, [cls() for cls in KEPT])
    # each page writes one tracking row per projection: fault the first write of page 3
    calls = _fail_once_at_call(p.tracker, monkeypatch, nth=2 * len(KEPT) + 1)
    with pytest.raises(TrackingFault):
        p.catch_up(batch_size=5)
    positions = set(p.positions().values())
    assert len(positions) == 1
    reached = positions.pop()
    assert 0 < reached < end
    reference = projector_over(ledger, [cls(2) for cls in KEPT])
    reference.catch_up(batch_size=1000, stop=reached)
    assert dump(p) == dump(reference)
    p.catch_up(batch_size=5)
    assert set(p.positions().values()) == {end}
    assert dump(p) == dump(projector(ledger, *KEPT, generation=3))
    assert len(calls) > 2 * len(KEPT) + 1
