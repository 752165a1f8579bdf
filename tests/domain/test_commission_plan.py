"""Commission plan `2014-cn-1` (SPEC 2.5, seed [001] 奖金制度), every amount to the fen."""

from __future__ import annotations

import copy
import json
import math
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.commission_plan import (
    PLAN_2014_CN_1,
    RANKS,
    Adjustment,
    Clawback,
    Fine,
    MonthInput,
    PlanError,
    ReturnLine,
    SaleLine,
    clawback_amount,
    commission_amount,
    compute_statement,
    evaluate_promotion,
    late_adjustment,
    load_plan,
    meets_row,
    morning_star_bonus,
    opening_star_bonus,
    override_amount,
    override_payable_on,
    payable_on,
    personal_sales,
    plan_to_json,
    rows_met,
    split_shares,
    statement_figures,
    statement_to_json,
    tier_rate,
    trip_progress,
)
from ledger.domain.money import yuan

PLAN = load_plan(PLAN_2014_CN_1)


def month_input(rank="SR", sales=(), returns=(), trainees=(), period="2014-03", **more):
    return MonthInput("rep-1", period, rank, tuple(sales), tuple(returns), tuple(trainees), **more)


def sale(sale_id, day, amount_yuan):
    return SaleLine(sale_id, date(2014, 3, day), yuan(amount_yuan))


# --- SPEC 2.5 worked examples ---------------------------------------------------------


def test_worked_example_sr_selling_20000_by_the_20th():
    s = compute_statement(PLAN, month_input("SR", [sale("s1", 20, 20_000)]))
    assert (s.personal_sales, s.rate, s.commission) == (2_000_000, Decimal("0.2"), 307_692)
    assert (s.morning_star_bonus, s.opening_star_bonus, s.override) == (150_000, 100_000, 0)
    assert s.total == 557_692
    assert s.payable_on == date(2014, 5, 10)


def test_worked_example_sm_with_four_trained_srs():
    trainees = [(f"sr-{i}", yuan(20_000)) for i in range(4)]
    s = compute_statement(PLAN, month_input("SM", [sale("s1", 20, 30_000)], trainees=trainees))
    assert s.commission == 461_538
    assert (s.morning_star_bonus, s.opening_star_bonus, s.override) == (400_000, 200_000, 400_000)
    assert s.total == 1_461_538
    assert s.override_payable_on == date(2014, 5, 10)


# --- rate tiers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sales", "rate", "commission"),
    [
        (yuan("12999.99"), "0", 0),
        (yuan(13_000), "0.1", 100_000),
        (yuan("14999.99"), "0.1", 115_385),  # 1,499,999 / 13 = 115,384.54
        (yuan(15_000), "0.15", 173_077),
        (yuan("19999.99"), "0.15", 230_769),  # 1,999,999 x 1.5 / 13 = 230,769.12
        (yuan(20_000), "0.2", 307_692),
        (0, "0", 0),
    ],
)
def test_tier_thresholds_are_inclusive(sales, rate, commission):
    assert tier_rate(PLAN, sales) == Decimal(rate)
    assert commission_amount(PLAN, sales) == commission


def test_negative_personal_sales_is_refused():
    with pytest.raises(ValueError):
        tier_rate(PLAN, -1)


# --- 晨星 / 开星 and same-month returns ------------------------------------------------


def test_morning_star_missed_by_one_day():
    on_20th = compute_statement(PLAN, month_input("SR", [sale("s1", 20, 15_000)]))
    on_21st = compute_statement(PLAN, month_input("SR", [sale("s1", 21, 15_000)]))
    assert on_20th.morning_star_bonus == 150_000
    assert on_21st.morning_star_bonus == 0
    assert on_20th.commission == on_21st.commission == 173_077


def test_same_month_return_reduces_personal_sales_and_morning_star_base():
    sales = [sale("s1", 10, 15_000), sale("s2", 25, 6_000)]
    returns = [ReturnLine("r1", "s1", date(2014, 3, 28), yuan(100))]
    s = compute_statement(PLAN, month_input("SR", sales, returns))
    assert s.personal_sales == yuan(20_900)
    assert s.morning_star_sales == yuan(14_900)
    assert s.morning_star_bonus == 0  # 14,900 < 15,000
    assert s.opening_star_bonus == 100_000  # 20,900 >= 20,000
    assert s.commission == 321_538
    assert s.total == 421_538


