"""CloseMonth: commissions, bonuses, override, clawbacks, fines, late facts and promotions
as events (SPEC 2.5, SPEC 5.2 CloseMonth/PayCommission/AdoptCommissionPlan, SPEC 5.3
`commission`), to the fen, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from support import applied, at, cmd, rejected, setup_company

from ledger.application import Ledger
from ledger.domain.commission_plan import PLAN_2014_CN_1
from ledger.domain.model import Rep
from ledger.domain.money import yuan

BIG = 10**12  # credit limit: no test here is about credit


def company(ledger: Ledger, *reps: tuple[str, str, str | None]) -> None:
    """The standard company, plus reps (rep_id, rank, trainer_id)."""
    setup_company(ledger, credit_limit=BIG)
    batch = [cmd("RegisterRep", "sa", rep_id=rep_id, name=rep_id, region="east", rank=rank,
                 **({"trainer_id": trainer} if trainer else {}))
             for rep_id, rank, trainer in reps]
    for answer in ledger.execute(batch):
        assert answer["status"] == "applied", answer


def sold(ledger: Ledger, sale_id: str, rep: str, amount: int | str, day: str,
         customer: str = "C1") -> dict[str, Any]:
    """A one-line sale of ``amount`` yuan (gross) by ``rep`` invoiced on ``day``."""
    return applied(ledger, cmd(
        "RecordSale", "sa", sale_id=sale_id, customer_id=customer, rep_id=rep,
        invoice_no=f"INV-{sale_id}", lines=[{"sku": "X", "quantity": 1, "unit_price": yuan(amount)}],
        **at(day)))


def close(ledger: Ledger, period: str, day: str) -> dict[str, Any]:
    return applied(ledger, cmd("CloseMonth", "fin", period=period, **at(day)))


def returned(ledger: Ledger, return_id: str, sale_id: str, amount: int | str, day: str) -> None:
    applied(ledger, cmd("RecordReturn", "sa", return_id=return_id, sale_id=sale_id,
                        amount=yuan(amount), approved_by="mgr", reason="damaged", **at(day)))


def events(ledger: Ledger, topic: str, rep_id: str | None = None) -> list[dict[str, Any]]:
    """The payloads of one topic's events in log order (optionally of one rep)."""
    out = []
    rep_uuid = Rep.create_id(rep_id) if rep_id else None
    position = 1
    while True:
        notes = ledger.app.recorder.select_notifications(start=position, limit=500, topics=[topic])
        for n in notes:
            if rep_uuid is None or n.originator_id == rep_uuid:
                event = ledger.app.mapper.to_domain_event(n)
                body = {k: v for k, v in vars(event).items()
                        if k not in ("originator_id", "originator_version", "timestamp")}
                out.append({"position": n.id, "rep_id": getattr(event, "rep_id", None), **body})
        if len(notes) < 500:
            return out
        position = notes[-1].id + 1


def accrual(ledger: Ledger, rep_id: str, period: str) -> dict[str, Any] | None:
    found = [e for e in events(ledger, "ledger:Rep.CommissionAccrued", rep_id)
             if e["period"] == period]
    assert len(found) <= 1
    return found[0] if found else None


def promotions(ledger: Ledger, rep_id: str) -> list[dict[str, Any]]:
    return [e for e in events(ledger, "ledger:Rep.RankChanged", rep_id)
            if e["reason"] == "promotion"]


def rep_state(ledger: Ledger, rep_id: str) -> Rep:
    return ledger.app.repository.get(Rep.create_id(rep_id))


