"""Idempotency (SPEC 1, Identity): the same actor and ``command_id`` answer their first
answer; the same key with another body is refused.

The key is the actor and the ``command_id`` (``idempotency_key``); a body is recognised by
its hash. A first answer is found, in this order: earlier in the same batch, among the
stored rejections (read for a whole batch in one query), in the command's record (an
aggregate keyed by uuid5 of the ``command_id``, one entry per actor). ``referenced_ids``
names what a body will look up, so a batch can load all of them (and learn which do not
exist yet) in one query.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec

from ledger.domain.commands import body_hash
from ledger.domain.model import Budget, Claim, Closings, CommandRecord, Customer, Dispute, Rep, Sku, User
from ledger.domain.model.records import idempotency_key
from ledger.domain.policies import PolicyBook
from ledger.service import unit_of_work
from ledger.service.answers import Answer, Applied, Rejected, is_stored
from ledger.service.unit_of_work import LedgerApplication, UnitOfWork

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


@dataclass(frozen=True)
class Identity:
    """What a command's idempotency rests on: its id, its key and its body's hash."""

    command_id: str
    key: str
    hash: str


def identify(body: Any) -> Identity | None:
    """The identity of a (checked) body, None if it has no string ``command_id``."""
    if not (isinstance(body, dict) and isinstance(body.get("command_id"), str)):
        return None
    command_id = body["command_id"]
    return Identity(command_id, idempotency_key(body.get("actor"), command_id), body_hash(body))


class FirstAnswers:
    """Where a batch looks up a command's first answer: its own earlier commands, the
    stored rejections of the batch's keys (one query), the command records."""

    def __init__(self, app: LedgerApplication, identities: list[Identity]) -> None:
        self.stored = unit_of_work.stored_rejections(app, [i.key for i in identities])
        self.seen: dict[str, tuple[str, dict[str, Any]]] = {}

    def lookup(self, identity: Identity, actor: Any, uow: UnitOfWork) -> tuple[str, dict[str, Any]] | None:
        """(body hash, answer as stored) of the key's first answer, or None."""
        earlier = self.seen.get(identity.key)
        if earlier is not None:
            return earlier
        stored = self.stored.get(identity.key)
        if stored is not None:
            return stored[0], _decoder.decode(stored[1])
        record = uow.get(CommandRecord, identity.command_id)
        entry = record.entry(actor) if record is not None and isinstance(actor, str) else None
        if entry is not None:
            return entry.body_hash, entry.answer
        return None

    def remember(self, identity: Identity, answer: Applied | Rejected) -> None:
        """The first answer of the key in this batch (a later repeat in the batch answers
        it, whether or not it is stored)."""
        self.seen[identity.key] = (identity.hash, answer.stored())


def rejection_row(identity: Identity, answer: Answer) -> tuple[str, str, bytes] | None:
    """The row that stores a rejection for repeats (key, body hash, answer), or None."""
    if not is_stored(answer):
        return None
    return identity.key, identity.hash, _encoder.encode(answer)


def record_applied(uow: UnitOfWork, identity: Identity, command: str, actor: str,
                   answer: Applied, meta: dict[str, Any]) -> None:
    """Keep the applied command's answer in its record, under its actor: a new record, or
    another actor's command under the same id as its own entry (SPEC 1)."""
    record = uow.get(CommandRecord, identity.command_id)
    if record is None:
        uow.add(CommandRecord.new(command_id=identity.command_id, command=command,
                                  body_hash=identity.hash, actor=actor, answer=answer.stored(),
                                  meta=meta))
    else:
        record.record_for(command_id=identity.command_id, actor=actor, command=command,
                          body_hash=identity.hash, answer=answer.stored(), meta=meta)


def batch_references(bodies: list[Any]) -> dict[UUID, None]:
    """The aggregates a batch will ask for (command records, claims and parties named in
    the bodies, the policy book and the closings), in first-named order: the unit of
    work loads them with one query instead of one per lookup."""
    wanted: dict[UUID, None] = {PolicyBook.create_id(): None, Closings.create_id(): None}
    for body in bodies:
        if isinstance(body, dict):
            wanted.update(dict.fromkeys(referenced_ids(body)))
    return wanted


def referenced_ids(body: dict[str, Any]) -> Iterator[UUID]:
    """Aggregate ids a command body may look up: its command record, the claims of the
    business ids it names and the parties it refers to."""
    if isinstance(body.get("command_id"), str):
        yield CommandRecord.create_id(body["command_id"])
    for field_name, value in body.items():
        if not isinstance(value, str):
            continue
        kind = _CLAIM_FIELDS.get(field_name)
        if kind is not None:
            yield Claim.create_id(kind, value)
        cls = _PARTY_FIELDS.get(field_name)
        if cls is not None:
            yield cls.create_id(value)
    lines = body.get("lines")
    if isinstance(lines, list):
        for line in lines:
            if isinstance(line, dict) and isinstance(line.get("sku"), str):
                yield Sku.create_id(line["sku"])


_CLAIM_FIELDS = {"sale_id": "sale", "payment_id": "payment", "return_id": "return",
                 "writeoff_id": "writeoff", "expense_id": "expense", "fine_id": "fine",
                 "payout_id": "payout", "invoice_no": "invoice"}
_PARTY_FIELDS: dict[str, Any] = {
    "customer_id": Customer, "rep_id": Rep, "trainer_id": Rep, "user_id": User, "actor": User,
    "approved_by": User, "price_approved_by": User, "credit_approved_by": User,
    "budget_id": Budget, "dispute_id": Dispute,
}