def test_return_of_a_late_sale_does_not_touch_the_morning_star_base():
    sales = [sale("s1", 10, 15_000), sale("s2", 25, 6_000)]
    returns = [ReturnLine("r1", "s2", date(2014, 3, 28), yuan(1_100))]
    s = compute_statement(PLAN, month_input("SR", sales, returns))
    assert (s.personal_sales, s.morning_star_sales) == (yuan(19_900), yuan(15_000))
    assert (s.rate, s.morning_star_bonus, s.opening_star_bonus) == (Decimal("0.15"), 150_000, 0)


def test_return_below_a_tier_lowers_the_rate():
    returns = [ReturnLine("r1", "s1", date(2014, 3, 25), 1)]
    s = compute_statement(PLAN, month_input("SR", [sale("s1", 5, 13_000)], returns))
    assert (s.personal_sales, s.rate, s.commission) == (1_299_999, Decimal("0"), 0)


@pytest.mark.parametrize(
    ("rank", "ms_at", "ms", "os_at", "os_"),
    [
        ("SE", 15_000, 150_000, 20_000, 100_000),
        ("SSE", 15_000, 150_000, 20_000, 100_000),
        ("SSM", 20_000, 400_000, 30_000, 200_000),
        ("SD", 30_000, 400_000, 40_000, 200_000),
        ("TE", 30_000, 400_000, 40_000, 200_000),
    ],
)
def test_bonus_groups_by_rank(rank, ms_at, ms, os_at, os_):
    assert morning_star_bonus(PLAN, rank, [sale("a", 1, ms_at)], []) == ms
    assert morning_star_bonus(PLAN, rank, [sale("a", 1, ms_at - 1)], []) == 0
    assert opening_star_bonus(PLAN, rank, yuan(os_at)) == os_
    assert opening_star_bonus(PLAN, rank, yuan(os_at) - 1) == 0


def test_personal_sales_nets_returns():
    returns = [ReturnLine("r", "a", date(2014, 3, 3), 500)]
    assert personal_sales([sale("a", 1, 100), sale("b", 2, 50)], returns) == 14_500


# --- override -------------------------------------------------------------------------


def test_override_needs_sm_or_above_and_rounds_once():
    trainees = [("a", 11), ("b", 11)]  # 5% of 22 fen = 1.1 -> 1 (per trainee it would be 1 + 1)
    assert override_amount(PLAN, "SM", trainees) == 1
    assert override_amount(PLAN, "SSE", [("a", yuan(20_000))]) == 0
    assert override_amount(PLAN, "TE", [("a", 10)]) == 1  # 0.5 fen rounds half away from zero


def test_override_counts_trainees_below_13000():
    assert override_amount(PLAN, "SM", [("a", yuan(1_000))]) == yuan(50)


def test_no_trainee_lines_below_override_rank():
    s = compute_statement(PLAN, month_input("SSE", trainees=[("t", yuan(20_000))]))
    assert s.override == 0 and not [line for line in s.lines if line["type"] == "trainee"]


# --- promotion ------------------------------------------------------------------------


def test_promotion_to_se():
    rank, evidence = evaluate_promotion(PLAN, "SR", yuan(15_000), [("t1", yuan(15_000))])
    assert rank == "SE"
    assert evidence == {
        "rank": "SE", "own_sales": yuan(15_000), "trained_sales": yuan(15_000),
        "trained_reps": 1, "counted_reps": ["t1"],
        "row": {"rank": "SE", "own_sales": 1_500_000, "trained_sales": 1_500_000,
                "trained_reps": 1, "trained_rep_min_sales": 1_300_000},
    }


