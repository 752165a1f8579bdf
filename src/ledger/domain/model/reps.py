"""Sales reps: rank, trainer, fines, commission accruals and payouts (SPEC 2.5).

The rep is the consistency boundary for its rank and its commission account: a month
close records each rep's statement on the rep (``CommissionAccrued``), a payout checks
the period's accrued total less what was paid against it (``CommissionPaid``).

``CommissionAccrued`` carries the whole statement of a month, so the commission
projection and an auditor can read it from the event alone: ``period``, ``plan_version``,
``rank`` (on the month's 1st), ``personal_sales``, ``morning_star_sales``, ``rate``,
``commission``, ``morning_star_bonus``, ``opening_star_bonus``, ``override``, ``clawback``,
``fines``, ``adjustments``, ``carried`` (<= 0: the month before's negative total carried
in, SPEC 2.5), ``total`` (= commission + bonuses + override + adjustments + carried -
clawback - fines), ``payable_on``, ``override_payable_on``, ``lines`` (the engine's
statement lines: sales with their shares, same-month returns, trainees, clawbacks, fines,
adjustments of earlier months and the carried line), ``trainees`` (every trained rep with
sales that month and their personal sales), ``rows_met`` (promotion rows the month met,
for trips), ``as_of_position`` (the log position the close read up to) and ``policy``
(the versions of the policies besides the plan it consulted: ``commission``).

What a payout may pay for a month (``payable_by``, SPEC 2.5 PayCommission): what the
month's statement makes payable by the payout's ``paid_on``
(``commission_plan.payable_by``: nothing before ``payable_on``, the override part from
``override_payable_on``, a negative total never) less what was paid for the month.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.commission_month import booked_months, rank_on
from ledger.domain.commission_plan import override_due, payable_by
from ledger.domain.ids import aggregate_id


class Rep(Aggregate):
    TOPIC = "ledger:Rep"
    KIND = "rep"

    class Created(Aggregate.Created):
        TOPIC = "ledger:Rep.Created"

    @staticmethod
    def create_id(rep_id: str) -> UUID:
        return aggregate_id(Rep.KIND, rep_id)

    class Registered(Aggregate.Created):
        TOPIC = "ledger:Rep.Registered"
        rep_id: str
        name: str
        rank: str
        trainer_id: str | None
        region: str
        user_id: str | None
        effective_from: str
        meta: dict[str, Any]

    @event(Registered)
    def __init__(self, rep_id: str, name: str, rank: str, trainer_id: str | None, region: str,
                 user_id: str | None, effective_from: str, meta: dict[str, Any]) -> None:
        self.rep_id = rep_id
        self.name = name
        self.trainer_id = trainer_id
        self.region = region
        self.user_id = user_id
        # rank history: (effective_from, rank); the registration rank holds from the start
        self.ranks: list[tuple[date, str]] = [(date(1, 1, 1), rank)]
        self.fines: dict[str, int] = {}
        self.fine_days: dict[str, str] = {}  # fine_id -> fined_on
        self.payout_days: dict[str, str] = {}  # payout_id -> paid_on
        self.payouts: dict[str, list[tuple[str, int]]] = {}  # period -> [(payout_id, amount)]
        # period -> total of that period's statement (what becomes payable for it)
        self.accrued: dict[str, int] = {}
        # every accrued statement's figures as recorded, in log order: ``months`` and
        # ``dues`` are derived from them when read (the rules run outside the @event body)
        self.statements: list[dict[str, Any]] = []
        self._derived: tuple[dict[str, dict[str, Any]],
                             dict[str, tuple[int, int, date, date]]] | None = None

    def rank_on(self, day: date) -> str:
        return rank_on(self.ranks, day)

    def paid_for(self, period: str) -> int:
        return sum(amount for _, amount in self.payouts.get(period, ()))

    def payable_for(self, period: str) -> int:
        """What is still payable for a period: its accrued total (a negative one is payable
        as 0) less payouts for it."""
        return max(self.accrued.get(period, 0), 0) - self.paid_for(period)

    def payable_by(self, period: str, day: date) -> int:
        """What the period's statement makes payable by ``day`` (SPEC 2.5), before
        payouts: 0 for a month that accrued nothing."""
        if period not in self.dues:
            return 0
        total, override, on, override_on = self.dues[period]
        return payable_by(total, override, on, override_on, day)

    def booked(self, period: str) -> dict[str, Any] | None:
        """The month's own figures as last booked, or None if it never accrued."""
        return self.months.get(period)

    @property
    def months(self) -> dict[str, dict[str, Any]]:
        """period -> that month's own figures as last booked (``booked_months``): at its
        close, then as revised by late adjustments booked in later closes."""
        return self._derive()[0]

    @property
    def dues(self) -> dict[str, tuple[int, int, date, date]]:
        """period -> (total, its override part, payable_on, override_payable_on): what a
        payout may pay for it by a date (``payable_by``)."""
        return self._derive()[1]

    def _derive(self) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int, int, date, date]]]:
        if self._derived is None:
            dues = {st["period"]: (st["total"], override_due(st["override"], st["lines"]),
                                   date.fromisoformat(st["payable_on"]),
                                   date.fromisoformat(st["override_payable_on"]))
                    for st in self.statements}
            self._derived = (booked_months(self.statements), dues)
        return self._derived

    class RankChanged(Aggregate.Event):
        TOPIC = "ledger:Rep.RankChanged"
        rank: str
        previous_rank: str
        effective_from: str
        reason: str
        decided_by: str
        evidence: dict[str, Any]
        meta: dict[str, Any]

    @event(RankChanged)
    def change_rank(self, rank: str, previous_rank: str, effective_from: str, reason: str,
                    decided_by: str, evidence: dict[str, Any], meta: dict[str, Any]) -> None:
        self.ranks.append((date.fromisoformat(effective_from), rank))

    class Fined(Aggregate.Event):
        TOPIC = "ledger:Rep.Fined"
        fine_id: str
        amount: int
        reason: str
        approved_by: str
        fined_on: str
        meta: dict[str, Any]

    @event(Fined)
    def fine(self, fine_id: str, amount: int, reason: str, approved_by: str, fined_on: str,
             meta: dict[str, Any]) -> None:
        self.fines[fine_id] = amount
        self.fine_days[fine_id] = fined_on

    class CommissionAccrued(Aggregate.Event):
        """A closed month's statement (see the module's docstring).

        Version 2 added ``carried`` and ``policy``. A version-1 event predates carrying
        negative totals: it carried nothing in and recorded no other policy than its plan,
        so it is upcast with 0 and ``{}``. The earliest version-1 events were written
        before ``morning_star_sales``, ``adjustments`` and ``trainees`` were recorded (no
        stored sample lacks them; the commission projection used to default them): such
        an event had none, so it is upcast with 0, 0 and ``[]``."""

        TOPIC = "ledger:Rep.CommissionAccrued"
        class_version = 2

        period: str
        plan_version: str
        rank: str
        personal_sales: int
        morning_star_sales: int
        rate: str
        commission: int
        morning_star_bonus: int
        opening_star_bonus: int
        override: int
        clawback: int
        fines: int
        adjustments: int
        carried: int
        total: int
        payable_on: str
        override_payable_on: str
        lines: list[dict[str, Any]]
        trainees: list[dict[str, Any]]
        rows_met: list[str]
        as_of_position: int
        policy: dict[str, str]
        meta: dict[str, Any]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["carried"] = 0
            state["policy"] = {}
            state.setdefault("morning_star_sales", 0)
            state.setdefault("adjustments", 0)
            state.setdefault("trainees", [])

    @event(CommissionAccrued)
    def accrue(self, period: str, plan_version: str, rank: str, personal_sales: int,
               morning_star_sales: int, rate: str, commission: int, morning_star_bonus: int,
               opening_star_bonus: int, override: int, clawback: int, fines: int,
               adjustments: int, carried: int, total: int, payable_on: str,
               override_payable_on: str, lines: list[dict[str, Any]],
               trainees: list[dict[str, Any]], rows_met: list[str], as_of_position: int,
               policy: dict[str, str], meta: dict[str, Any]) -> None:
        self.accrued[period] = total
        self.statements.append({
            "period": period, "rank": rank, "plan_version": plan_version,
            "personal_sales": personal_sales, "rate": rate, "commission": commission,
            "morning_star_bonus": morning_star_bonus, "opening_star_bonus": opening_star_bonus,
            "override": override, "clawback": clawback, "fines": fines, "total": total,
            "adjustments": adjustments, "carried": carried, "lines": lines,
            "payable_on": payable_on, "override_payable_on": override_payable_on,
        })
        self._derived = None

    class CommissionPaid(Aggregate.Event):
        TOPIC = "ledger:Rep.CommissionPaid"
        payout_id: str
        period: str
        amount: int
        paid_on: str
        meta: dict[str, Any]

    @event(CommissionPaid)
    def pay(self, payout_id: str, period: str, amount: int, paid_on: str,
            meta: dict[str, Any]) -> None:
        self.payouts.setdefault(period, []).append((payout_id, amount))
        self.payout_days[payout_id] = paid_on

    # --- corrections (SPEC 2.7) --------------------------------------------------------

    def payout_period(self, payout_id: str) -> str | None:
        for period, paid in self.payouts.items():
            if any(pid == payout_id for pid, _ in paid):
                return period
        return None

    class FineReversed(Aggregate.Event):
        TOPIC = "ledger:Rep.FineReversed"
        reversal_id: str
        fine_id: str
        target_command_id: str
        amount: int
        fined_on: str
        closed_period: bool
        reason: str
        approved_by: str
        policy: dict[str, str]
        meta: dict[str, Any]

    @event(FineReversed)
    def reverse_fine(self, reversal_id: str, fine_id: str, target_command_id: str, amount: int,
                     fined_on: str, closed_period: bool, reason: str, approved_by: str,
                     policy: dict[str, str], meta: dict[str, Any]) -> None:
        """A fine undone: it leaves the statement of its month (``fined_on``), or, when
        that month is closed, comes back as a late adjustment in the next close."""
        self.fines.pop(fine_id, None)

    class PayoutReversed(Aggregate.Event):
        TOPIC = "ledger:Rep.PayoutReversed"
        reversal_id: str
        payout_id: str
        target_command_id: str
        period: str
        amount: int
        paid_on: str
        reason: str
        approved_by: str
        policy: dict[str, str]
        meta: dict[str, Any]

    @event(PayoutReversed)
    def reverse_payout(self, reversal_id: str, payout_id: str, target_command_id: str,
                       period: str, amount: int, paid_on: str, reason: str, approved_by: str,
                       policy: dict[str, str], meta: dict[str, Any]) -> None:
        """A payout undone: the period's balance is payable again."""
        self.payouts[period] = [(pid, a) for pid, a in self.payouts.get(period, ())
                                if pid != payout_id]