def lines_of(statement: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [line for line in statement["lines"] if line["type"] == kind]


# --- SPEC 2.5 worked examples ---------------------------------------------------------


def test_worked_example_sr_20000_by_the_20th(ledger):
    company(ledger)
    sold(ledger, "S1", "R2", 20_000, "2024-03-20")
    answer = close(ledger, "2024-03", "2024-04-01")
    assert answer["result"]["reps_accrued"] == 2  # R2, and R1 (SM) for the override
    st = accrual(ledger, "R2", "2024-03")
    assert st is not None
    figures = {k: st[k] for k in ("period", "plan_version", "rank", "personal_sales", "rate",
                                  "commission", "morning_star_bonus", "opening_star_bonus",
                                  "override", "clawback", "fines", "adjustments", "total",
                                  "payable_on", "override_payable_on")}
    assert figures == {
        "period": "2024-03", "plan_version": "2014-cn-1", "rank": "SR",
        "personal_sales": 2_000_000, "rate": "0.2", "commission": 307_692,
        "morning_star_bonus": 150_000, "opening_star_bonus": 100_000, "override": 0,
        "clawback": 0, "fines": 0, "adjustments": 0, "total": 557_692,  # 5,576.92
        "payable_on": "2024-05-10", "override_payable_on": "2024-05-10",
    }
    assert st["lines"] == [{"type": "sale", "sale_id": "S1", "date": "2024-03-20",
                            "gross": 2_000_000, "returned": 0, "share": 307_692}]
    assert st["meta"]["actor"] == "fin" and st["as_of_position"] > 0
    assert rep_state(ledger, "R2").payable_for("2024-03") == 557_692


def test_worked_example_sm_with_four_trained_srs(ledger):
    company(ledger, *[(f"T{i}", "SR", "R1") for i in range(1, 5)])
    sold(ledger, "S0", "R1", 30_000, "2024-03-20")
    for i in range(1, 5):
        sold(ledger, f"S{i}", f"T{i}", 20_000, "2024-03-10", customer="C2")
    close(ledger, "2024-03", "2024-04-01")
    st = accrual(ledger, "R1", "2024-03")
    assert st is not None
    assert (st["rank"], st["personal_sales"], st["rate"]) == ("SM", 3_000_000, "0.2")
    assert st["commission"] == 461_538  # 30,000 x 0.9 / 1.17 x 20% = 4,615.38
    assert (st["morning_star_bonus"], st["opening_star_bonus"]) == (400_000, 200_000)
    assert st["override"] == 400_000  # 5% of 4 x 20,000
    assert st["total"] == 1_461_538  # 14,615.38
    assert st["override_payable_on"] == "2024-05-10"
    assert st["trainees"] == [{"rep_id": f"T{i}", "personal_sales": 2_000_000} for i in range(1, 5)]
    assert lines_of(st, "trainee") == [
        {"type": "trainee", "rep_id": f"T{i}", "personal_sales": 2_000_000} for i in range(1, 5)]
    assert st["rows_met"] == ["SE", "SSE", "SM"]
    assert promotions(ledger, "R1") == []  # already SM; the SSM row needs 6 reps
    for i in range(1, 5):
        trainee = accrual(ledger, f"T{i}", "2024-03")
        assert trainee is not None and trainee["total"] == 557_692


# --- tiers, 晨星 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rate", "commission"),
    [("12999.99", "0", 0), (13_000, "0.1", 100_000), ("14999.99", "0.1", 115_385),
     (15_000, "0.15", 173_077), ("19999.99", "0.15", 230_769), (20_000, "0.2", 307_692)],
)
def test_rep_just_under_and_at_each_tier(ledger, amount, rate, commission):
    company(ledger)
    sold(ledger, "S1", "R2", amount, "2024-03-25")  # after the 20th: no 晨星
    close(ledger, "2024-03", "2024-04-01")
    st = accrual(ledger, "R2", "2024-03")
    assert st is not None
    assert (st["rate"], st["commission"], st["morning_star_bonus"]) == (rate, commission, 0)


@pytest.mark.parametrize(("day", "bonus"), [("2024-03-20", 150_000), ("2024-03-21", 0)])
def test_morning_star_missed_by_one_day(ledger, day, bonus):
    company(ledger)
    sold(ledger, "S1", "R2", 15_000, day)
    close(ledger, "2024-03", "2024-04-01")
    st = accrual(ledger, "R2", "2024-03")
    assert st is not None
    assert (st["morning_star_sales"], st["morning_star_bonus"]) == (
        yuan(15_000) if bonus else 0, bonus)
    assert st["commission"] == 173_077 and st["total"] == 173_077 + bonus


