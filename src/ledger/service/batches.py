"""Judging a batch of commands (ARCHITECTURE, "Writing many commands at once").

A batch runs in a unit of work that holds the aggregates it touches in memory; each command
is judged on the state the commands before it left (a rejected command changes nothing),
then every touched aggregate, every command record and every stored rejection is saved in
one transaction. A command that reads the saved log (``CloseMonth``) must see every command
before it, so it ends the batch before it and runs on its own (``segments``).

If the save meets a version conflict (another writer got there first), the batch is judged
again on fresh state, up to ``MAX_BATCH_RETRIES`` times with a short random pause; past
that, or when a rejected command had already changed an aggregate, or when the store
refuses a value, the batch runs one command at a time, so every answer is the one a
one-by-one run would have given.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.domain.commands import check_body, command_name, decode_command
from ledger.domain.errors import Rejection
from ledger.domain.handlers import HANDLERS, Context
from ledger.domain.handlers.context import check_currency, check_dates, check_future
from ledger.service import unit_of_work
from ledger.service.answers import (
    Answer,
    Applied,
    Duplicate,
    Refused,
    Rejected,
    command_of,
    echoed_id,
    rejected,
)
from ledger.service.idempotency import (
    FirstAnswers,
    Identity,
    batch_references,
    identify,
    record_applied,
    rejection_row,
)
from ledger.service.unit_of_work import Conflict, LedgerApplication, UnitOfWork, Unstorable

# Commands whose handler reads the saved log: they run in a batch of their own.
LOG_READERS = frozenset({"CloseMonth"})
# A batch that meets a version conflict is judged again this many times in all, then one
# command at a time (each with as many tries).
MAX_BATCH_RETRIES = 6
# The pause before judging again after the n-th conflict: uniform in [0, n x this) seconds,
# so two writers that collided do not collide again in step.
RETRY_BACKOFF_SECONDS = 0.01

CONFLICT_MESSAGE = "another writer changed the same records; retry the command"


def segments(bodies: Iterable[Any]) -> Iterator[list[Any]]:
    """The bodies in batches: each log reader alone, the others in runs between them."""
    segment: list[Any] = []
    for body in bodies:
        if command_of(body) in LOG_READERS:
            if segment:
                yield segment
            yield [body]
            segment = []
        else:
            segment.append(body)
    if segment:
        yield segment


class _Tainted(Exception):
    """A rejected command had already changed an aggregate: rerun the batch one by one."""


@dataclass
class Pending:
    """One command of a batch."""

    index: int
    body: Any
    identity: Identity | None = None  # None: no string command_id, or refused
    refused: Rejection | None = None  # out of bounds (SPEC 1): answered, never stored


@dataclass
class Batch:
    """Judges and saves batches of commands against ``app``, at ``clock``'s time."""

    app: LedgerApplication
    clock: Callable[[], datetime]
    before_save: Callable[[], None] = lambda: None  # a seam for race tests
    conflicts: int = 0  # batches judged again after a version conflict

    def run(self, bodies: list[Any]) -> list[Answer]:
        """One answer per body, in order, each the one a one-by-one run would give."""
        attempts = 0
        while True:
            attempts += 1
            pendings = [Pending(i, body) for i, body in enumerate(bodies)]
            try:
                return self._attempt(pendings)
            except _Tainted:
                unit_of_work.forget_unsaved(self.app)
                break
            except Unstorable as e:
                # the store refused a value no rule foresaw: find the command, reject it alone
                unit_of_work.forget_unsaved(self.app)
                if len(bodies) == 1:
                    return [rejected(_command_id(pendings[0]), command_of(bodies[0]),
                                     Rejection("invalid_field",
                                               f"the command could not be stored: {e}", field="$"),
                                     stored=False)]
                break
            except Conflict:
                self.conflicts += 1
                unit_of_work.forget_unsaved(self.app)
                if attempts >= MAX_BATCH_RETRIES:
                    break
                time.sleep(random.uniform(0, RETRY_BACKOFF_SECONDS * attempts))
            except BaseException:
                unit_of_work.forget_unsaved(self.app)
                raise
        if len(bodies) == 1:
            return [Refused(command_id=_command_id(pendings[0]), command=command_of(bodies[0]),
                            rule="version_conflict", message=CONFLICT_MESSAGE, details={})]
        # one command at a time, each with its own retries
        return [self.run([body])[0] for body in bodies]

    def _attempt(self, pendings: list[Pending]) -> list[Answer]:
        """Judge every command in one unit of work and save it; raises ``_Tainted``,
        ``Conflict`` or ``Unstorable`` when the batch must be judged otherwise."""
        uow = UnitOfWork(self.app)
        for p in pendings:
            try:
                check_body(p.body)
            except Rejection as r:
                # too deep, too big, a control character...: answered, never stored (its
                # command_id may itself be what is wrong), and never hashed or read further
                p.refused = r
                continue
            p.identity = identify(p.body)
        first = FirstAnswers(self.app, [p.identity for p in pendings if p.identity])
        uow.prefetch(batch_references([p.body for p in pendings if p.refused is None]))
        recorded_at = self.clock()
        answers: list[Answer] = []
        counts: list[int] = []  # events of each applied command
        rejections: list[tuple[str, str, bytes]] = []
        for p in pendings:
            uow.begin()
            answer = self._judge(p, uow, recorded_at, first)
            counts.append(uow.new_events() if isinstance(answer, Applied) else 0)
            if isinstance(answer, Applied):
                uow.commit_command()
            elif isinstance(answer, Rejected) and uow.new_events():
                if len(pendings) > 1:
                    raise _Tainted
                uow.drop_command()  # a lone rejected command: save none of what it changed
            if p.identity is not None:
                row = rejection_row(p.identity, answer)
                if row is not None:
                    rejections.append(row)
            answers.append(answer)
        self.before_save()
        # events were collected in command order, per aggregate; each applied command
        # answers the highest position of the batch
        position = uow.save(rejections)
        return [Applied(command_id=a.command_id, command=a.command, result=a.result,
                        events=n, position=position) if isinstance(a, Applied) else a
                for a, n in zip(answers, counts, strict=True)]

    def _judge(self, p: Pending, uow: UnitOfWork, recorded_at: datetime,
               first: FirstAnswers) -> Answer:
        name = command_of(p.body)
        if p.refused is not None:
            return rejected(echoed_id(p.body), name, p.refused, stored=False)
        if p.identity is None:
            try:
                decode_command(p.body)
            except Rejection as r:
                return rejected(None, name, r, stored=False)
            return rejected(None, name, Rejection("invalid_field", "command_id: is required",
                                                  field="command_id"), stored=False)
        # idempotency: the same actor and command_id answer their first answer (SPEC 1)
        found = first.lookup(p.identity, p.body.get("actor"), uow)
        if found is not None:
            first_hash, original = found
            if first_hash != p.identity.hash:
                return rejected(p.identity.command_id, name, Rejection(
                    "invalid_field",
                    f"command_id: {p.identity.command_id!r} was already used for a different "
                    "command body", field="command_id",
                ), stored=False)
            return Duplicate(command_id=p.identity.command_id, command=name, original=original)
        answer = self._decide(p.identity, p.body, name, uow, recorded_at)
        first.remember(p.identity, answer)
        return answer

    def _decide(self, identity: Identity, body: Any, name: str | None, uow: UnitOfWork,
                recorded_at: datetime) -> Applied | Rejected:
        """Decode, check the times and the currency, run the handler; record the answer."""
        try:
            cmd = decode_command(body, checked=True)  # _attempt ran check_body
            occurred_at = cmd.occurred_at or recorded_at
            reported_at = cmd.reported_at or recorded_at
            ctx = Context(cmd=cmd, uow=uow, recorded_at=recorded_at, occurred_at=occurred_at,
                          reported_at=reported_at)
            tolerance = ctx.policy("reporting").values["future_tolerance_minutes"]
            check_future(occurred_at, recorded_at, tolerance)
            if cmd.reported_at is not None:
                check_future(cmd.reported_at, recorded_at, tolerance, field_name="reported_at")
            check_dates(cmd, occurred_at, reported_at, recorded_at)
            check_currency(ctx)
            result = HANDLERS[command_name(cmd)](ctx) or {}
        except Rejection as r:
            return rejected(identity.command_id, name, r)
        except Exception as e:  # noqa: BLE001 - one command's failure rejects that command only
            # A value the rules above did not foresee (a date arithmetic overflow, ...):
            # the command is rejected by name and the batch goes on (SPEC 1: one bad line
            # rejects that line only). Whatever it changed is dropped like any rejection's.
            return rejected(identity.command_id, name, Rejection(
                "invalid_field", f"the command could not be applied: {type(e).__name__}: {e}",
                field="$", error=type(e).__name__), stored=False)
        answer = Applied(command_id=identity.command_id, command=name, result=result)
        record_applied(uow, identity, command_name(cmd), cmd.actor, answer, ctx.meta)
        return answer


def _command_id(p: Pending) -> str | None:
    return p.identity.command_id if p.identity is not None else None
