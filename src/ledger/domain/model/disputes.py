"""Disputes about a balance (SPEC 5.2 OpenDispute / ResolveDispute)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.ids import aggregate_id


class Dispute(Aggregate):
    TOPIC = "ledger:Dispute"
    KIND = "dispute"

    class Created(Aggregate.Created):
        TOPIC = "ledger:Dispute.Created"

    @staticmethod
    def create_id(dispute_id: str) -> UUID:
        return aggregate_id(Dispute.KIND, dispute_id)

    class Opened(Aggregate.Created):
        TOPIC = "ledger:Dispute.Opened"
        dispute_id: str
        entity: str
        entity_kind: str
        period: str | None
        claim: str
        event_refs: list[Any]
        opened_by: str
        meta: dict[str, Any]

    @event(Opened)
    def __init__(self, dispute_id: str, entity: str, entity_kind: str, period: str | None,
                 claim: str, event_refs: list[Any], opened_by: str, meta: dict[str, Any]) -> None:
        self.dispute_id = dispute_id
        self.entity = entity
        self.opened_by = opened_by
        self.status = "open"
        self.outcome: str | None = None

    class Resolved(Aggregate.Event):
        TOPIC = "ledger:Dispute.Resolved"
        outcome: str
        reason: str
        correction_command_id: str | None
        resolved_by: str
        meta: dict[str, Any]

    @event(Resolved)
    def resolve(self, outcome: str, reason: str, correction_command_id: str | None,
                resolved_by: str, meta: dict[str, Any]) -> None:
        self.status = "resolved"
        self.outcome = outcome