def test_morning_star_on_the_20th_in_company_time(ledger):
    company(ledger)
    # 23:30 on the 20th in Shanghai is still the 20th; 16:30Z on the 20th is 00:30 the 21st
    applied(ledger, cmd("RecordSale", "sa", sale_id="S1", customer_id="C1", rep_id="R2",
                        invoice_no="I1", lines=[{"sku": "X", "quantity": 1,
                                                 "unit_price": yuan(15_000)}],
                        occurred_at="2024-03-20T16:30:00+00:00"))
    close(ledger, "2024-03", "2024-04-01")
    st = accrual(ledger, "R2", "2024-03")
    assert st is not None and st["morning_star_bonus"] == 0
    assert st["lines"][0]["date"] == "2024-03-21"


def test_same_month_return_nets_personal_sales_and_the_tier(ledger):
    company(ledger)
    sold(ledger, "S1", "R2", 20_000, "2024-03-05")
    returned(ledger, "RT1", "S1", "0.01", "2024-03-28")
    close(ledger, "2024-03", "2024-04-01")
    st = accrual(ledger, "R2", "2024-03")
    assert st is not None
    assert (st["personal_sales"], st["rate"], st["commission"]) == (1_999_999, "0.15", 230_769)
    assert (st["morning_star_bonus"], st["opening_star_bonus"]) == (150_000, 0)
    assert lines_of(st, "return") == [{"type": "return", "return_id": "RT1", "sale_id": "S1",
                                       "date": "2024-03-28", "amount": 1}]


# --- promotion ------------------------------------------------------------------------


def test_promotion_needs_trained_reps_who_each_reach_13000(ledger):
    company(ledger, ("A", "SR", None), *[(f"A{i}", "SR", "A") for i in range(1, 5)],
            ("B", "SR", None), *[(f"B{i}", "SR", "B") for i in range(1, 5)])
    # A's trainees: 60,000 together, each at least 13,000 -> SM
    sold(ledger, "A", "A", 15_000, "2024-03-02")
    for i in range(1, 5):
        sold(ledger, f"A{i}", f"A{i}", 15_000, "2024-03-03", customer="C2")
    # B's trainees: 60,000 together too, but B4 at 12,999.99 does not count -> SSE only
    sold(ledger, "B", "B", 15_000, "2024-03-02")
    for i, amount in enumerate(["17000.01", 15_000, 15_000, "12999.99"], start=1):
        sold(ledger, f"B{i}", f"B{i}", amount, "2024-03-03", customer="C2")
    answer = close(ledger, "2024-03", "2024-04-01")
    assert answer["result"]["promotions"] == [
        {"rep_id": "A", "rank": "SM", "previous_rank": "SR"},
        {"rep_id": "B", "rank": "SSE", "previous_rank": "SR"}]
    [a] = promotions(ledger, "A")
    assert (a["rank"], a["previous_rank"], a["effective_from"], a["decided_by"]) == (
        "SM", "SR", "2024-04-01", "fin")
    ev = a["evidence"]
    assert (ev["kind"], ev["period"], ev["plan_version"]) == ("promotion", "2024-03", "2014-cn-1")
    assert (ev["own_sales"], ev["trained_sales"], ev["trained_reps"]) == (1_500_000, 6_000_000, 4)
    assert ev["counted_reps"] == ["A1", "A2", "A3", "A4"]
    assert ev["row"]["rank"] == "SM"
    [b] = promotions(ledger, "B")
    assert (b["rank"], b["evidence"]["trained_reps"]) == ("SSE", 3)
    assert b["evidence"]["counted_reps"] == ["B1", "B2", "B3"]
    assert {"rep_id": "B4", "personal_sales": 1_299_999} in b["evidence"]["trainees"]
    assert promotions(ledger, "A1") == []  # no trainees of their own
    # the new rank is in effect from the 1st of the next month: April uses the SM group
    assert rep_state(ledger, "A").rank_on(date(2024, 3, 31)) == "SR"
    sold(ledger, "A-apr", "A", 20_000, "2024-04-20")
    for i in range(1, 5):
        sold(ledger, f"A{i}-apr", f"A{i}", 10_000, "2024-04-03", customer="C2")
    close(ledger, "2024-04", "2024-05-01")
    april = accrual(ledger, "A", "2024-04")
    assert april is not None
    assert april["rank"] == "SM"
    assert (april["morning_star_bonus"], april["opening_star_bonus"]) == (400_000, 0)
    assert april["override"] == 200_000  # 5% of 40,000
    assert april["override_payable_on"] == "2024-08-10"  # with June, the quarter's last month
    assert april["payable_on"] == "2024-06-10"