def test_trained_rep_at_12999_99_does_not_count():
    short = [("a", yuan("17000.01")), ("b", yuan("12999.99"))]  # together 30,000
    assert evaluate_promotion(PLAN, "SR", yuan(15_000), short)[0] == "SE"
    assert not meets_row(PLAN, "SSE", yuan(15_000), short)
    enough = [("a", yuan(17_000)), ("b", yuan(13_000))]
    rank, evidence = evaluate_promotion(PLAN, "SR", yuan(15_000), enough)
    assert (rank, evidence["trained_reps"], evidence["counted_reps"]) == ("SSE", 2, ["a", "b"])


def test_own_sales_below_row_blocks_promotion():
    trainees = [(f"t{i}", yuan(20_000)) for i in range(4)]
    assert evaluate_promotion(PLAN, "SR", yuan("14999.99"), trainees) == (None, {})


def test_highest_row_wins():
    trainees = [(f"t{i}", yuan(20_000)) for i in range(8)]  # 160,000 by 8 reps: the SD row
    rank, evidence = evaluate_promotion(PLAN, "SR", yuan(15_000), trainees)
    assert rank == "SD" and evidence["trained_sales"] == yuan(160_000)
    assert rows_met(PLAN, yuan(15_000), trainees) == {"SE", "SSE", "SM", "SSM", "SD"}


def test_never_demotes_and_same_rank_is_no_change():
    trainees = [("t1", yuan(15_000))]
    assert evaluate_promotion(PLAN, "SSM", yuan(15_000), trainees) == (None, {})
    assert evaluate_promotion(PLAN, "SE", yuan(15_000), trainees) == (None, {})
    many = [(f"t{i}", yuan(20_000)) for i in range(16)]
    assert evaluate_promotion(PLAN, "TE", yuan(50_000), many) == (None, {})


def test_duplicate_trainee_is_refused():
    with pytest.raises(ValueError, match="twice"):
        evaluate_promotion(PLAN, "SR", yuan(15_000), [("a", 1), ("a", 2)])


# --- clawback, fines, payable dates -----------------------------------------------------


def test_clawback_rounds_each_item():
    assert clawback_amount(PLAN, 19, Decimal("0.1")) == 1  # 19 / 13 = 1.46
    assert clawback_amount(PLAN, 38, Decimal("0.1")) == 3  # one item of 38 would be 2.92 -> 3
    assert clawback_amount(PLAN, 13, Decimal("0.15")) == 2  # exactly 1.5 -> 2
    assert clawback_amount(PLAN, yuan(20_000), Decimal("0.2")) == 307_692
    claws = tuple(Clawback(f"c{i}", "return", "old", "2014-01", 19, Decimal("0.1"))
                  for i in range(2))
    s = compute_statement(PLAN, month_input(clawbacks=claws))
    assert s.clawback == 2 and s.total == -2
    assert s.personal_sales == 0  # a clawback does not change the later month's sales


def test_fines_clawbacks_and_total_identity():
    claw = Clawback("w1", "write_off", "old", "2014-02", yuan(1_000), Decimal("0.2"))
    fine = Fine("f1", date(2014, 3, 31), yuan(200))
    month = month_input("SR", [sale("s1", 20, 20_000)], clawbacks=(claw,), fines=(fine,))
    s = compute_statement(PLAN, month)
    assert s.clawback == 15_385  # 100,000 x 0.2 x 10 / 13 = 15,384.62
    assert s.fines == 20_000
    assert s.total == 557_692 - 15_385 - 20_000
    assert [line["type"] for line in s.lines] == ["sale", "clawback", "fine"]


@pytest.mark.parametrize(
    ("period", "due"),
    [("2014-01", date(2014, 3, 10)), ("2014-03", date(2014, 5, 10)),
     ("2014-11", date(2015, 1, 10)), ("2014-12", date(2015, 2, 10))],
)
def test_payable_on_the_10th_of_the_month_after_next(period, due):
    assert payable_on(PLAN, period) == due


@pytest.mark.parametrize(
    ("months", "due"),
    [(("2014-01", "2014-02", "2014-03"), date(2014, 5, 10)),
     (("2014-04", "2014-05", "2014-06"), date(2014, 8, 10)),
     (("2014-07", "2014-08", "2014-09"), date(2014, 11, 10)),
     (("2014-10", "2014-11", "2014-12"), date(2015, 2, 10))],
)
def test_override_payable_with_the_quarters_last_month(months, due):
    assert {override_payable_on(PLAN, m) for m in months} == {due}


