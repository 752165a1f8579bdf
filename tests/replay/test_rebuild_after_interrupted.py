"""A rebuild that stopped half way (the process killed after some pages committed) leaves
the next generation's tables and its tracking records. The next rebuild drops both and
starts that generation from nothing. (Before the fix, found in review, it dropped only the
tables and filled them from where the first one stopped: for the commission statements it
switched, silently, to tables lacking the first half of the log; with receivables or the
general ledger it failed with ``MissingReference``.) Both stores."""

from __future__ import annotations

import pytest
from projections.scenarios import build_receivables, clocked, dump  # noqa: F401

from ledger.bootstrap import projector_for, projector_over
from ledger.projections.commissions import CommissionsProjection
from ledger.replay.rebuild import rebuild


def test_a_rebuild_after_an_interrupted_one_holds_the_whole_log(clocked):
    ledger = clocked
    build_receivables(ledger)
    live = projector_for(ledger)
    live.catch_up()
    # the interrupted rebuild: generation 2 of commissions up to half the log
    projector_over(ledger, [CommissionsProjection(2)]).catch_up(stop=ledger.max_position() // 2)
    rebuild(live, ["commissions"], grace=0)
    live.follow_generations()
    alone = projector_over(ledger, [CommissionsProjection(3)])
    alone.catch_up()
    rebuilt = [p for p in live.projections if p.name == "commissions"]
    assert rebuilt[0].generation == 2
    assert dump(projector_over(ledger, rebuilt)) == dump(alone)