def test_ranks_never_drop_automatically(ledger):
    company(ledger)
    close(ledger, "2024-03", "2024-04-01")  # R1 (SM) sold nothing
    assert rep_state(ledger, "R1").rank_on(date(2024, 4, 1)) == "SM"
    assert events(ledger, "ledger:Rep.RankChanged") == []
    assert accrual(ledger, "R1", "2024-03") is None  # nothing happened: no accrual event


def test_manual_rank_change_by_a_director_with_a_reason(ledger):
    company(ledger)
    rejected(ledger, cmd("ChangeRank", "fin", rep_id="R2", rank="SE", reason="x"), "not_authorized")
    rejected(ledger, cmd("ChangeRank", "dir", rep_id="R2", rank="BOSS", reason="x"), "invalid_field")
    rejected(ledger, cmd("ChangeRank", "dir", rep_id="NOPE", rank="SE", reason="x"),
             "unknown_reference")
    answer = applied(ledger, cmd("ChangeRank", "dir", rep_id="R2", rank="SM",
                                 reason="regional reorganisation", effective_from="2024-03-01",
                                 **at("2024-02-20")))
    assert answer["result"] == {"rep_id": "R2", "rank": "SM", "previous_rank": "SR",
                                "effective_from": "2024-03-01"}
    [change] = events(ledger, "ledger:Rep.RankChanged", "R2")
    assert (change["reason"], change["decided_by"], change["evidence"]["kind"]) == (
        "regional reorganisation", "dir", "manual")
    # a manual change may lower a rank: only automatic changes never drop
    applied(ledger, cmd("ChangeRank", "dir", rep_id="R2", rank="SE", reason="demoted",
                        **at("2024-03-10")))
    state = rep_state(ledger, "R2")
    assert [state.rank_on(date(2024, 2, 29)), state.rank_on(date(2024, 3, 1)),
            state.rank_on(date(2024, 3, 10))] == ["SR", "SM", "SE"]
    sold(ledger, "S1", "R2", 20_000, "2024-03-05")
    close(ledger, "2024-03", "2024-04-01")
    st = accrual(ledger, "R2", "2024-03")
    assert st is not None and st["rank"] == "SM"  # the rank on the month's 1st
    assert st["morning_star_bonus"] == 400_000 and st["opening_star_bonus"] == 0


# --- clawback, fines -------------------------------------------------------------------


def test_clawback_in_a_later_month_at_the_sale_months_rate(ledger):
    company(ledger)
    sold(ledger, "S1", "R2", 20_000, "2024-03-05")
    close(ledger, "2024-03", "2024-04-01")
    sold(ledger, "S2", "R2", 13_000, "2024-04-05")  # April's own rate is 10%
    returned(ledger, "RT1", "S1", 2_000, "2024-04-10")
    applied(ledger, cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1",
                        amount=yuan(1_000), approved_by="dir", reason="bankrupt", **at("2024-04-12")))
    close(ledger, "2024-04", "2024-05-01")
    st = accrual(ledger, "R2", "2024-04")
    assert st is not None
    assert (st["personal_sales"], st["rate"], st["commission"]) == (1_300_000, "0.1", 100_000)
    assert lines_of(st, "clawback") == [
        {"type": "clawback", "ref_id": "RT1", "kind": "return", "sale_id": "S1",
         "sale_period": "2024-03", "gross": 200_000, "rate": "0.2", "amount": 30_769},
        {"type": "clawback", "ref_id": "W1", "kind": "write_off", "sale_id": "S1",
         "sale_period": "2024-03", "gross": 100_000, "rate": "0.2", "amount": 15_385},
    ]
    assert st["clawback"] == 46_154
    assert st["total"] == 100_000 - 46_154
    march = accrual(ledger, "R2", "2024-03")
    assert march is not None and march["total"] == 557_692  # bonuses already earned stay
    # the trainer's override is not clawed back (default)
    r1 = accrual(ledger, "R1", "2024-04")
    assert r1 is not None and (r1["override"], r1["clawback"]) == (65_000, 0)


