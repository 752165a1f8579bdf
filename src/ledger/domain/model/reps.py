"""Sales reps: rank, trainer, fines, commission accruals and payouts (SPEC 2.5).

The rep is the consistency boundary for its rank and its commission account: a month
close records each rep's statement on the rep (``CommissionAccrued``), a payout checks
the period's accrued total less what was paid against it (``CommissionPaid``).

``CommissionAccrued`` carries the whole statement of a month, so the commission
projection and an auditor can read it from the event alone: ``period``, ``plan_version``,
``rank`` (on the month's 1st), ``personal_sales``, ``morning_star_sales``, ``rate``,
``commission``, ``morning_star_bonus``, ``opening_star_bonus``, ``override``, ``clawback``,
``fines``, ``adjustments``, ``total`` (= commission + bonuses + override - clawback - fines
+ adjustments), ``payable_on``, ``override_payable_on``, ``lines`` (the engine's statement
lines: sales with their shares, same-month returns, trainees, clawbacks, fines and
adjustments of earlier months), ``trainees`` (every trained rep with sales that month and
their personal sales), ``rows_met`` (promotion rows the month met, for trips) and
``as_of_position`` (the log position the close read up to).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.commission_month import booked_months, rank_on
from ledger.domain.ids import aggregate_id


class Rep(Aggregate):
    TOPIC = "ledger:Rep"
    KIND = "rep"

    class Created(Aggregate.Created):
        TOPIC = "ledger:Rep.Created"

    @staticmethod
    def create_id(rep_id: str) -> UUID:
        return aggregate_id(Rep.KIND, rep_id)

    @event("Registered", topic="ledger:Rep.Registered")
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
        # period -> that month's own figures as last booked (``statement_figures``): at its
        # close, then as revised by late adjustments booked in later closes
        self.months: dict[str, dict[str, Any]] = {}

    def rank_on(self, day: date) -> str:
        return rank_on(self.ranks, day)

    def paid_for(self, period: str) -> int:
        return sum(amount for _, amount in self.payouts.get(period, ()))

    def payable_for(self, period: str) -> int:
        """What is still payable for a period: its accrued total less payouts for it."""
        return self.accrued.get(period, 0) - self.paid_for(period)

    def booked(self, period: str) -> dict[str, Any] | None:
        """The month's own figures as last booked, or None if it never accrued."""
        return self.months.get(period)

    @event("RankChanged", topic="ledger:Rep.RankChanged")
    def change_rank(self, rank: str, previous_rank: str, effective_from: str, reason: str,
                    decided_by: str, evidence: dict[str, Any], meta: dict[str, Any]) -> None:
        self.ranks.append((date.fromisoformat(effective_from), rank))

    @event("Fined", topic="ledger:Rep.Fined")
    def fine(self, fine_id: str, amount: int, reason: str, approved_by: str, fined_on: str,
             meta: dict[str, Any]) -> None:
        self.fines[fine_id] = amount
        self.fine_days[fine_id] = fined_on

    @event("CommissionAccrued", topic="ledger:Rep.CommissionAccrued")
    def accrue(self, period: str, plan_version: str, rank: str, personal_sales: int,
               morning_star_sales: int, rate: str, commission: int, morning_star_bonus: int,
               opening_star_bonus: int, override: int, clawback: int, fines: int,
               adjustments: int, total: int, payable_on: str, override_payable_on: str,
               lines: list[dict[str, Any]], trainees: list[dict[str, Any]],
               rows_met: list[str], as_of_position: int, meta: dict[str, Any]) -> None:
        self.accrued[period] = total
        self.months.update(booked_months([{
            "period": period, "rank": rank, "plan_version": plan_version,
            "personal_sales": personal_sales, "rate": rate, "commission": commission,
            "morning_star_bonus": morning_star_bonus, "opening_star_bonus": opening_star_bonus,
            "override": override, "clawback": clawback, "fines": fines, "total": total,
            "adjustments": adjustments, "lines": lines,
        }]))

    @event("CommissionPaid", topic="ledger:Rep.CommissionPaid")
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

    @event("FineReversed", topic="ledger:Rep.FineReversed")
    def reverse_fine(self, reversal_id: str, fine_id: str, target_command_id: str, amount: int,
                     fined_on: str, closed_period: bool, reason: str, approved_by: str,
                     policy: dict[str, str], meta: dict[str, Any]) -> None:
        """A fine undone: it leaves the statement of its month (``fined_on``), or, when
        that month is closed, comes back as a late adjustment in the next close."""
        self.fines.pop(fine_id, None)

    @event("PayoutReversed", topic="ledger:Rep.PayoutReversed")
    def reverse_payout(self, reversal_id: str, payout_id: str, target_command_id: str,
                       period: str, amount: int, paid_on: str, reason: str, approved_by: str,
                       policy: dict[str, str], meta: dict[str, Any]) -> None:
        """A payout undone: the period's balance is payable again."""
        self.payouts[period] = [(pid, a) for pid, a in self.payouts.get(period, ())
                                if pid != payout_id]
