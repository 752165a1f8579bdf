"""General ledger (SPEC 3): the postings of every money event, to the fen, and the trial
balance as of business dates, on SQLite and PostgreSQL."""

from __future__ import annotations

from types import SimpleNamespace

import gl_scenario
import pytest

from ledger.bootstrap import projector_over
from ledger.projections.engine import Projector
from ledger.domain.posting import (
    UnbalancedEntry, accrual_entry, fine_entry, payment_entry, statement_fines,
)
from ledger.projections.general_ledger import GeneralLedger, postings, trial_balance


def _projector(ledger, generation: int = 1, batch_size: int = 1000) -> Projector:
    projector = projector_over(ledger, [GeneralLedger(generation)])
    projector.catch_up(batch_size=batch_size)
    return projector


def _lines(projector, ref: str) -> list[tuple[str, str, int, int]]:
    return [(p["day"], p["account"], p["debit"], p["credit"]) for p in postings(projector, ref=ref)]


def _rows(tb: dict) -> list[tuple[str, int, int]]:
    return [(a["account"], a["debit"], a["credit"]) for a in tb["accounts"]]


def test_each_money_event_posts_its_entry(ledger):
    gl_scenario.build(ledger)
    projector = _projector(ledger)
    # sale of 11,300.00 at 13%: VAT 1,300.00, revenue 10,000.00
    assert _lines(projector, "S1") == [
        ("2024-03-05", "receivables", 1_130_000, 0),
        ("2024-03-05", "revenue", 0, 1_000_000),
        ("2024-03-05", "vat_payable", 0, 130_000),
    ]
    assert _lines(projector, "P1") == [
        ("2024-03-20", "cash", 500_000, 0),
        ("2024-03-20", "receivables", 0, 500_000),
    ]
    # return after part payment: 630,000 against the open amount, 170,000 to credit
    assert _lines(projector, "RT1") == [
        ("2024-03-25", "revenue", 707_965, 0),
        ("2024-03-25", "vat_payable", 92_035, 0),
        ("2024-03-25", "receivables", 0, 630_000),
        ("2024-03-25", "customer_credit", 0, 170_000),
    ]
    # customer credit settles part of the new sale
    assert _lines(projector, "S2") == [
        ("2024-04-02", "receivables", 339_000, 0),
        ("2024-04-02", "revenue", 0, 300_000),
        ("2024-04-02", "vat_payable", 0, 39_000),
        ("2024-04-02", "customer_credit", 170_000, 0),
        ("2024-04-02", "receivables", 0, 170_000),
    ]
    assert _lines(projector, "E1") == [
        ("2024-04-15", "marketing_expense:advertising", 210_000, 0),
        ("2024-04-15", "cash", 0, 210_000),
    ]
    assert _lines(projector, "W1") == [
        ("2024-05-10", "bad_debt_expense", 100_000, 0),
        ("2024-05-10", "receivables", 0, 100_000),
    ]
    # open amount, then recovery of the written-off amount, then credit
    assert _lines(projector, "P2") == [
        ("2024-05-20", "cash", 150_000, 0),
        ("2024-05-20", "receivables", 0, 69_000),
        ("2024-05-20", "bad_debt_recovery_income", 0, 51_000),
        ("2024-05-20", "customer_credit", 0, 30_000),
    ]
    # every row names its event and the customer aggregate
    rows = postings(projector, ref="P2")
    assert {r["event"] for r in rows} == {"PaymentRecorded"}
    assert len({r["position"] for r in rows}) == 1


def test_trial_balance_now_and_as_of_business_dates(ledger):
    gl_scenario.build(ledger)
    projector = _projector(ledger)
    tb = trial_balance(projector)
    assert _rows(tb) == gl_scenario.FINAL
    assert tb["debit_total"] == tb["credit_total"] == gl_scenario.FINAL_TOTAL
    march = trial_balance(projector, as_of="2024-03-31")
    assert _rows(march) == gl_scenario.MARCH
    assert march["debit_total"] == march["credit_total"] == gl_scenario.MARCH_TOTAL
    april = trial_balance(projector, as_of="2024-04-30")
    assert _rows(april) == [
        ("cash", 290_000, 0),
        ("receivables", 169_000, 0),
        ("customer_credit", 0, 0),
        ("vat_payable", 0, 76_965),
        ("revenue", 0, 592_035),
        ("marketing_expense:advertising", 210_000, 0),
    ]
    assert april["debit_total"] == april["credit_total"] == 669_000
    assert trial_balance(projector, as_of="2024-01-31") == {
        "accounts": [], "debit_total": 0, "credit_total": 0,
    }


def test_same_postings_whatever_the_batch_size(ledger):
    gl_scenario.build(ledger)
    one_by_one = _projector(ledger, generation=1, batch_size=1)
    batched = _projector(ledger, generation=2, batch_size=1000)
    assert postings(one_by_one) == postings(batched)
    assert trial_balance(one_by_one) == trial_balance(batched)
    # caught up: nothing applies twice
    assert one_by_one.catch_up() == 0
    assert trial_balance(one_by_one)["debit_total"] == gl_scenario.FINAL_TOTAL


def test_accrual_credits_commission_payable_by_the_statement_total_plus_its_fines():
    # a late adjustment of -1,000: a late fine of 2,000 and 1,000 more commission for the
    # closed month. The fines (5,000 of the month, 2,000 late) were posted on their own
    # dates (fine_entry), so the accrual leaves them out: it credits commission_payable by
    # total + 7,000, and the adjustment's non-fine part (+1,000) goes to expense
    late = {"type": "adjustment", "ref_id": "late:2024-02", "period": "2024-02", "amount": -1_000,
            "booked": {"fines": 0, "total": 50_000}, "revised": {"fines": 2_000, "total": 49_000}}
    statement = SimpleNamespace(carried=0, commission=307_692, morning_star_bonus=150_000,
                                opening_star_bonus=100_000, override=40_000, clawback=7_692,
                                fines=5_000, adjustments=-1_000, total=584_000, lines=[late])
    lines = [line for line in accrual_entry(statement) if line[1] or line[2]]
    assert lines == [
        ("commission_expense", 597_692, 0), ("commission_payable", 0, 597_692),
        ("commission_payable", 7_692, 0), ("commission_expense", 0, 7_692),
        ("commission_expense", 1_000, 0), ("commission_payable", 0, 1_000),
    ]
    payable = sum(c - d for a, d, c in lines if a == "commission_payable")
    assert payable == statement.total + 7_000
    assert statement_fines(statement.fines, statement.lines) == 7_000
    fine = SimpleNamespace(amount=5_000)
    assert fine_entry(fine) == [("commission_payable", 5_000, 0), ("other_income", 0, 5_000)]


def test_an_entry_that_does_not_balance_stops_the_projection():
    payment = SimpleNamespace(originator_id="C", amount=100, applied=[{"sale_id": "S", "amount": 60, "kind": "fifo"}],
                              to_credit=30)
    lines = payment_entry(payment)
    assert sum(d for _, d, _ in lines) != sum(c for _, _, c in lines)
    with pytest.raises(UnbalancedEntry):
        GeneralLedger()._post(None, 1, None, payment, "P", lines)  # type: ignore[arg-type]