def test_clawback_when_the_month_only_has_clawbacks(ledger):
    company(ledger)
    sold(ledger, "S1", "R2", 15_000, "2024-03-05")
    close(ledger, "2024-03", "2024-04-01")
    returned(ledger, "RT1", "S1", 15_000, "2024-04-02")
    close(ledger, "2024-04", "2024-05-01")
    st = accrual(ledger, "R2", "2024-04")
    assert st is not None
    assert (st["personal_sales"], st["clawback"], st["total"]) == (0, 173_077, -173_077)


def test_same_month_write_off_is_clawed_back_in_that_month(ledger):
    company(ledger)
    sold(ledger, "S1", "R2", 20_000, "2024-03-05")
    applied(ledger, cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1",
                        amount=yuan(20_000), approved_by="dir", reason="fraud", **at("2024-03-30")))
    close(ledger, "2024-03", "2024-04-01")
    st = accrual(ledger, "R2", "2024-03")
    assert st is not None
    assert (st["personal_sales"], st["commission"], st["clawback"]) == (2_000_000, 307_692, 307_692)
    assert st["total"] == 250_000  # the bonuses stay


def test_fines_reduce_the_month_of_their_business_date(ledger):
    company(ledger)
    sold(ledger, "S1", "R2", 13_000, "2024-03-05")
    applied(ledger, cmd("FineRep", "fin", fine_id="F1", rep_id="R2", amount=yuan(50),
                        reason="late report", approved_by="mgr", **at("2024-03-31", "23:00:00")))
    applied(ledger, cmd("FineRep", "fin", fine_id="F2", rep_id="R2", amount=yuan(70),
                        reason="late report", approved_by="mgr", **at("2024-04-01")))
    close(ledger, "2024-03", "2024-04-01")
    st = accrual(ledger, "R2", "2024-03")
    assert st is not None
    assert (st["fines"], st["total"]) == (5_000, 100_000 - 5_000)
    assert lines_of(st, "fine") == [{"type": "fine", "fine_id": "F1", "date": "2024-03-31",
                                     "amount": 5_000}]
    close(ledger, "2024-04", "2024-05-01")
    april = accrual(ledger, "R2", "2024-04")
    assert april is not None and (april["fines"], april["total"]) == (7_000, -7_000)


# --- plan versions --------------------------------------------------------------------


def plan_2014_cn_2() -> dict[str, Any]:
    plan = copy.deepcopy(PLAN_2014_CN_1)
    plan["version"] = "2014-cn-2"
    plan["rate_tiers"][3]["rate"] = "0.25"
    return plan


def test_plan_change_between_two_months(ledger):
    company(ledger)
    answer = applied(ledger, cmd("AdoptCommissionPlan", "dir", plan_version="2014-cn-2",
                                 effective_from="2024-04-01", plan=plan_2014_cn_2(),
                                 **at("2024-03-15")))
    assert answer["result"]["first_month"] == "2024-04"
    sold(ledger, "S1", "R2", 20_000, "2024-03-25")
    sold(ledger, "S2", "R2", 20_000, "2024-04-25")
    march = close(ledger, "2024-03", "2024-04-01")
    april = close(ledger, "2024-04", "2024-05-01")
    assert (march["result"]["plan_version"], april["result"]["plan_version"]) == (
        "2014-cn-1", "2014-cn-2")
    m, a = accrual(ledger, "R2", "2024-03"), accrual(ledger, "R2", "2024-04")
    assert m is not None and a is not None
    assert (m["plan_version"], m["rate"], m["commission"]) == ("2014-cn-1", "0.2", 307_692)
    assert (a["plan_version"], a["rate"], a["commission"]) == ("2014-cn-2", "0.25", 384_615)


def test_a_plan_effective_mid_month_governs_from_the_next_month(ledger):
    company(ledger)
    answer = applied(ledger, cmd("AdoptCommissionPlan", "dir", plan_version="2014-cn-2",
                                 effective_from="2024-03-15", plan=plan_2014_cn_2(),
                                 **at("2024-03-01")))
    assert answer["result"]["first_month"] == "2024-04"
    sold(ledger, "S1", "R2", 20_000, "2024-03-25")
    close(ledger, "2024-03", "2024-04-01")
    m = accrual(ledger, "R2", "2024-03")
    assert m is not None and m["plan_version"] == "2014-cn-1"


