"""Command records (idempotency) and id claims (ARCHITECTURE, Domain).

A ``CommandRecord`` is saved with the events of every applied command, keyed by uuid5 of
its actor and ``command_id`` (SPEC 1, Identity): a repeat finds it and answers the original result, and two concurrent
repeats cannot both insert it. A ``Claim`` reserves a business id that is not itself an
aggregate (a sale, payment, return, write-off, expense, fine or payout) and says which
aggregate holds its facts, so "does it exist" and "where is it" are lookups.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.ids import aggregate_id


def idempotency_key(actor: Any, command_id: str) -> str:
    """The idempotency key of SPEC 1: the actor and the ``command_id`` (so no user can
    occupy another's ids). A unit separator joins them; ids cannot hold control
    characters, so two different pairs never give the same key."""
    return f"{actor if isinstance(actor, str) else ''}\x1f{command_id}"


def applied_command(uow: Any, command_id: str, actor: str) -> CommandRecord | None:
    """The applied command ``command_id`` of ``actor`` (SPEC 2.7: a reversal or a
    dispute's resolution names one); a record of a log written before the key held the
    actor is keyed by the command_id alone and answers its own actor."""
    found = uow.get(CommandRecord, idempotency_key(actor, command_id))
    if found is not None:
        return found
    legacy = uow.get(CommandRecord, command_id)
    return legacy if legacy is not None and legacy.actor == actor else None


class CommandRecord(Aggregate):
    TOPIC = "ledger:CommandRecord"
    KIND = "command"

    class Created(Aggregate.Created):
        TOPIC = "ledger:CommandRecord.Created"

    @staticmethod
    def create_id(key: str) -> UUID:
        """uuid5 of the idempotency key (the actor and the command_id, SPEC 1); records
        written before the key held the actor are keyed by the command_id alone."""
        return aggregate_id(CommandRecord.KIND, key)

    @event("Recorded", topic="ledger:CommandRecord.Recorded")
    def __init__(self, command_id: str, command: str, body_hash: str, actor: str,
                 answer: dict[str, Any], meta: dict[str, Any], key: str | None = None) -> None:
        self.key = key if key is not None else command_id
        self.command_id = command_id
        self.command = command
        self.body_hash = body_hash
        self.actor = actor
        self.answer = answer


class Claim(Aggregate):
    TOPIC = "ledger:Claim"

    class Created(Aggregate.Created):
        TOPIC = "ledger:Claim.Created"

    @staticmethod
    def create_id(kind: str, business_id: str) -> UUID:
        return aggregate_id(kind, business_id)

    @event("Claimed", topic="ledger:Claim.Claimed")
    def __init__(self, kind: str, business_id: str, owner_kind: str, owner_id: str,
                 meta: dict[str, Any]) -> None:
        self.kind = kind
        self.business_id = business_id
        self.owner_kind = owner_kind
        self.owner_id = owner_id
