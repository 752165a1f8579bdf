"""Incentive trips, 三阶段奖励旅游 (SPEC 2.5 Incentive trips, SPEC 3; SPEC 5.3 ``trips``).

Per rep and closed month, the promotion rows the month met (``rows_met`` of the month's
``Rep.CommissionAccrued``: a month counts once its close accrued it; a later accrual of the
same month replaces it). A trip counts the months meeting its row within its 12-month
window: 创星学院 July–June, 登峰海外游 and 寰宇领袖之旅 the calendar year (the trips of
the commission plan, ``trip_progress``).

Tables (``trips_<table>_g<n>``): ``reps`` (aggregate id -> rep id), ``months`` (rep,
period, rows met, plan version) and ``policies`` (the adopted plans: the trips' rules).
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from ledger.domain.calendar import add_months, month_of
from ledger.domain.commission_plan import trip_progress
from ledger.domain.model import (
    ApprovalGrants,
    Budget,
    Claim,
    Closings,
    CommandRecord,
    Customer,
    Dispute,
    PolicyBook,
    Rep,
    Sku,
    User,
)
from ledger.domain.plan_schema import load_plan
from ledger.domain.policies import PLAN_POLICY
from ledger.projections.common import (
    POLICY_TABLE,
    Dispatching,
    expect_rows,
    from_json,
    policy_in_force,
    record_policy,
    to_json,
    today,
)
from ledger.projections.engine import Projector, Sql
from ledger.projections.errors import invalid, unknown
from ledger.projections.receivables import projection_of


class TripsProjection(Dispatching):
    name = "trips"
    handlers: ClassVar[dict[type, str]] = {
        Rep.Registered: "_rep",
        Rep.CommissionAccrued: "_accrued",
        PolicyBook.PolicyAdopted: "_policy",
    }
    # stored events it does not read (tests/projections/test_event_coverage.py)
    ignores: ClassVar[frozenset[type]] = frozenset({
        ApprovalGrants.Opened, ApprovalGrants.Granted, ApprovalGrants.Used,
        Budget.Allocated, Budget.Adjusted, Budget.ExpenseSubmitted, Budget.ExpenseApproved,
        Budget.ExpenseRejected, Budget.ExpenseSpent, Budget.SpendReversed, Claim.Claimed,
        Closings.Opened, Closings.MonthClosed, CommandRecord.Recorded,
        CommandRecord.RecordedFor, Customer.Registered, Customer.CreditTermsSet,
        Customer.AtRiskFlagged, Customer.SaleRecorded, Customer.ReturnRecorded,
        Customer.PaymentRecorded, Customer.PaymentReversed, Customer.ReceivableWrittenOff,
        Dispute.Opened, Dispute.Resolved, PolicyBook.Opened, Rep.RankChanged, Rep.Fined,
        Rep.CommissionPaid, Rep.FineReversed, Rep.PayoutReversed, Sku.Opened,
        Sku.ListPriceSet, User.Registered,
    })
    tables: ClassVar[dict[str, str]] = {
        "reps": "origin TEXT PRIMARY KEY, rep_id TEXT NOT NULL UNIQUE",
        "months": "rep_id TEXT NOT NULL, period TEXT NOT NULL, rows_met TEXT NOT NULL, "
                  "plan_version TEXT NOT NULL, position BIGINT NOT NULL, "
                  "PRIMARY KEY (rep_id, period)",
        **POLICY_TABLE,
    }

    def _rep(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(f"INSERT INTO {self.t('reps')} (origin, rep_id) VALUES (?, ?)",
                    (e.originator_id.hex, e.rep_id))

    def _accrued(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('months')} (rep_id, period, rows_met, plan_version, position) "
            f"SELECT rep_id, ?, ?, ?, ? FROM {self.t('reps')} WHERE origin = ? "
            "ON CONFLICT (rep_id, period) DO UPDATE SET rows_met = excluded.rows_met, "
            "plan_version = excluded.plan_version, position = excluded.position",
            (e.period, to_json(sorted(e.rows_met)), e.plan_version, position, e.originator_id.hex),
        )
        expect_rows(sql, 1, f"accrual of rep aggregate {e.originator_id.hex}")

    def _policy(self, sql: Sql, position: int, e: Any) -> None:
        record_policy(sql, self.t("policies"), position, e)


def query_trips(projector: Projector, rep_id: str, year: int | str | None = None) -> dict[str, Any]:
    """``ledger query trips --rep R [--year Y]`` (default: this year): each trip's window
    that overlaps year Y (the July–June trip has two: the one ending in Y and the one
    starting in it), under the trips of the plan in force on 1 January of Y:
    ``{rep_id, year, plan_version, trips: [{name, row, required, window_from, window_to,
    months, count, still_needed, qualified, qualified_in}]}``. ``months`` are the closed
    months in the window that met the trip's row; ``still_needed`` = max(0, required -
    count); ``qualified_in`` is the month the count reached ``required``."""
    if year is None:
        y = today(projector).year
    else:
        try:
            y = int(year)
        except (TypeError, ValueError):
            raise invalid("year", f"must be a year YYYY, got {year!r}") from None
        if not 1900 <= y <= 9998:
            raise invalid("year", f"must be within 1900..9998, got {y}")
    p = projection_of(projector, TripsProjection)
    with projector.transaction(commit=False) as sql:
        if sql.one(f"SELECT rep_id FROM {p.t('reps')} WHERE rep_id = ?", (rep_id,)) is None:
            raise unknown("rep", rep_id, "rep")
        version = policy_in_force(sql, p.t("policies"), PLAN_POLICY, date(y, 1, 1))
        rows = sql.all(
            f"SELECT period, rows_met FROM {p.t('months')} WHERE rep_id = ? AND period >= ? "
            "AND period <= ? ORDER BY period", (rep_id, f"{y - 1:04d}-01", f"{y + 1:04d}-12"),
        )
    plan = load_plan(version.values)
    progress = trip_progress(plan, [(r["period"], from_json(r["rows_met"])) for r in rows])
    trips = []
    for trip in plan.trips:
        starts = [date(y, trip.window_start_month, 1)]
        if trip.window_start_month > 1:
            starts.insert(0, date(y - 1, trip.window_start_month, 1))
        for start in starts:
            label = f"{month_of(start)}..{month_of(add_months(start, 11))}"
            w = progress.get(trip.name, {}).get(label) or {"months": [], "count": 0,
                                                           "qualified": False,
                                                           "qualified_in": None}
            trips.append({
                "name": trip.name, "row": trip.row, "required": trip.months,
                "window_from": month_of(start), "window_to": month_of(add_months(start, 11)),
                "months": list(w["months"]), "count": w["count"],
                "still_needed": max(0, trip.months - w["count"]),
                "qualified": w["qualified"], "qualified_in": w["qualified_in"],
            })
    return {"rep_id": rep_id, "year": y, "plan_version": version.version, "trips": trips}
