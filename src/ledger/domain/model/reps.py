"""Sales reps: rank, trainer, fines and payouts (SPEC 2.5).

The rep is the consistency boundary for its rank and its commission account.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

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
        self.payouts: dict[str, list[tuple[str, int]]] = {}  # period -> [(payout_id, amount)]

    def rank_on(self, day: date) -> str:
        chosen = self.ranks[0]
        for entry in self.ranks:  # in log order: a later change for the same date wins
            if entry[0] <= day and entry[0] >= chosen[0]:
                chosen = entry
        return chosen[1]

    def paid_for(self, period: str) -> int:
        return sum(amount for _, amount in self.payouts.get(period, ()))

    @event("RankChanged", topic="ledger:Rep.RankChanged")
    def change_rank(self, rank: str, previous_rank: str, effective_from: str, reason: str,
                    decided_by: str, evidence: dict[str, Any], meta: dict[str, Any]) -> None:
        self.ranks.append((date.fromisoformat(effective_from), rank))

    @event("Fined", topic="ledger:Rep.Fined")
    def fine(self, fine_id: str, amount: int, reason: str, approved_by: str, fined_on: str,
             meta: dict[str, Any]) -> None:
        self.fines[fine_id] = amount

    @event("CommissionPaid", topic="ledger:Rep.CommissionPaid")
    def pay(self, payout_id: str, period: str, amount: int, paid_on: str,
            meta: dict[str, Any]) -> None:
        self.payouts.setdefault(period, []).append((payout_id, amount))
