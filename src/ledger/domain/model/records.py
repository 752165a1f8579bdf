"""Command records (idempotency) and id claims (ARCHITECTURE, Domain).

A ``CommandRecord`` is saved with the events of every applied command, keyed by uuid5 of
its ``command_id`` and holding each actor's command under that id (SPEC 1, Identity: the
idempotency key is the actor and the ``command_id``): a repeat finds its actor's entry and
answers the original result, and two concurrent repeats cannot both insert it. A ``Claim`` reserves a business id that is not itself an
aggregate (a sale, payment, return, write-off, expense, fine or payout) and says which
aggregate holds its facts, so "does it exist" and "where is it" are lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from ledger.domain.ids import aggregate_id

A = TypeVar("A")


def created(cls: type[A], event_class: type[Any], originator_id: UUID, **fields: Any) -> A:
    """A new aggregate of ``cls`` from its created event ``event_class`` with ``fields``:
    what calling ``cls(**fields)`` does (the same event, field for field, and the same
    aggregate), without the library's per-call checks of the class and of the arguments,
    on the command path's hot creations (a claim, a command record)."""
    new = event_class(originator_topic=get_topic(cls), originator_id=originator_id,
                      originator_version=1, timestamp=event_class.create_timestamp(), **fields)
    agg: A = new.mutate(None)
    agg.pending_events.append(new)  # type: ignore[attr-defined]
    return agg


def idempotency_key(actor: Any, command_id: str) -> str:
    """The idempotency key of SPEC 1: the actor and the ``command_id`` (so no user can
    occupy another's ids). A unit separator joins them; ids cannot hold control
    characters, so two different pairs never give the same key."""
    return f"{actor if isinstance(actor, str) else ''}\x1f{command_id}"


@dataclass(frozen=True)
class AppliedCommand:
    """One actor's applied command under a ``command_id``: what it was and its answer."""

    command_id: str
    actor: str
    command: str
    body_hash: str
    answer: dict[str, Any]


class AmbiguousCommand(LookupError):
    """Several actors applied a command under the same ``command_id``: name the actor."""

    def __init__(self, command_id: str, actors: list[str]) -> None:
        super().__init__(command_id)
        self.command_id = command_id
        self.actors = actors


def applied_command(uow: Any, command_id: str, actor: str | None = None) -> AppliedCommand | None:
    """The applied command ``command_id`` (SPEC 2.7: a reversal or a dispute's resolution
    names one): of ``actor`` when given, else the only actor's; raises
    ``AmbiguousCommand`` when several actors used that ``command_id``."""
    record = uow.get(CommandRecord, command_id)
    if record is None:
        return None
    if actor is not None:
        return record.entry(actor)
    actors = sorted(record.entries)
    if len(actors) > 1:
        raise AmbiguousCommand(command_id, actors)
    return record.entry(actors[0])


class CommandRecord(Aggregate):
    """Every applied command under one ``command_id``, by actor (SPEC 1, Identity: the
    idempotency key is the actor and the ``command_id``, so no user can occupy another's
    ids). The first actor's command creates it (``Recorded``, the shape of every record
    written before actors shared an id); another actor's command under the same id adds
    itself (``RecordedFor``)."""

    TOPIC = "ledger:CommandRecord"
    KIND = "command"

    class Created(Aggregate.Created):
        TOPIC = "ledger:CommandRecord.Created"

    @staticmethod
    def create_id(command_id: str) -> UUID:
        return aggregate_id(CommandRecord.KIND, command_id)

    class Recorded(Aggregate.Created):
        TOPIC = "ledger:CommandRecord.Recorded"
        command_id: str
        command: str
        body_hash: str
        actor: str
        answer: dict[str, Any]
        meta: dict[str, Any]

    @classmethod
    def new(cls, command_id: str, command: str, body_hash: str, actor: str,
            answer: dict[str, Any], meta: dict[str, Any]) -> CommandRecord:
        """``CommandRecord(...)``, quicker (``created``)."""
        return created(cls, cls.Recorded, cls.create_id(command_id), command_id=command_id,
                       command=command, body_hash=body_hash, actor=actor, answer=answer,
                       meta=meta)

    @event(Recorded)
    def __init__(self, command_id: str, command: str, body_hash: str, actor: str,
                 answer: dict[str, Any], meta: dict[str, Any]) -> None:
        self.command_id = command_id
        self.entries: dict[str, AppliedCommand] = {}
        self._add(actor, command, body_hash, answer)

    class RecordedFor(Aggregate.Event):
        TOPIC = "ledger:CommandRecord.RecordedFor"
        command_id: str
        actor: str
        command: str
        body_hash: str
        answer: dict[str, Any]
        meta: dict[str, Any]

    @event(RecordedFor)
    def record_for(self, command_id: str, actor: str, command: str, body_hash: str,
                   answer: dict[str, Any], meta: dict[str, Any]) -> None:
        self._add(actor, command, body_hash, answer)

    def _add(self, actor: str, command: str, body_hash: str, answer: dict[str, Any]) -> None:
        self.entries[actor] = AppliedCommand(self.command_id, actor, command, body_hash, answer)

    def entry(self, actor: str) -> AppliedCommand | None:
        return self.entries.get(actor)


class Claim(Aggregate):
    TOPIC = "ledger:Claim"

    class Created(Aggregate.Created):
        TOPIC = "ledger:Claim.Created"

    @staticmethod
    def create_id(kind: str, business_id: str) -> UUID:
        return aggregate_id(kind, business_id)

    class Claimed(Aggregate.Created):
        TOPIC = "ledger:Claim.Claimed"
        kind: str
        business_id: str
        owner_kind: str
        owner_id: str
        meta: dict[str, Any]

    @classmethod
    def new(cls, kind: str, business_id: str, owner_kind: str, owner_id: str,
            meta: dict[str, Any]) -> Claim:
        """``Claim(...)``, quicker (``created``)."""
        return created(cls, cls.Claimed, cls.create_id(kind, business_id), kind=kind,
                       business_id=business_id, owner_kind=owner_kind, owner_id=owner_id,
                       meta=meta)

    @event(Claimed)
    def __init__(self, kind: str, business_id: str, owner_kind: str, owner_id: str,
                 meta: dict[str, Any]) -> None:
        self.kind = kind
        self.business_id = business_id
        self.owner_kind = owner_kind
        self.owner_id = owner_id
