"""Commissions projection (SPEC 2.5, SPEC 3 Commissions, SPEC 5.3 ``commission`` and
``ranks``): statements before and after the close, payouts, clawbacks, late adjustments,
rank history, on SQLite and PostgreSQL. Figures are worked by hand from SPEC 2.5."""

from __future__ import annotations

from datetime import date

import pytest
from support import all_applied, at, cmd, sale, setup_company

from ledger.projections.commissions import (
    CommissionsProjection, commission_accounts, query_commission, query_ranks, rank_evidence,
    statement_months, top_statements,
)
from ledger.bootstrap import projector_over
from ledger.projections.engine import Projector
from ledger.projections.errors import QueryError
from ledger.projections.general_ledger import GeneralLedger, postings, trial_balance

KEYS = {"rep_id", "period", "closed", "rank", "personal_sales", "rate", "commission",
        "morning_star_bonus", "opening_star_bonus", "override", "adjustment", "carried",
        "clawback", "fines", "total", "payable_on", "override_payable_on", "paid", "balance",
        "lines"}


def _company(ledger) -> Projector:
    """R1 (SM) trained R2..R5 (SR); R2 trained R6; R7 never sells. March 2024 (SPEC 2.5's
    worked examples): R1 sells 30,000 by the 20th, R2..R5 20,000 each, R6 15,000; R2 is
    fined 50.00 on the 21st."""
    setup_company(ledger, credit_limit=1_000_000_000)
    all_applied(ledger, [
        *[cmd("RegisterRep", "sa", rep_id=f"R{i}", name=f"Rep {i}", region="east", trainer_id="R1")
          for i in (3, 4, 5)],
        cmd("RegisterRep", "sa", rep_id="R6", name="Rep 6", region="east", trainer_id="R2"),
        cmd("RegisterRep", "sa", rep_id="R7", name="Rep 7", region="east"),
        sale("S1", 300, rep="R1", day="2024-03-10"),
        *[sale(f"S{i}", 200, rep=f"R{i}", day="2024-03-15") for i in (2, 3, 4, 5)],
        sale("S6", 150, rep="R6", day="2024-03-16"),
        cmd("FineRep", "fin", fine_id="F1", rep_id="R2", amount=5_000, reason="late report",
            approved_by="mgr", **at("2024-03-21")),
    ])
    projector = projector_over(ledger, [CommissionsProjection(), GeneralLedger()])
    projector.catch_up()
    return projector


def _close(ledger, projector, period: str, day: str) -> dict:
    answer = all_applied(ledger, [cmd("CloseMonth", "fin", period=period, **at(day))])[0]
    projector.catch_up()
    return answer


def _figures(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k not in ("closed", "payable_on")}


def test_statement_before_and_after_the_close(ledger):
    projector = _company(ledger)
    r3 = query_commission(projector, "R3", "2024-03")
    assert set(r3) == KEYS
    assert r3 == {
        "rep_id": "R3", "period": "2024-03", "closed": False, "rank": "SR",
        "personal_sales": 2_000_000, "rate": "0.2",
        "commission": 307_692,  # 20,000 x 0.9 / 1.17 x 20% = 3,076.92
        "morning_star_bonus": 150_000, "opening_star_bonus": 100_000, "override": 0,
        "adjustment": 0, "carried": 0, "clawback": 0, "fines": 0, "total": 557_692,  # 5,576.92
        "payable_on": None, "override_payable_on": "2024-05-10", "paid": 0, "balance": 557_692,
        "lines": [{"type": "sale", "sale_id": "S3", "date": "2024-03-15", "gross": 2_000_000,
                   "returned": 0, "share": 307_692}],
    }
    r1 = query_commission(projector, "R1", "2024-03")
    assert (r1["rank"], r1["commission"], r1["morning_star_bonus"], r1["opening_star_bonus"],
            r1["override"], r1["total"]) == ("SM", 461_538, 400_000, 200_000, 400_000, 1_461_538)
    assert [line["rep_id"] for line in r1["lines"] if line["type"] == "trainee"] == [
        "R2", "R3", "R4", "R5"]
    r2 = query_commission(projector, "R2", "2024-03")
    assert (r2["fines"], r2["total"]) == (5_000, 552_692)
    assert {"type": "fine", "fine_id": "F1", "date": "2024-03-21", "amount": 5_000} in r2["lines"]
    r6 = query_commission(projector, "R6", "2024-03")
    # 15,000: rate 15%, 1,730.77; 晨星 at 15,000 by the 20th; no 开星 below 20,000
    assert (r6["rate"], r6["commission"], r6["morning_star_bonus"], r6["opening_star_bonus"],
            r6["total"]) == ("0.15", 173_077, 150_000, 0, 323_077)

    before = {r: query_commission(projector, r, "2024-03") for r in ("R1", "R2", "R3", "R6", "R7")}
    _close(ledger, projector, "2024-03", "2024-04-01")
    for rep_id, preview in before.items():
        closed = query_commission(projector, rep_id, "2024-03")
        assert closed["closed"] is True
        assert closed["payable_on"] == "2024-05-10"  # the 10th of the month after next
        assert _figures(closed) == _figures(preview), rep_id
    # a registered rep with nothing that month: zeros, closed
    r7 = query_commission(projector, "R7", "2024-03")
    assert (r7["total"], r7["personal_sales"], r7["lines"], r7["closed"]) == (0, 0, [], True)