def test_override_payable_with_own_month_when_the_plan_says_so():
    data = copy.deepcopy(PLAN_2014_CN_1)
    data["override"]["payable_with"] = "own_month"
    assert override_payable_on(load_plan(data), "2014-01") == date(2014, 3, 10)


# --- statement lines and shares -----------------------------------------------------------


def test_shares_sum_exactly_to_commission():
    sales = [sale("c", 3, 7_000), sale("a", 1, 7_000), sale("b", 2, 7_000)]
    s = compute_statement(PLAN, month_input("SR", sales))
    assert s.commission == 323_077  # 2,100,000 x 0.2 x 10 / 13 = 323,076.92
    assert [(line["sale_id"], line["share"]) for line in s.lines] == [
        ("a", 107_693), ("b", 107_692), ("c", 107_692)]


def test_fully_returned_sale_has_no_share():
    returns = [ReturnLine("r1", "b", date(2014, 3, 9), yuan(1_000))]
    sales = [sale("a", 1, 20_000), sale("b", 2, 1_000)]
    s = compute_statement(PLAN, month_input("SR", sales, returns))
    sales = [line for line in s.lines if line["type"] == "sale"]
    assert [(x["sale_id"], x["gross"], x["returned"], x["share"]) for x in sales] == [
        ("a", yuan(20_000), 0, 307_692), ("b", yuan(1_000), yuan(1_000), 0)]
    assert s.lines[2] == {"type": "return", "return_id": "r1", "sale_id": "b",
                          "date": "2014-03-09", "amount": yuan(1_000)}


def test_split_shares_largest_remainder():
    assert split_shares(10, [1, 1, 1]) == [4, 3, 3]
    assert split_shares(5, [1, 2]) == [2, 3]  # remainders 2/3 vs 1/3
    assert split_shares(5, [2, 1]) == [3, 2]  # remainders 1/3 vs 2/3: the second gets the fen
    assert split_shares(0, [0, 0]) == [0, 0]


def test_empty_month_is_all_zeros():
    s = compute_statement(PLAN, month_input("SM", period="2014-12"))
    assert (s.personal_sales, s.commission, s.total, s.lines) == (0, 0, 0, ())
    assert (s.payable_on, s.override_payable_on) == (date(2015, 2, 10), date(2015, 2, 10))


def test_statement_json():
    out = statement_to_json(compute_statement(PLAN, month_input("SR", [sale("s1", 20, 20_000)])))
    assert out["rate"] == "0.2" and out["payable_on"] == "2014-05-10"
    assert out["total"] == 557_692 and out["plan_version"] == "2014-cn-1"
    json.dumps(out)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sales": (SaleLine("s", date(2014, 4, 1), 1),)}, "not dated in 2014-03"),
        ({"returns": (ReturnLine("r", "zz", date(2014, 3, 2), 1),)}, "not a sale of 2014-03"),
        ({"sales": (SaleLine("s", date(2014, 3, 1), 5),),
          "returns": (ReturnLine("r", "s", date(2014, 3, 2), 6),)}, "exceed its gross"),
        ({"clawbacks": (Clawback("c", "return", "s", "2014-03", 5, Decimal("0.1")),)}, "earlier"),
        ({"clawbacks": (Clawback("c", "refund", "s", "2014-01", 5, Decimal("0.1")),)}, "kind"),
        ({"clawbacks": (Clawback("c", "return", "s", "2014-01", 5, Decimal("2")),)}, "sale_rate"),
        ({"fines": (Fine("f", date(2014, 3, 1), 0),)}, "integer fen"),
        ({"sales": (SaleLine("s", date(2014, 3, 1), 1.5),)}, "integer fen"),
        ({"trainees": (("rep-1", 5),)}, "own trainee"),
        ({"adjustments": (Adjustment("a", "2014-03", 5),)}, "not before"),
        ({"rank": "XX"}, "unknown rank"),
    ],
)
def test_input_that_does_not_belong_is_refused(change, message):
    base = month_input("SR")
    fields = {**base.__dict__, **change}
    with pytest.raises(ValueError, match=message):
        compute_statement(PLAN, MonthInput(**fields))


