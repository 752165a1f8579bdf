"""A closed month's commission statement is read from the statement its close stored
(issue 13: the read no longer loads the facts of every month of the rep and its
trainees); the answer is the one the full path (``_commission`` over ``_load``) gives."""

from __future__ import annotations

from support import all_applied, at, cmd, sale

from ledger.projections.commissions import (
    _commission, _load, projection_of, query_commission,
)
from test_commissions_view import _close, _company


def _full_path(projector, rep_id: str, period: str) -> dict:
    p = projection_of(projector)
    with projector.transaction(commit=False) as sql:
        return _commission(sql, p, _load(sql, p, [rep_id]), rep_id, period)


def test_a_closed_month_answers_as_the_full_path_does(ledger):
    projector = _company(ledger)
    _close(ledger, projector, "2024-03", "2024-04-01")
    all_applied(ledger, [
        cmd("PayCommission", "fin", payout_id="PO1", rep_id="R3", period="2024-03",
            amount=300_000, paid_on="2024-05-10", **at("2024-05-10")),
        cmd("RecordReturn", "sa", return_id="RT1", sale_id="S3", amount=500_000,
            approved_by="mgr", reason="faulty", **at("2024-04-05")),
        sale("S9", 100, rep="R4", day="2024-03-25"),
    ])
    projector.catch_up()
    _close(ledger, projector, "2024-04", "2024-05-01")
    compared = 0
    for rep_id in ("R1", "R2", "R3", "R4", "R5", "R6", "R7"):
        for period in ("2024-03", "2024-04", "2024-05"):
            answer = query_commission(projector, rep_id, period)
            expected = _full_path(projector, rep_id, period)
            expected.pop("disputes", None)
            answer.pop("disputes", None)
            assert answer == expected, (rep_id, period)
            compared += answer["closed"]
    assert compared == 14  # March and April closed for all seven reps; May open
    r3 = query_commission(projector, "R3", "2024-03")
    assert (r3["closed"], r3["total"], r3["paid"], r3["balance"]) == (True, 557_692, 300_000,
                                                                      257_692)
    assert r3["lines"][-1]["payout_id"] == "PO1"


def test_a_month_not_closed_answers_as_the_full_path_does(ledger):
    # the month not closed reads its own facts and the late ones, and the other months'
    # only when a rule needs them (late adjustments, clawback rates): the same answer
    projector = _company(ledger)
    _close(ledger, projector, "2024-03", "2024-04-01")
    all_applied(ledger, [
        sale("S10", 120, rep="R2", day="2024-04-12"),
        sale("S11", 80, rep="R6", day="2024-04-20"),
    ])
    projector.catch_up()
    _close(ledger, projector, "2024-04", "2024-05-01")
    all_applied(ledger, [  # late for March and April, and May's own facts
        sale("S12", 90, rep="R3", day="2024-03-28"),
        sale("S13", 40, rep="R6", day="2024-04-28"),
        cmd("FineRep", "fin", fine_id="F2", rep_id="R2", amount=3_000, reason="late report",
            approved_by="mgr", **at("2024-04-15")),
        cmd("RecordReturn", "sa", return_id="RT2", sale_id="S3", amount=400_000,
            approved_by="mgr", reason="faulty", **at("2024-05-06")),
        cmd("RecordReturn", "sa", return_id="RT3", sale_id="S10", amount=200_000,
            approved_by="mgr", reason="faulty", **at("2024-05-07")),
        sale("S14", 60, rep="R1", day="2024-05-09"),
        cmd("FineRep", "fin", fine_id="F3", rep_id="R1", amount=2_000, reason="late report",
            approved_by="mgr", **at("2024-05-10")),
    ])
    projector.catch_up()
    adjusted = 0
    for rep_id in ("R1", "R2", "R3", "R4", "R5", "R6", "R7"):
        for period in ("2024-05", "2024-06"):
            answer = query_commission(projector, rep_id, period)
            expected = _full_path(projector, rep_id, period)
            expected.pop("disputes", None)
            answer.pop("disputes", None)
            assert answer == expected, (rep_id, period)
            assert not answer["closed"]
            adjusted += answer["adjustment"] != 0
    assert adjusted >= 3  # R1 (override), R2 (fine), R3 (late sale) in May at least