def test_a_plan_for_a_closed_month_is_period_closed(ledger):
    company(ledger)
    close(ledger, "2024-03", "2024-04-01")
    body = cmd("AdoptCommissionPlan", "dir", plan_version="2014-cn-2",
               effective_from="2024-03-01", plan=plan_2014_cn_2(), **at("2024-04-02"))
    answer = rejected(ledger, body, "period_closed")
    assert answer["details"]["last_closed"] == "2024-03"
    applied(ledger, cmd("AdoptCommissionPlan", "dir", plan_version="2014-cn-2",
                        effective_from="2024-03-02", plan=plan_2014_cn_2(), **at("2024-04-02")))


# --- the close itself -------------------------------------------------------------------


def test_closing_twice_changes_nothing(ledger):
    company(ledger)
    sold(ledger, "S1", "R2", 20_000, "2024-03-20")
    first = close(ledger, "2024-03", "2024-04-01")
    before = ledger.max_position()
    again = close(ledger, "2024-03", "2024-04-02")
    assert again["result"] == {"period": "2024-03", "already_closed": True}
    # only the command record of the second CloseMonth: no accrual, no close event
    assert len(events(ledger, "ledger:Rep.CommissionAccrued")) == 2  # R2 and R1
    assert len(events(ledger, "ledger:Closings.MonthClosed")) == 1
    assert ledger.max_position() - before == again["events"] == 1
    assert first["result"]["already_closed"] is False


def test_months_close_in_order_and_only_once_ended(ledger):
    company(ledger)
    rejected(ledger, cmd("CloseMonth", "fin", period="2024-03", **at("2024-03-31")), "invalid_state")
    close(ledger, "2024-03", "2024-04-01")
    rejected(ledger, cmd("CloseMonth", "fin", period="2024-05", **at("2024-06-01")), "period_closed")
    rejected(ledger, cmd("CloseMonth", "sa", period="2024-04", **at("2024-05-01")), "not_authorized")


def test_late_sale_lands_as_an_adjustment_in_the_next_close(ledger):
    company(ledger)
    sold(ledger, "S1", "R2", 14_000, "2024-03-05")
    close(ledger, "2024-03", "2024-04-01")
    march = accrual(ledger, "R2", "2024-03")
    assert march is not None and march["total"] == 107_692
    late = sold(ledger, "S2", "R2", 6_000, "2024-03-18")
    assert late["result"]["closed_period"] is True
    sold(ledger, "S3", "R2", 1_000, "2024-04-02")
    answer = close(ledger, "2024-04", "2024-05-01")
    assert answer["result"]["late_facts"] == 1
    st = accrual(ledger, "R2", "2024-04")
    assert st is not None
    # March recomputed with S2: 20,000 -> 20% = 3,076.92 + 晨星 1,500 + 开星 1,000
    [adj] = lines_of(st, "adjustment")
    assert adj["period"] == "2024-03" and adj["amount"] == 557_692 - 107_692
    assert [f["id"] for f in adj["facts"]] == ["S2"]
    assert (adj["booked"]["total"], adj["revised"]["total"]) == (107_692, 557_692)
    assert (adj["booked"]["rate"], adj["revised"]["rate"]) == ("0.1", "0.2")
    assert st["adjustments"] == 450_000
    assert st["total"] == 0 + 450_000  # April's own 1,000 earns nothing
    assert st["personal_sales"] == 100_000
    # March's accrual is never edited; the rep's March figures are the revised ones
    assert accrual(ledger, "R2", "2024-03")["total"] == 107_692  # type: ignore[index]
    assert rep_state(ledger, "R2").booked("2024-03")["rate"] == "0.2"  # type: ignore[index]
    # the trainer (SM) gets the override on the late sale as an adjustment too
    r1 = accrual(ledger, "R1", "2024-04")
    assert r1 is not None
    [r1_adj] = lines_of(r1, "adjustment")
    assert (r1_adj["period"], r1_adj["amount"], r1_adj["facts"]) == ("2024-03", 30_000, [])
    assert r1["override"] == 5_000