# --- late facts ---------------------------------------------------------------------------


def test_late_sale_lands_as_an_adjustment_in_the_next_month():
    closed = compute_statement(PLAN, month_input("SR", [sale("s1", 5, 14_000)]))
    late_sale = sale("s2", 18, 1_000)
    late = compute_statement(PLAN, month_input("SR", [sale("s1", 5, 14_000), late_sale]))
    fact = {"kind": "sale", "id": "s2", "date": "2014-03-18", "position": 99}
    adj = late_adjustment("s2", closed, late, "late sale", facts=[fact])
    assert (closed.total, late.total) == (107_692, 173_077 + 150_000)
    assert (adj.ref_id, adj.period, adj.amount, adj.note) == ("s2", "2014-03", 215_385, "late sale")
    assert adj.booked == {"rank": "SR", "plan_version": "2014-cn-1", "personal_sales": 1_400_000,
                          "rate": "0.1", "commission": 107_692, "morning_star_bonus": 0,
                          "opening_star_bonus": 0, "override": 0, "clawback": 0, "fines": 0,
                          "total": 107_692}
    assert adj.revised == {**adj.booked, "personal_sales": 1_500_000, "rate": "0.15",
                           "commission": 173_077, "morning_star_bonus": 150_000,
                           "total": 323_077}
    april = compute_statement(PLAN, month_input("SR", period="2014-04", adjustments=(adj,)))
    assert (april.adjustments, april.total) == (215_385, 215_385)
    assert april.lines[-1] == {"type": "adjustment", "ref_id": "s2", "period": "2014-03",
                               "amount": 215_385, "note": "late sale", "facts": [fact],
                               "booked": adj.booked, "revised": adj.revised}
    # a second late fact compares with the figures as last revised, not the accrual
    later = compute_statement(PLAN, month_input("SR", [sale("s1", 5, 14_000), late_sale,
                                                       sale("s3", 25, 5_000)]))
    again = late_adjustment("s3", adj.revised, later)
    assert again.amount == later.total - late.total == 557_692 - 323_077


def test_statement_figures_leave_out_adjustments_of_earlier_months():
    adj = Adjustment("a", "2014-02", 1_000)
    s = compute_statement(PLAN, month_input("SR", [sale("s1", 5, 13_000)], adjustments=(adj,)))
    assert s.total == 100_000 + 1_000
    assert statement_figures(s)["total"] == 100_000


def test_same_month_write_off_is_clawed_back_at_the_month_rate():
    claw = Clawback("w1", "write_off", "s1", "2014-03", yuan(2_000), Decimal("0.2"))
    s = compute_statement(PLAN, month_input("SR", [sale("s1", 5, 20_000)], clawbacks=(claw,)))
    assert s.personal_sales == yuan(20_000)  # a write-off does not net personal sales
    assert s.clawback == 30_769  # 200,000 x 0.9 / 1.17 x 0.2 = 30,769.23
    with pytest.raises(ValueError, match="earlier"):
        later = Clawback("w1", "write_off", "s1", "2014-04", 1, Decimal("0.2"))
        compute_statement(PLAN, month_input("SR", clawbacks=(later,)))


# --- trips ----------------------------------------------------------------------------------


def test_trip_progress_per_window():
    months = [(f"2014-{m:02d}", {"SE", "SSE", "SM"}) for m in (5, 6, 8, 9)]
    months += [("2014-07", set()), ("2014-10", {"SM"}), ("2014-11", {"SM", "SSM", "SSD", "TE"})]
    progress = trip_progress(PLAN, months)
    academy = progress["创星学院"]
    assert academy["2013-07..2014-06"]["count"] == 2
    later = academy["2014-07..2015-06"]
    assert (later["count"], later["qualified"], later["qualified_in"]) == (4, True, "2014-11")
    assert later["months"] == ["2014-08", "2014-09", "2014-10", "2014-11"]
    summit = progress["登峰海外游"]["2014-01..2014-12"]
    assert (summit["count"], summit["qualified_in"], summit["required"]) == (6, "2014-09", 4)
    leader = progress["寰宇领袖之旅"]["2014-01..2014-12"]
    assert (leader["row"], leader["count"], leader["qualified"]) == ("TE", 1, False)


