"""``Rep.accrue``'s ``@event`` body only records the statement (issue 9: no rule inside an
``@event`` body, where it re-runs on every replay): the booked figures of each month
(``booked_months``) and what a payout may pay (``override_due``) are derived from the
recorded statements when read, with the same results as before, and replaying a rep's
accruals derives nothing."""

from __future__ import annotations

from datetime import date

from ledger.domain.commission_month import booked_months
from ledger.domain.model import Rep


def _statement(period: str, total: int, **extra):
    figures = dict(period=period, plan_version="p1", rank="SE", personal_sales=100_000,
                   morning_star_sales=0, rate="0.1", commission=10_000, morning_star_bonus=0,
                   opening_star_bonus=0, override=2_000, clawback=0, fines=0, adjustments=0,
                   carried=0, total=total, payable_on=f"{period}-28",
                   override_payable_on=f"{period}-28", lines=[], trainees=[], rows_met=[],
                   as_of_position=1, policy={}, meta={})
    figures.update(extra)
    return figures


def test_accruals_replay_without_deriving_and_read_as_booked():
    rep = Rep(rep_id="R1", name="R", rank="SE", trainer_id=None, region="east", user_id=None,
              effective_from="2025-01-01", meta={})
    jan = _statement("2025-01", 12_000, lines=[
        {"type": "override", "rep_id": "R2", "amount": 2_000}])
    # February's close books a late adjustment of January: January's figures as revised
    revised = {"rank": "SE", "plan_version": "p1", "personal_sales": 90_000, "rate": "0.1",
               "commission": 9_000, "morning_star_bonus": 0, "opening_star_bonus": 0,
               "override": 2_000, "clawback": 0, "fines": 0, "total": 11_000}
    feb = _statement("2025-02", 14_000, adjustments=-1_000, lines=[
        {"type": "adjustment", "period": "2025-01", "amount": -1_000, "revised": revised}])
    rep.accrue(**jan)
    rep.accrue(**feb)
    replayed = None
    for e in rep.collect_events():
        replayed = e.mutate(replayed)
    assert replayed._derived is None  # the @event bodies derived nothing
    assert replayed.months == booked_months([jan, feb])
    assert replayed.booked("2025-01") == revised
    assert replayed.booked("2025-02")["total"] == 15_000  # 14,000 less the -1,000 adjustment
    # its override part: its own 2,000 and the 2,000 of January's revision (the line
    # carries no "booked" figures, so all of the revised override is new)
    assert replayed.dues["2025-02"] == (14_000, 4_000, date(2025, 2, 28), date(2025, 2, 28))
    assert replayed.dues["2025-01"][0] == 12_000
    assert replayed.accrued == {"2025-01": 12_000, "2025-02": 14_000}
    # a new accrual is seen by the next read
    replayed.accrue(**_statement("2025-03", 5_000))
    assert replayed.booked("2025-03")["total"] == 5_000 and "2025-03" in replayed.dues