def test_late_return_and_fine_of_a_closed_month(ledger):
    company(ledger)
    sold(ledger, "S1", "R2", 20_000, "2024-02-10")
    close(ledger, "2024-02", "2024-03-01")
    sold(ledger, "S2", "R2", 15_000, "2024-03-10")
    close(ledger, "2024-03", "2024-04-01")
    # recorded in April, dated in March: a return of a February sale (a March clawback),
    # and a fine
    returned(ledger, "RT1", "S1", 1_000, "2024-03-30")
    applied(ledger, cmd("FineRep", "fin", fine_id="F1", rep_id="R2", amount=yuan(100),
                        reason="x", approved_by="mgr", **at("2024-03-31")))
    close(ledger, "2024-04", "2024-05-01")
    st = accrual(ledger, "R2", "2024-04")
    assert st is not None
    [adj] = lines_of(st, "adjustment")
    assert {f["id"] for f in adj["facts"]} == {"RT1", "F1"}
    assert adj["amount"] == -(15_385 + 10_000)  # 1,000 x 0.9/1.17 x 20% = 153.85; fine 100
    assert (adj["revised"]["clawback"], adj["revised"]["fines"]) == (15_385, 10_000)


def test_pay_commission_against_the_closed_months_balance(ledger):
    company(ledger, ("Z", "SR", None))
    sold(ledger, "S1", "R2", 20_000, "2024-03-20")
    body = dict(rep_id="R2", period="2024-03", paid_on="2024-05-10")
    rejected(ledger, cmd("PayCommission", "fin", payout_id="P0", amount=1, **body), "invalid_state")
    close(ledger, "2024-03", "2024-04-01")
    answer = rejected(ledger, cmd("PayCommission", "fin", payout_id="P1", amount=557_693, **body),
                      "exceeds_open_amount")
    assert answer["details"]["payable"] == 557_692
    first = applied(ledger, cmd("PayCommission", "fin", payout_id="P1", amount=500_000, **body))
    assert first["result"]["balance"] == 57_692
    rejected(ledger, cmd("PayCommission", "fin", payout_id="P2", amount=57_693, **body),
             "exceeds_open_amount")
    applied(ledger, cmd("PayCommission", "fin", payout_id="P2", amount=57_692, **body))
    rejected(ledger, cmd("PayCommission", "fin", payout_id="P1", amount=1, **body), "duplicate_id")
    # a closed month with nothing accrued has nothing payable
    rejected(ledger, cmd("PayCommission", "fin", payout_id="P3", rep_id="Z", period="2024-03",
                         amount=1, paid_on="2024-05-10"), "exceeds_open_amount")


def test_facts_of_the_next_month_recorded_before_the_close_wait_for_their_month(ledger):
    company(ledger)
    sold(ledger, "S1", "R2", 13_000, "2024-03-05")
    sold(ledger, "S2", "R2", 15_000, "2024-04-01")  # April, recorded before March closes
    march = close(ledger, "2024-03", "2024-04-02")
    assert march["result"]["next_scan_from"] <= march["result"]["as_of_position"]
    sold(ledger, "S3", "R2", 1_000, "2024-04-03")
    april = close(ledger, "2024-04", "2024-05-01")
    assert april["result"]["scan_from"] == march["result"]["next_scan_from"]
    assert april["result"]["late_facts"] == 0
    st = accrual(ledger, "R2", "2024-04")
    assert st is not None and st["personal_sales"] == yuan(16_000)
    assert [line["sale_id"] for line in lines_of(st, "sale")] == ["S2", "S3"]