def test_trip_progress_refuses_a_month_twice():
    with pytest.raises(ValueError, match="twice"):
        trip_progress(PLAN, [("2014-01", set()), ("2014-01", {"SM"})])


# --- the plan as data ---------------------------------------------------------------------


def test_plan_round_trip():
    assert plan_to_json(PLAN) == PLAN_2014_CN_1
    assert load_plan(plan_to_json(PLAN)) == PLAN
    assert json.loads(json.dumps(plan_to_json(PLAN))) == PLAN_2014_CN_1
    assert PLAN.version == "2014-cn-1" and PLAN.group("SSM").ranks == ("SM", "SSM")


def test_rates_load_canonically():
    data = copy.deepcopy(PLAN_2014_CN_1)
    data["rate_tiers"][3]["rate"] = "0.20"
    assert plan_to_json(load_plan(data)) == PLAN_2014_CN_1


def _set(path, value):
    def change(data):
        *head, last = path
        for key in head:
            data = data[key]
        if value is _DELETE:
            del data[last]
        else:
            data[last] = value
    return change


_DELETE = object()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_set(["version"], ""), "version"),
        (_set(["base_factor"], _DELETE), "base_factor"),
        (_set(["surprise"], 1), "surprise"),
        (_set(["rate_tiers", 1, "rate"], 0.1), "rate_tiers[1].rate"),
        (_set(["rate_tiers", 1, "rate"], "1.5"), "rate_tiers[1].rate"),
        (_set(["rate_tiers", 1, "rate"], "-0.1"), "rate_tiers[1].rate"),
        (_set(["rate_tiers", 0, "min_sales"], 1), "rate_tiers[0].min_sales"),
        (_set(["rate_tiers", 2, "min_sales"], 1_300_000), "rate_tiers[2].min_sales"),
        (_set(["rate_tiers", 1, "min_sales"], True), "rate_tiers[1].min_sales"),
        (_set(["rate_tiers"], []), "rate_tiers"),
        (_set(["base_divisor"], "0"), "base_divisor"),
        (_set(["base_divisor"], "abc"), "base_divisor"),
        (_set(["bonus_groups", 0, "morning_star_bonus"], -1), "bonus_groups[0].morning_star_bonus"),
        (_set(["bonus_groups", 0, "opening_star_bonus"], 1e5), "bonus_groups[0].opening_star_bonus"),
        (_set(["bonus_groups", 0, "ranks"], ["SR", "SE", "SSE", "SM"]), "bonus_groups[1].ranks"),
        (_set(["bonus_groups", 0, "ranks"], ["SR", "SE"]), "bonus_groups"),
        (_set(["bonus_groups", 2, "ranks", 0], "DS"), "bonus_groups[2].ranks[0]"),
        (_set(["morning_star_last_day"], 32), "morning_star_last_day"),
        (_set(["override", "min_rank"], "BOSS"), "override.min_rank"),
        (_set(["override", "payable_with"], "never"), "override.payable_with"),
        (_set(["override", "rate"], _DELETE), "override.rate"),
        (_set(["payout", "day"], 31), "payout.day"),
        (_set(["payout"], "2/10"), "payout"),
        (_set(["promotion", 1, "rank"], "SE"), "promotion[1].rank"),
        (_set(["promotion", 3, "trained_reps"], "4"), "promotion[3].trained_reps"),
        (_set(["promotion", 0, "extra"], 1), "promotion[0].extra"),
        (_set(["trips", 0, "row"], "SR"), "trips[0].row"),
        (_set(["trips", 0, "months"], 0), "trips[0].months"),
        (_set(["trips", 1, "window_start_month"], 13), "trips[1].window_start_month"),
        (_set(["trips"], None), "trips"),
    ],
)
def test_load_plan_names_the_bad_field(change, field):
    data = copy.deepcopy(PLAN_2014_CN_1)
    change(data)
    with pytest.raises(PlanError) as caught:
        load_plan(data)
    assert caught.value.field == field
    assert repr(field) in str(caught.value)


