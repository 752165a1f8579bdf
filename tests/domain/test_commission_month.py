"""A rep's month as the engine takes it (SPEC 2.5, SPEC 5.3 ``commission``): the rules of
``ledger.domain.commission_month`` on plain values, no store. Figures worked by hand under
plan ``2014-cn-1`` (base = amount x 0.9 / 1.17, rounded once)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.domain.commission_month import (
    BEGINNING,
    Fact,
    MonthFacts,
    RepRecord,
    booked_months,
    rank_on,
    zero_figures,
)
from ledger.domain.commission_plan import (
    PLAN_2014_CN_1,
    Clawback,
    Fine,
    ReturnLine,
    SaleLine,
    load_plan,
    statement_figures,
)
from ledger.domain.money import yuan

PLAN = load_plan(PLAN_2014_CN_1)


def d(text: str) -> date:
    return date.fromisoformat(text)


def rep(rep_id: str, rank: str = "SR", trainer: str | None = None, booked=None) -> RepRecord:
    return RepRecord(rep_id, trainer, ((BEGINNING, rank),), booked or {})


def sale(sale_id: str, rep_id: str, day: str, amount: int, position: int) -> Fact:
    return Fact.sale(sale_id, rep_id, d(day), amount, position)


def back(kind: str, ref_id: str, of: Fact, day: str, amount: int, position: int) -> Fact:
    return Fact.taken_back(kind, ref_id, d(day), amount, position, sale_id=of.id,
                           sale_rep_id=of.rep_id, sale_day=of.day)


def months(reps, facts, closed=None, **more) -> MonthFacts:
    return MonthFacts(reps, lambda period: PLAN, closed or {}, facts, **more)


# --- facts ---------------------------------------------------------------------------


def test_a_return_or_write_off_is_its_sales_reps_and_counts_no_earlier_than_the_sale():
    s1 = sale("S1", "A", "2024-03-10", yuan(1_000), 1)
    early = back("return", "R1", s1, "2024-02-27", yuan(100), 2)
    assert (early.rep_id, early.day, early.period, early.sale_period) == (
        "A", d("2024-03-10"), "2024-03", "2024-03")
    assert early.moves_sales  # a same-month return nets the month's personal sales
    later = back("return", "R2", s1, "2024-04-02", yuan(100), 3)
    assert (later.day, later.sale_period, later.moves_sales) == (d("2024-04-02"), "2024-03", False)
    assert not back("write_off", "W1", s1, "2024-03-20", yuan(100), 4).moves_sales
    assert s1.moves_sales and not Fact.fine("F1", "A", d("2024-03-01"), 1, 5).moves_sales
    assert later.ref() == {"kind": "return", "id": "R2", "date": "2024-04-02", "position": 3}
    with pytest.raises(ValueError):
        back("fine", "X", s1, "2024-03-20", 1, 6)


def test_rank_on_the_latest_effective_date_a_later_entry_of_the_same_date_winning():
    history = ((BEGINNING, "SR"), (d("2024-03-01"), "SE"), (d("2024-03-01"), "SM"),
               (d("2024-05-01"), "SSM"), (d("2024-04-01"), "SSE"))
    assert rank_on(history, d("2024-02-29")) == "SR"
    assert rank_on(history, d("2024-03-01")) == "SM"
    assert rank_on(history, d("2024-04-30")) == "SSE"
    assert rank_on(history, d("2024-05-01")) == "SSM"  # a later entry of an earlier date loses


def test_booked_months_at_the_close_then_as_revised_by_later_closes():
    feb = {"rank": "SR", "plan_version": "2014-cn-1", "personal_sales": 1_300_000,
           "rate": "0.1", "commission": 100_000, "morning_star_bonus": 0,
           "opening_star_bonus": 0, "override": 0, "clawback": 0, "fines": 0, "total": 100_000,
           "adjustments": 0, "period": "2024-02", "lines": [{"type": "sale"}]}
    revised = {**zero_figures("SR", "2014-cn-1"), "rate": "0.2", "total": 407_692}
    mar = {**feb, "period": "2024-03", "personal_sales": 0, "rate": "0", "commission": 0,
           "total": 307_692, "adjustments": 307_692,
           "lines": [{"type": "adjustment", "period": "2024-02", "amount": 307_692,
                      "booked": {}, "revised": revised}]}
    booked = booked_months([feb, mar])
    assert booked["2024-02"] == revised
    assert booked["2024-03"] == {**zero_figures("SR", "2014-cn-1"), "total": 0}
    assert booked_months([mar, feb])["2024-02"]["rate"] == "0.1"  # log order decides


# --- a month's input -------------------------------------------------------------------


def test_month_input_sorts_a_months_facts_for_the_engine():
    s1 = sale("S1", "A", "2024-02-10", yuan(20_000), 1)
    s2 = sale("S2", "A", "2024-03-05", yuan(15_000), 2)
    facts = [
        s1, s2,
        back("return", "R1", s2, "2024-03-08", yuan(1_000), 3),  # same month: nets
        back("return", "R2", s1, "2024-03-09", yuan(2_000), 4),  # earlier sale: clawback
        back("write_off", "W1", s2, "2024-03-20", yuan(500), 5),  # same-month write-off
        Fact.fine("F1", "A", d("2024-03-21"), yuan(100), 6),
        sale("S3", "B", "2024-03-06", yuan(9_000), 7),  # someone else's
    ]
    m = months([rep("A"), rep("B")], facts)
    inp = m.month_input("A", "2024-03", "SR")
    assert inp.sales == (SaleLine("S2", d("2024-03-05"), yuan(15_000)),)
    assert inp.returns == (ReturnLine("R1", "S2", d("2024-03-08"), yuan(1_000)),)
    assert m.personal_sales("A", "2024-03") == yuan(14_000)
    assert inp.clawbacks == (
        # February was never booked: the rate its facts reach (20,000: 20%)
        Clawback("R2", "return", "S1", "2024-02", yuan(2_000), Decimal("0.2")),
        # a same-month write-off: the month's own rate (14,000: 10%)
        Clawback("W1", "write_off", "S2", "2024-03", yuan(500), Decimal("0.1")),
    )
    assert inp.fines == (Fine("F1", d("2024-03-21"), yuan(100)),)
    assert (inp.trainees, inp.adjustments) == ((), ())
    st = m.statement("A", "2024-03")
    # 14,000 x 0.9 / 1.17 x 10% = 1,076.92; clawbacks 307.69 + 38.46; fine 100
    assert (st.commission, st.clawback, st.fines, st.total) == (
        107_692, 30_769 + 3_846, 10_000, 107_692 - 34_615 - 10_000)


def test_a_clawback_uses_the_rate_the_sale_month_booked():
    s1 = sale("S1", "A", "2024-02-10", yuan(20_000), 1)
    facts = [s1, back("return", "R1", s1, "2024-03-09", yuan(2_000), 9)]
    booked = {"2024-02": {**zero_figures("SR", "2014-cn-1"), "rate": "0.15"}}
    m = months([rep("A", booked=booked)], facts, closed={"2024-02": 5})
    assert m.rate_of("A", "2024-02") == Decimal("0.15")
    assert m.month_input("A", "2024-03", "SR").clawbacks[0].sale_rate == Decimal("0.15")


def test_trainees_count_with_a_sale_that_month_net_of_its_returns():
    a1 = sale("SA", "A", "2024-03-05", yuan(20_000), 1)
    facts = [
        a1, back("return", "RA", a1, "2024-03-06", yuan(5_000), 2),
        Fact.fine("FB", "B", d("2024-03-07"), yuan(10), 3),  # B: no sale, not counted
        sale("SC", "C", "2024-03-08", yuan(30_000), 4),  # C: someone else's trainee
        sale("SD", "D", "2024-02-28", yuan(30_000), 5),  # D: a sale of another month
    ]
    reps = [rep("M", "SM"), rep("A", trainer="M"), rep("B", trainer="M"),
            rep("D", trainer="M"), rep("C", trainer="X")]
    m = months(reps, facts)
    assert m.trainee_sales("M", "2024-03") == (("A", yuan(15_000)),)
    assert m.statement("M", "2024-03").override == yuan(750)  # 5% of 15,000


def test_statement_of_a_rep_with_nothing_is_zeros():
    st = months([rep("A", "SE")], []).statement("A", "2024-03")
    assert (st.rank, st.total, st.lines) == ("SE", 0, ())


# --- late facts ----------------------------------------------------------------------------


def _february_closed():
    """A (SR, trained by M, SM) sold 13,000 in February; February closed at position 10
    and booked A 1,000.00 (10%) and M 650.00 of override. Then, recorded after the close:
    a late February sale of A (7,000), a late February fine of A, and March's return of that
    late sale."""
    s1 = sale("S1", "A", "2024-02-10", yuan(13_000), 5)
    before = months([rep("M", "SM"), rep("A", trainer="M")], [s1])
    booked = {r: {"2024-02": statement_figures(before.statement(r, "2024-02"))} for r in "AM"}
    assert (booked["A"]["2024-02"]["total"], booked["M"]["2024-02"]["total"]) == (
        100_000, 65_000)
    s3 = sale("S3", "A", "2024-02-25", yuan(7_000), 12)
    facts = [s1, s3, Fact.fine("F1", "A", d("2024-02-26"), yuan(10), 13),
             back("return", "R3", s3, "2024-03-03", yuan(1_000), 14),
             sale("S4", "A", "2024-03-04", yuan(1_000), 11)]  # March's: never late
    reps = [rep("M", "SM", booked=booked["M"]), rep("A", trainer="M", booked=booked["A"])]
    return months(reps, facts, closed={"2024-02": 10})


def test_late_facts_are_dated_in_a_closed_month_and_recorded_after_its_close():
    m = _february_closed()
    assert m.next_to_close == "2024-03"
    assert [f.id for f in m.late_facts()] == ["S3", "F1"]  # by date, not by position
    assert months([rep("A")], [sale("S", "A", "2024-02-01", 1, 99)]).late_facts() == []


def test_late_facts_adjust_the_next_close_for_the_rep_and_its_trainer():
    m = _february_closed()
    (adj,) = m.late_adjustments("A")
    # February revised: 20,000 at 20% = 3,076.92 + 开星 1,000 - fine 10 = 4,066.92
    assert (adj.ref_id, adj.period, adj.amount) == ("late:2024-02", "2024-02",
                                                    407_692 - 1_000 - 100_000)
    assert [f["id"] for f in adj.facts] == ["S3", "F1"]
    assert (adj.booked["total"], adj.revised["total"], adj.revised["rate"]) == (
        100_000, 406_692, "0.2")
    (override,) = m.late_adjustments("M")  # its trainee's late sale moved its override
    assert (override.amount, override.facts, override.note) == (
        35_000, (), "late facts for 2024-02: trainees' late facts")
    assert m.late_adjustments("A") == (adj,)  # computed once


def test_the_next_close_claws_back_at_the_revised_rate_and_carries_the_adjustments():
    m = _february_closed()
    st = m.statement("A", "2024-03")
    (claw,) = [line for line in st.lines if line["type"] == "clawback"]
    # the late sale's return claws back at February's revised 20% (booked: 10%)
    assert (claw["rate"], claw["amount"]) == ("0.2", 15_385)  # 1,000 x 0.9 / 1.17 x 20%
    assert st.adjustments == 306_692
    assert st.total == 0 - 15_385 + 306_692  # March's 1,000 reaches no tier
    assert m.statement("A", "2024-04").adjustments == 0  # not the next month to close
    # M: the February adjustment and 5% of A's March sales (1,000) as override
    assert m.statement("M", "2024-03").total == 35_000 + 5_000


def test_a_trainers_month_unchanged_by_a_trainees_late_fact_is_not_adjusted():
    s1 = sale("S1", "A", "2024-02-10", yuan(13_000), 12)
    m = months([rep("T", "SR"), rep("A", trainer="T")], [s1], closed={"2024-02": 10})
    assert m.late_adjustments("T") == ()  # an SR earns no override
    assert [a.amount for a in m.late_adjustments("A")] == [100_000]  # never booked: from 0


# --- reading months on demand ----------------------------------------------------------------


def test_a_month_not_given_in_full_is_fetched_once_when_a_rule_needs_it():
    s1 = sale("S1", "A", "2024-01-10", yuan(15_000), 1)
    fetched: list[str] = []

    def fetch(period: str) -> list[Fact]:
        fetched.append(period)
        # a fact of another month is ignored: only the asked month is completed
        return [s1, sale("S0", "A", "2023-12-01", yuan(99_000), 0)] if period == "2024-01" else []

    march = [back("return", "R1", s1, "2024-03-02", yuan(1_000), 20)]
    m = months([rep("A")], march, fetch=fetch, complete=("2024-03",))
    assert m.month_input("A", "2024-03", "SR").clawbacks[0].sale_rate == Decimal("0.15")
    assert m.month_input("A", "2024-03", "SR").clawbacks[0].sale_rate == Decimal("0.15")
    assert fetched == ["2024-01"]
    assert m.personal_sales("A", "2023-12") == 0 and fetched == ["2024-01", "2023-12"]