def test_late_facts_of_two_months_and_a_second_late_fact_for_the_same_month(ledger):
    company(ledger, ("Y", "SR", None), ("Y1", "SR", "Y"))
    sold(ledger, "S1", "R2", 13_000, "2024-03-05")
    close(ledger, "2024-03", "2024-04-01")
    sold(ledger, "S2", "R2", 13_000, "2024-04-05")
    close(ledger, "2024-04", "2024-05-01")
    # recorded in May: one sale dated March, one dated April (and a trainee's late sale
    # whose trainer is an SR: no override, so no adjustment for the trainer)
    sold(ledger, "L1", "R2", 2_000, "2024-03-30")
    sold(ledger, "L2", "R2", 7_000, "2024-04-30")
    sold(ledger, "L3", "Y1", 1_000, "2024-04-30")
    answer = close(ledger, "2024-05", "2024-06-01")
    assert answer["result"]["late_facts"] == 3
    may = accrual(ledger, "R2", "2024-05")
    assert may is not None
    march_adj, april_adj = lines_of(may, "adjustment")
    assert (march_adj["period"], april_adj["period"]) == ("2024-03", "2024-04")
    assert march_adj["amount"] == 173_077 - 100_000  # 15,000 at 15% (after the 20th)
    assert april_adj["amount"] == 307_692 + 100_000 - 100_000  # 20,000: 20% and 开星
    assert may["total"] == may["adjustments"] == march_adj["amount"] + april_adj["amount"]
    y1 = accrual(ledger, "Y1", "2024-05")
    assert y1 is not None and [a["period"] for a in lines_of(y1, "adjustment")] == ["2024-04"]
    assert accrual(ledger, "Y", "2024-05") is None
    # another late March sale in June: compared with March as revised in May, not as closed
    sold(ledger, "L4", "R2", 5_000, "2024-03-31")
    close(ledger, "2024-06", "2024-07-01")
    june = accrual(ledger, "R2", "2024-06")
    assert june is not None
    [adj] = lines_of(june, "adjustment")
    assert adj["booked"]["total"] == 173_077 and adj["booked"]["personal_sales"] == yuan(15_000)
    assert adj["revised"]["total"] == 307_692 + 100_000  # 20,000: 20% + 开星 (no 晨星)
    assert adj["amount"] == 307_692 + 100_000 - 173_077
    assert [f["id"] for f in adj["facts"]] == ["L4"]
    # what each month finally booked, on the rep
    state = rep_state(ledger, "R2")
    assert [state.booked(p)["total"] for p in ("2024-03", "2024-04")] == [407_692, 407_692]  # type: ignore[index]


def test_a_late_return_of_a_late_sale_is_clawed_back_at_the_revised_rate(ledger):
    company(ledger)
    close(ledger, "2024-03", "2024-04-01")
    sold(ledger, "L1", "R2", 20_000, "2024-03-25")  # late: March was closed with nothing
    returned(ledger, "RT1", "L1", 1_000, "2024-04-03")  # an April return of a March sale
    close(ledger, "2024-04", "2024-05-01")
    st = accrual(ledger, "R2", "2024-04")
    assert st is not None
    [adj] = lines_of(st, "adjustment")
    assert (adj["booked"]["total"], adj["revised"]["rate"]) == (0, "0.2")
    [claw] = lines_of(st, "clawback")
    assert (claw["sale_period"], claw["rate"], claw["amount"]) == ("2024-03", "0.2", 15_385)
    assert st["total"] == 307_692 + 100_000 - 15_385


def test_a_closer_with_a_rep_account_cannot_close_the_month(ledger):
    """SPEC 1 segregation: the close decides every rep's accrual and promotion, so a
    finance user who is also a rep's own user may not run it; nothing is stored."""
    from support import applied, at, cmd, rejected, setup_company

    setup_company(ledger)
    applied(ledger, cmd("RegisterRep", "sa", rep_id="R-FIN", name="Finance rep", region="east",
                        user_id="fin2", **at("2024-01-02")))
    before = ledger.max_position()
    answer = rejected(ledger, cmd("CloseMonth", "fin2", period="2024-01", **at("2024-02-01")),
                      "segregation_of_duties")
    assert answer["details"]["rep_id"] == "R-FIN"
    assert ledger.max_position() == before
    applied(ledger, cmd("CloseMonth", "fin", period="2024-01", **at("2024-02-01")))


def test_rank_change_and_fine_need_a_reason(ledger):
    from support import at, cmd, rejected, setup_company

    setup_company(ledger)
    rejected(ledger, cmd("ChangeRank", "dir", rep_id="R2", rank="SE", reason="   ", **at("2024-01-02")),
             "invalid_field")
    rejected(ledger, cmd("FineRep", "fin", fine_id="F1", rep_id="R2", amount=100, reason=" ",
                         approved_by="mgr", **at("2024-01-02")), "invalid_field")