def test_load_plan_refuses_a_non_object():
    with pytest.raises(PlanError):
        load_plan([])  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------------


MARCH_DAYS = st.integers(1, 31).map(lambda d: date(2014, 3, d))
RATES = st.sampled_from([Decimal("0"), Decimal("0.1"), Decimal("0.15"), Decimal("0.2")])


@st.composite
def months(draw):
    """A March 2014 of random facts, as the keyword arguments of ``month_input``."""
    sales, returns = [], []
    for i in range(draw(st.integers(0, 6))):
        gross = draw(st.integers(0, yuan(15_000)))
        sales.append(SaleLine(f"s{i}", draw(MARCH_DAYS), gross))
        for j in range(draw(st.integers(0, 2))):
            if gross == 0:
                break
            amount = draw(st.integers(1, gross))
            gross -= amount
            returns.append(ReturnLine(f"r{i}.{j}", f"s{i}", draw(MARCH_DAYS), amount))
    trainees = [(f"t{i}", draw(st.integers(0, yuan(40_000))))
                for i in range(draw(st.integers(0, 6)))]
    clawbacks = [Clawback(f"c{i}", draw(st.sampled_from(["return", "write_off"])), f"old{i}",
                          "2014-02", draw(st.integers(1, yuan(30_000))), draw(RATES))
                 for i in range(draw(st.integers(0, 3)))]
    fines = [Fine(f"f{i}", draw(MARCH_DAYS), draw(st.integers(1, yuan(500))))
             for i in range(draw(st.integers(0, 2)))]
    return {"rank": draw(st.sampled_from(RANKS)), "sales": sales, "returns": returns,
            "trainees": trainees, "clawbacks": clawbacks, "fines": fines}


def statement_of(facts):
    return compute_statement(PLAN, month_input(
        facts["rank"], facts["sales"], facts["returns"], facts["trainees"],
        clawbacks=tuple(facts["clawbacks"]), fines=tuple(facts["fines"])))


@given(months(), st.randoms(use_true_random=False))
def test_statement_does_not_depend_on_order(facts, rnd):
    first = statement_of(facts)
    for key in ("sales", "returns", "trainees", "clawbacks", "fines"):
        rnd.shuffle(facts[key])
    assert statement_of(facts) == first


# Plan 2014-cn-1 written out from SPEC 2.5 by hand (not read from the plan, and none of
# the engine's helpers): rate tiers, bonus groups (晨星 min, bonus, 开星 min, bonus), the
# base 0.9 / 1.17, the override of 5% for SM and above.
HAND_TIERS = ((yuan(20_000), Fraction(20, 100)), (yuan(15_000), Fraction(15, 100)),
              (yuan(13_000), Fraction(10, 100)), (0, Fraction(0)))
HAND_GROUPS = {
    **dict.fromkeys(("SR", "SE", "SSE"), (yuan(15_000), yuan(1_500), yuan(20_000), yuan(1_000))),
    **dict.fromkeys(("SM", "SSM"), (yuan(20_000), yuan(4_000), yuan(30_000), yuan(2_000))),
    **dict.fromkeys(("SD", "SSD", "TE"), (yuan(30_000), yuan(4_000), yuan(40_000), yuan(2_000))),
}
HAND_BASE = Fraction(9, 10) / Fraction(117, 100)


def _half_up(q: Fraction) -> int:
    assert q >= 0
    return math.floor(q + Fraction(1, 2))