def test_payouts_clawbacks_and_late_adjustments(ledger):
    projector = _company(ledger)
    _close(ledger, projector, "2024-03", "2024-04-01")
    all_applied(ledger, [
        cmd("PayCommission", "fin", payout_id="PO1", rep_id="R3", period="2024-03",
            amount=300_000, paid_on="2024-05-10", **at("2024-05-10")),
        # a March sale returned in April: clawback at March's 20%
        cmd("RecordReturn", "sa", return_id="RT1", sale_id="S3", amount=500_000,
            approved_by="mgr", reason="faulty", **at("2024-04-05")),
        # a March sale recorded after March closed: late, adjusts in April's statement
        sale("S9", 100, rep="R4", day="2024-03-25"),
    ])
    projector.catch_up()
    r3 = query_commission(projector, "R3", "2024-03")
    assert (r3["paid"], r3["balance"]) == (300_000, 257_692)
    assert r3["lines"][-1] == {"type": "payout", "payout_id": "PO1", "date": "2024-05-10",
                               "amount": 300_000}

    april = {r: query_commission(projector, r, "2024-04") for r in ("R1", "R3", "R4")}
    # round(500,000 x 0.9 / 1.17 x 0.2) = round(76,923.08)
    assert (april["R3"]["clawback"], april["R3"]["total"]) == (76_923, -76_923)
    claw = [line for line in april["R3"]["lines"] if line["type"] == "clawback"]
    assert claw == [{"type": "clawback", "ref_id": "RT1", "kind": "return", "sale_id": "S3",
                     "sale_period": "2024-03", "gross": 500_000, "rate": "0.2", "amount": 76_923}]
    # R4's March: 30,000 -> commission 4,615.38, 晨星 1,500, 开星 1,000 = 7,115.38, was 5,576.92
    adj = [line for line in april["R4"]["lines"] if line["type"] == "adjustment"]
    assert [(a["period"], a["amount"]) for a in adj] == [("2024-03", 153_846)]
    assert adj[0]["booked"]["total"] == 557_692 and adj[0]["revised"]["total"] == 711_538
    assert april["R4"]["total"] == 153_846
    # R1's override on R4's late sale: 5% of 10,000
    assert [(a["period"], a["amount"]) for a in april["R1"]["lines"]
            if a["type"] == "adjustment"] == [("2024-03", 50_000)]

    _close(ledger, projector, "2024-04", "2024-05-01")
    for rep_id, preview in april.items():
        assert _figures(query_commission(projector, rep_id, "2024-04")) == _figures(preview), rep_id
    # a closed month keeps what it accrued; the late sale shows in April
    assert query_commission(projector, "R4", "2024-03")["total"] == 557_692

    assert statement_months(projector, "R3") == [
        {"period": "2024-03", "accrued": 557_692, "payable_on": "2024-05-10",
         "override_payable_on": "2024-05-10", "paid": 300_000, "balance": 257_692},
        {"period": "2024-04", "accrued": -76_923, "payable_on": "2024-06-10",
         "override_payable_on": "2024-08-10", "paid": 0, "balance": -76_923},
    ]
    # commission sub-ledger and general ledger agree
    accounts = commission_accounts(projector)
    assert accounts["R3"] == {"accrued": 557_692 - 76_923, "paid": 300_000,
                              "balance": 557_692 - 76_923 - 300_000}
    payable = sum(a["balance"] for a in accounts.values())
    tb = {a["account"]: a for a in trial_balance(projector)["accounts"]}
    assert tb["commission_payable"]["credit"] == payable
    assert tb["other_income"]["credit"] == 5_000  # F1
    # F1 posts on its own date (SPEC 3); March's accrual credits the statements' totals
    # plus the fine they count (R2's 552,692 is after F1's 5,000)
    assert [(p["day"], p["account"], p["debit"], p["credit"]) for p in postings(projector, ref="F1")] == [
        ("2024-03-21", "commission_payable", 5_000, 0), ("2024-03-21", "other_income", 0, 5_000)]
    march = postings(projector, ref="2024-03")
    assert {p["day"] for p in march} == {"2024-03-31"}
    assert sum(p["credit"] - p["debit"] for p in march if p["account"] == "commission_payable") == (
        1_461_538 + 552_692 + 3 * 557_692 + 323_077 + 5_000)