def _by_hand(facts) -> dict:
    """The statement's figures worked from SPEC 2.5 alone."""
    sales, returns = facts["sales"], facts["returns"]
    personal = sum(s.gross for s in sales) - sum(r.amount for r in returns)
    rate = next(r for floor_, r in HAND_TIERS if personal >= floor_)
    early = {s.sale_id for s in sales if s.day.day <= 20}
    by_20th = (sum(s.gross for s in sales if s.sale_id in early)
               - sum(r.amount for r in returns if r.sale_id in early))
    ms_min, ms_bonus, os_min, os_bonus = HAND_GROUPS[facts["rank"]]
    override = (_half_up(sum(a for _, a in facts["trainees"]) * Fraction(5, 100))
                if facts["rank"] in ("SM", "SSM", "SD", "SSD", "TE") else 0)
    figures = {
        "personal_sales": personal, "rate": rate,
        "commission": _half_up(personal * HAND_BASE * rate),
        "morning_star_bonus": ms_bonus if by_20th >= ms_min else 0,
        "opening_star_bonus": os_bonus if personal >= os_min else 0,
        "override": override,
        "clawback": sum(_half_up(c.amount * HAND_BASE * Fraction(c.sale_rate))
                        for c in facts["clawbacks"]),
        "fines": sum(f.amount for f in facts["fines"]),
    }
    figures["total"] = (figures["commission"] + figures["morning_star_bonus"]
                        + figures["opening_star_bonus"] + figures["override"]
                        - figures["clawback"] - figures["fines"])
    return figures


@given(months())
def test_total_identity_and_shares(facts):
    """Every figure against the same figure worked by hand from SPEC 2.5 (``_by_hand``),
    never against the engine's own helpers; the shares add up to the commission."""
    s = statement_of(facts)
    hand = _by_hand(facts)
    assert {k: getattr(s, k) for k in hand if k != "rate"} == {k: v for k, v in hand.items() if k != "rate"}
    assert Fraction(s.rate) == hand["rate"]
    assert s.total == (s.commission + s.morning_star_bonus + s.opening_star_bonus + s.override
                       - s.clawback - s.fines + s.adjustments)
    assert s.adjustments == 0
    assert (s.payable_on, s.override_payable_on) == (date(2014, 5, 10), date(2014, 5, 10))
    assert sum(line["share"] for line in s.lines if line["type"] == "sale") == s.commission
    assert s.morning_star_sales <= s.personal_sales
    assert all(isinstance(v, int) for v in (s.commission, s.override, s.clawback, s.total))


def test_total_identity_by_hand_on_a_month_with_same_month_returns():
    """One month worked through by hand: an SM sells 12,000 on the 5th (3,000 of it returned
    on the 25th) and 9,000 on the 22nd; trained reps sold 40,000; a 2,000 return of a
    February sale at 15%; a 100 fine.
    personal 18,000 -> 15%: 18,000 x 0.9 / 1.17 x 0.15 = 2,076.923 -> 2,076.92;
    晨星 (SM: 20,000 by the 20th): 12,000 - 3,000 = 9,000, no; 开星 (SM: 30,000): no;
    override 40,000 x 5% = 2,000.00; clawback 2,000 x 0.9 / 1.17 x 0.15 = 230.769 -> 230.77;
    total 2,076.92 + 2,000 - 230.77 - 100 = 3,746.15."""
    facts = {
        "rank": "SM",
        "sales": [sale("a", 5, 12_000), sale("b", 22, 9_000)],
        "returns": [ReturnLine("ra", "a", date(2014, 3, 25), yuan(3_000))],
        "trainees": [("t1", yuan(25_000)), ("t2", yuan(15_000))],
        "clawbacks": [Clawback("c1", "return", "old", "2014-02", yuan(2_000), Decimal("0.15"))],
        "fines": [Fine("f1", date(2014, 3, 9), yuan(100))],
    }
    s = statement_of(facts)
    assert (s.personal_sales, s.rate, s.commission) == (1_800_000, Decimal("0.15"), 207_692)
    assert (s.morning_star_bonus, s.opening_star_bonus, s.override) == (0, 0, 200_000)
    assert (s.clawback, s.fines, s.total) == (23_077, 10_000, 374_615)
    assert _by_hand(facts)["total"] == 374_615


@given(st.integers(0, yuan(100_000)), st.integers(0, yuan(100_000)))
def test_commission_never_falls_as_sales_rise(a, b):
    low, high = sorted((a, b))
    assert commission_amount(PLAN, low) <= commission_amount(PLAN, high)


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=12))
def test_split_shares_sum_exactly(total, weights):
    if sum(weights) == 0:
        weights[0] = 1
    shares = split_shares(total, weights)
    assert sum(shares) == total and min(shares) >= 0