def test_a_late_sale_returned_next_month_claws_back_at_the_revised_rate(ledger):
    """The query before April's close and the close itself use the same rules
    (``commission_month``): R6's late March sale lifts March from 15% to 20%, and its
    return in April claws back at 20% (March booked 15%)."""
    projector = _company(ledger)
    _close(ledger, projector, "2024-03", "2024-04-01")
    all_applied(ledger, [
        sale("S10", 50, rep="R6", day="2024-03-28"),  # late: March is closed
        cmd("RecordReturn", "sa", return_id="RT10", sale_id="S10", amount=500_000,
            approved_by="mgr", reason="faulty", **at("2024-04-05")),
    ])
    projector.catch_up()
    april = {r: query_commission(projector, r, "2024-04") for r in ("R2", "R6")}
    r6 = april["R6"]
    # March revised: 20,000 -> 3,076.92 + 晨星 1,500 + 开星 1,000; booked 1,730.77 + 1,500
    (adj,) = [line for line in r6["lines"] if line["type"] == "adjustment"]
    assert (adj["amount"], adj["booked"]["rate"], adj["revised"]["rate"]) == (
        557_692 - 323_077, "0.15", "0.2")
    (claw,) = [line for line in r6["lines"] if line["type"] == "clawback"]
    assert (claw["rate"], claw["amount"]) == ("0.2", 76_923)  # 5,000 x 0.9 / 1.17 x 20%
    assert r6["total"] == 234_615 - 76_923
    assert april["R2"]["total"] == 0  # an SR trainer: no override to adjust
    _close(ledger, projector, "2024-04", "2024-05-01")
    for rep_id, preview in april.items():
        assert _figures(query_commission(projector, rep_id, "2024-04")) == _figures(preview), rep_id


def test_ranks_promotion_and_manual_change(ledger):
    projector = _company(ledger)
    _close(ledger, projector, "2024-03", "2024-04-01")
    # R2: own 20,000, trained R6 with 15,000 -> the SE row; effective 1 April, by the closer
    ranks = query_ranks(projector, "R2", on=date(2024, 4, 15))
    assert ranks == {"rep_id": "R2", "rank": "SE", "history": [
        {"rank": "SR", "effective_from": ranks["history"][0]["effective_from"],
         "reason": "registered", "decided_by": "sa"},
        {"rank": "SE", "effective_from": "2024-04-01", "reason": "promotion", "decided_by": "fin"},
    ]}
    assert query_ranks(projector, "R2", on=date(2024, 3, 31))["rank"] == "SR"
    evidence = rank_evidence(projector, "R2")[-1]["evidence"]
    assert (evidence["own_sales"], evidence["trained_sales"], evidence["trained_reps"]) == (
        2_000_000, 1_500_000, 1)
    assert query_commission(projector, "R2", "2024-04")["rank"] == "SE"
    assert query_commission(projector, "R2", "2024-03")["rank"] == "SR"

    all_applied(ledger, [cmd("ChangeRank", "dir", rep_id="R3", rank="SE", reason="exceptional year",
                             effective_from="2024-06-01", **at("2024-05-20"))])
    projector.catch_up()
    assert query_ranks(projector, "R3", on=date(2024, 5, 31))["rank"] == "SR"
    assert query_ranks(projector, "R3", on=date(2024, 6, 1))["rank"] == "SE"
    r3 = query_ranks(projector, "R3")  # today
    assert r3["rank"] == "SE"
    assert r3["history"][-1] == {"rank": "SE", "effective_from": "2024-06-01",
                                 "reason": "exceptional year", "decided_by": "dir"}


def test_top_statements_and_unknowns(ledger):
    projector = _company(ledger)
    top = top_statements(projector, "2024-03", 3)
    assert [(t["rep_id"], t["total"]) for t in top] == [
        ("R1", 1_461_538), ("R3", 557_692), ("R4", 557_692)]
    assert "lines" not in top[0] and top[0]["name"] == "Trainer"
    # any registered rep and month answers, with zeros
    quiet = query_commission(projector, "R5", "2030-01")
    assert (quiet["closed"], quiet["total"], quiet["payable_on"], quiet["lines"]) == (
        False, 0, None, [])
    with pytest.raises(QueryError) as e:
        query_commission(projector, "NOBODY", "2024-03")
    assert e.value.rule == "unknown_reference"
    with pytest.raises(QueryError) as e:
        query_ranks(projector, "NOBODY")
    assert e.value.rule == "unknown_reference"
    with pytest.raises(QueryError) as e:
        query_commission(projector, "R1", "2024-13")
    assert e.value.rule == "invalid_field"
