"""The ledger application: one event-sourced application, one log (ARCHITECTURE).

``Ledger.execute(bodies)`` runs a batch of commands through a unit of work that holds the
aggregates the batch touches in memory. Each command is judged on the state the commands
before it left; a rejected command changes nothing. The batch then saves every touched
aggregate, every command record and every rejection in one transaction. If the save meets
a version conflict (another writer got there first) the batch is replayed against fresh
state, and after repeated conflicts run one command at a time, so every answer is the one
a one-by-one run would have given.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import DataError, IntegrityError, Transcoder

from ledger.config import Database, ensure_schema
from ledger.domain.calendar import business_date, utcnow
from ledger.domain.commands import (Command, body_hash, check_body, command_name, decode_command,
                                     valid_id)
from ledger.domain.errors import Rejection
from ledger.domain.handlers import HANDLERS, Context
from ledger.domain.handlers.context import check_currency, check_dates, check_future
from ledger.domain.model import Budget, Claim, Closings, CommandRecord, Customer, Dispute, Rep, Sku, User
from ledger.domain.model.records import idempotency_key
from ledger.domain.policies import PolicyBook, default_version
from ledger.store.transcoder import MsgspecTranscoder

Answer = dict[str, Any]

# Commands whose handler reads the saved log: they run in a batch of their own.
LOG_READERS = frozenset({"CloseMonth"})

_answer_encoder = msgspec.json.Encoder()
_answer_decoder = msgspec.json.Decoder()


class LedgerApplication(Application):  # type: ignore[type-arg]
    """The eventsourcing application: recorder, mapper (msgspec), repository, log."""

    name = "ledger"
    # Cached aggregates are handed out without a copy: the Ledger runs one batch at a
    # time per process and drops the cache whenever a batch's changes are not saved.
    env = {"AGGREGATE_CACHE_MAXSIZE": "5000", "DEEPCOPY_FROM_AGGREGATE_CACHE": "n"}

    def construct_transcoder(self) -> Transcoder:
        return MsgspecTranscoder()

    def save_aggregates(self, aggregates: Iterable[Any], events: list[Any], **kwargs: Any) -> list[Any]:
        """``save()`` for a batch: the same recording path (``_record``, snapshots, notify),
        with the events in the order given (the commands' order, not grouped by aggregate)
        and without the runtime protocol checks ``collect_events`` makes per object."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        pending = 0
        for aggregate in aggregates:
            pending += len(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        if pending != len(events):  # pragma: no cover - a handler bypassed the unit of work
            raise AssertionError(f"{pending} pending events but {len(events)} ordered")
        processing_event.events.extend(events)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings


class _Tainted(Exception):
    """A rejected command had already changed an aggregate: rerun the batch one by one."""


class _Conflict(Exception):
    pass


class _Unstorable(Exception):
    """The store refused a batch's data (a value out of its range): rerun one by one."""


@dataclass
class _Pending:
    """One command of a batch."""

    index: int
    body: Any
    command_id: str | None = None
    key: str | None = None  # the idempotency key: actor and command_id (SPEC 1, Identity)
    hash: str | None = None
    cmd: Command | None = None
    answer: Answer | None = None
    refused: Rejection | None = None  # out of bounds (SPEC 1): answered, never stored


class UnitOfWork:
    """Aggregates a batch has loaded (or created), and those it changed."""

    def __init__(self, app: LedgerApplication) -> None:
        self.app = app
        self.loaded: dict[UUID, Any] = {}
        self.touched: dict[UUID, Any] = {}
        self.events: list[Any] = []  # the batch's new events, in command order
        self._marks: dict[UUID, int] = {}
        self._adds: dict[UUID, None] = {}

    # --- the domain's UnitOfWork protocol ---------------------------------------------

    def get(self, cls: type[Any], *key: str) -> Any:
        agg_id = cls.create_id(*key)
        if agg_id in self.loaded:
            agg = self.loaded[agg_id]
        else:
            try:
                agg = self.app.repository.get(agg_id)
            except AggregateNotFoundError:
                agg = None
            self.loaded[agg_id] = agg
        if agg is not None:
            self._marks.setdefault(agg_id, len(agg.pending_events))
        return agg

    def add(self, aggregate: Any) -> None:
        if aggregate.id not in self.loaded or self.loaded[aggregate.id] is None:
            self._marks.setdefault(aggregate.id, 0)
        self.loaded[aggregate.id] = aggregate
        self.touched[aggregate.id] = aggregate
        self._adds.setdefault(aggregate.id, None)

    def log_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def read_log(self, topics: tuple[str, ...] = (), stop: int | None = None,
                 start: int = 1) -> Iterator[tuple[int, Any]]:
        """(position, domain event) in log order, optionally only some topics."""
        position = start
        while True:
            notes = self.app.recorder.select_notifications(
                start=position, limit=1000, stop=stop, topics=list(topics),
            )
            for n in notes:
                yield n.id, self.app.mapper.to_domain_event(n)
            if len(notes) < 1000:
                return
            position = notes[-1].id + 1

    # --- per-command bookkeeping ------------------------------------------------------

    def begin(self) -> None:
        self._marks = {}
        self._adds = {}

    def commit_command(self) -> None:
        """Append the command's new events to the batch's, in the order the command
        added their aggregates, so the log's order is the commands' order."""
        order = list(self._adds) + [i for i in self._marks if i not in self._adds]
        for agg_id in order:
            agg = self.loaded.get(agg_id)
            if agg is None:
                continue
            new = agg.pending_events[self._marks.get(agg_id, 0):]
            if new:
                self.touched[agg_id] = agg
                self.events.extend(new)

    def new_events(self) -> int:
        return sum(
            len(self.loaded[agg_id].pending_events) - mark
            for agg_id, mark in self._marks.items()
            if self.loaded.get(agg_id) is not None
        )


class Ledger:
    """The write side: a database, a clock, and the command path (built by the composition
    root, ``ledger.bootstrap``)."""

    MAX_BATCH_RETRIES = 6

    def __init__(self, database: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        ensure_schema(self.database)
        self.app = LedgerApplication(env=self.database.env)
        self.clock = clock
        self._write_lock = threading.Lock()
        self.conflicts = 0  # batches replayed after a version conflict (for tests, metrics)

    def close(self) -> None:
        self.app.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the command path -------------------------------------------------------------

    def execute_one(self, body: Any) -> Answer:
        return self.execute([body])[0]

    def execute(self, bodies: Sequence[Any]) -> list[Answer]:
        """Apply a batch of commands (JSON objects) in order; one answer per command.

        A command that reads the log (``CloseMonth``) must see every command before it,
        so it ends the batch before it and runs on its own."""
        answers: list[Answer] = []
        with self._write_lock:
            segment: list[Any] = []
            for body in bodies:
                if _name_of(body) in LOG_READERS:
                    if segment:
                        answers.extend(self._execute(segment))
                    answers.extend(self._execute([body]))
                    segment = []
                else:
                    segment.append(body)
            if segment:
                answers.extend(self._execute(segment))
        return answers

    def _forget_unsaved(self) -> None:
        """Aggregates in the cache may hold changes that were not saved: drop them all."""
        cache: Any = self.app.repository.cache
        if cache is not None:
            # LRUCache.clear() resets only its recency list, not its dict: empty both.
            with cache.lock:
                cache.cache.clear()
                cache.clear()
                cache.full = False

    def _execute(self, bodies: Sequence[Any]) -> list[Answer]:
        pendings = [_Pending(i, body) for i, body in enumerate(bodies)]
        attempts = 0
        while True:
            attempts += 1
            try:
                return self._run(pendings)
            except _Tainted:
                self._forget_unsaved()
                break
            except _Unstorable as e:
                # the store refused a value no rule foresaw: find the command, reject it alone
                self._forget_unsaved()
                if len(pendings) == 1:
                    return [_rejected(pendings[0].command_id, _name_of(pendings[0].body),
                                      Rejection("invalid_field",
                                                f"the command could not be stored: {e}",
                                                field="$"), unstored=True)]
                break
            except _Conflict:
                self.conflicts += 1
                self._forget_unsaved()
                if attempts >= self.MAX_BATCH_RETRIES:
                    break
                time.sleep(random.uniform(0, 0.01 * attempts))
            except BaseException:
                self._forget_unsaved()
                raise
        if len(pendings) == 1:
            return [self._conflict_answer(pendings[0])]
        # one command at a time, each with its own retries
        return [self._execute([p.body])[0] for p in pendings]

    def _conflict_answer(self, p: _Pending) -> Answer:
        return {
            "command_id": p.command_id, "command": _name_of(p.body), "status": "rejected",
            "rule": "version_conflict",
            "message": "another writer changed the same records; retry the command",
            "details": {},
        }

    def _run(self, pendings: list[_Pending]) -> list[Answer]:
        uow = UnitOfWork(self.app)
        stored = self._prefetch(pendings)
        for absent in self._known_absent(pendings):
            uow.loaded[absent] = None
        recorded_at = self.clock()
        seen: dict[str, _Pending] = {}
        rejections: list[tuple[str, str, bytes]] = []
        per_command_events: list[int] = []
        for p in pendings:
            p.answer = None
            uow.begin()
            answer = self._judge(p, uow, recorded_at, seen, stored)
            per_command_events.append(uow.new_events() if answer["status"] == "applied" else 0)
            if answer["status"] == "applied":
                uow.commit_command()
            if answer["status"] == "rejected" and uow.new_events():
                if len(pendings) > 1:
                    raise _Tainted
                uow.touched.clear()  # a lone rejected command: drop what it changed
                self._forget_unsaved()
            if answer["status"] == "rejected" and p.key and p.hash and not answer.get("_unstored"):
                rejections.append((p.key, p.hash, _answer_encoder.encode(answer)))
            answer.pop("_unstored", None)
            p.answer = answer
        self._before_save()
        try:
            recordings = self.app.save_aggregates(uow.touched.values(), uow.events,
                                                  rejections=rejections)
        except IntegrityError as e:
            raise _Conflict from e
        except (DataError, OverflowError) as e:
            raise _Unstorable(f"{type(e).__name__}: {e}") from e
        # positions: events were collected in command order, per aggregate; give each
        # applied command the highest position of the batch's events it produced
        position = max((r.notification.id for r in recordings), default=None)
        for p, n_events in zip(pendings, per_command_events, strict=True):
            if p.answer is None:
                raise RuntimeError(f"command {p.index} of the batch was not answered")
            if p.answer["status"] == "applied":
                p.answer["events"] = n_events
                p.answer["position"] = position
        return [p.answer for p in pendings]  # type: ignore[misc]

    def _before_save(self) -> None:
        """A seam for tests that need two writers to reach the save at the same time."""

    def _prefetch(self, pendings: list[_Pending]) -> dict[str, tuple[str, bytes]]:
        """Read each body's command id and body hash, and the batch's stored rejections
        in one query."""
        for p in pendings:
            body = p.body
            try:
                check_body(body)
            except Rejection as r:
                # too deep, too big, a control character...: answered, never stored (its
                # command_id may itself be what is wrong), and never hashed or read further
                p.refused = r
                continue
            if isinstance(body, dict) and isinstance(body.get("command_id"), str):
                p.command_id = body["command_id"]
                p.key = idempotency_key(body.get("actor"), p.command_id)
                p.hash = body_hash(body)
        ids = [p.key for p in pendings if p.key]
        return self.app.recorder.select_rejections(ids) if ids else {}  # type: ignore[attr-defined, no-any-return]

    def _known_absent(self, pendings: list[_Pending]) -> set[UUID]:
        """The aggregates a batch will ask for that do not exist, found with one query
        instead of one per lookup (command records, claims and parties named in bodies)."""
        wanted: set[UUID] = {PolicyBook.create_id(), Closings.create_id()}
        for p in pendings:
            if isinstance(p.body, dict) and p.refused is None:
                wanted.update(referenced_ids(p.body))
        cache = self.app.repository.cache
        if cache is not None:
            wanted = {i for i in wanted if not _in_cache(cache, i)}
        if not wanted:
            return set()
        found = self.app.recorder.select_first_events(wanted)  # type: ignore[attr-defined]
        return wanted - set(found)

    def _judge(self, p: _Pending, uow: UnitOfWork, recorded_at: datetime,
               seen: dict[str, _Pending], stored: dict[str, tuple[str, bytes]]) -> Answer:
        name = _name_of(p.body)
        if p.refused is not None:
            return _rejected(_echo_id(p.body), name, p.refused, unstored=True)
        if p.command_id is None:
            try:
                decode_command(p.body)
            except Rejection as r:
                return _rejected(None, name, r, unstored=True)
            return _rejected(None, name, Rejection("invalid_field", "command_id: is required",
                                                    field="command_id"), unstored=True)
        # idempotency: the same actor and command_id answer their first answer (SPEC 1)
        key = p.key if p.key is not None else p.command_id
        first = self._first_answer(key, p.body, uow, seen, stored)
        if first is not None:
            first_hash, first_answer = first
            if first_hash != p.hash:
                return _rejected(p.command_id, name, Rejection(
                    "invalid_field",
                    f"command_id: {p.command_id!r} was already used for a different command body",
                    field="command_id",
                ), unstored=True)
            return {"command_id": p.command_id, "command": name, "status": "duplicate",
                    "original": first_answer}
        seen[key] = p
        try:
            cmd = decode_command(p.body, checked=True)  # _prefetch ran check_body
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
            return _rejected(p.command_id, name, r)
        except Exception as e:  # noqa: BLE001 - one command's failure rejects that command only
            # A value the rules above did not foresee (a date arithmetic overflow, ...):
            # the command is rejected by name and the batch goes on (SPEC 1: one bad line
            # rejects that line only). Whatever it changed is dropped like any rejection's.
            return _rejected(p.command_id, name, Rejection(
                "invalid_field", f"the command could not be applied: {type(e).__name__}: {e}",
                field="$", error=type(e).__name__), unstored=True)
        answer = {"command_id": p.command_id, "command": name, "status": "applied",
                  "result": result}
        record = uow.get(CommandRecord, p.command_id)
        if record is None:
            uow.add(CommandRecord(command_id=p.command_id, command=name, body_hash=p.hash or "",
                                  actor=cmd.actor, answer=_stored_answer(answer), meta=ctx.meta))
        else:  # another actor's command under the same id: its own entry (SPEC 1)
            record.record_for(command_id=p.command_id, actor=cmd.actor, command=name, body_hash=p.hash or "",
                              answer=_stored_answer(answer), meta=ctx.meta)
        return answer

    def _first_answer(self, key: str, body: dict[str, Any], uow: UnitOfWork,
                      seen: dict[str, _Pending],
                      stored_rejections: dict[str, tuple[str, bytes]]) -> tuple[str, Answer] | None:
        if key in seen:
            earlier = seen[key]
            if earlier.answer is None:
                raise RuntimeError(f"command {earlier.index} of the batch was not answered")
            return earlier.hash or "", _stored_answer(earlier.answer)
        stored = stored_rejections.get(key)
        if stored is not None:
            return stored[0], _answer_decoder.decode(stored[1])
        record = uow.get(CommandRecord, body["command_id"])
        actor = body.get("actor")
        entry = record.entry(actor) if record is not None and isinstance(actor, str) else None
        if entry is not None:
            return entry.body_hash, entry.answer
        return None

    # --- reading ----------------------------------------------------------------------

    def load(self, cls: type[Any], *key: str) -> Any | None:
        """The aggregate ``cls`` of business id ``key`` as saved, or None: what the edges
        ask of the write side (a caller's roles, a rep's own user)."""
        try:
            return self.app.repository.get(cls.create_id(*key))
        except AggregateNotFoundError:
            return None

    def max_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def currency(self) -> str:
        """The ledger's currency (policy ``currency`` in force today, SPEC 1)."""
        try:
            # from the stored events, not the cache: a batch in progress may hold unsaved
            # changes to the cached aggregate (a version number bypasses the cache)
            book = self.app.repository.get(PolicyBook.create_id(), version=2**62)
        except AggregateNotFoundError:
            book = None
        day = business_date(self.clock())
        version = book.in_force("currency", day) if book is not None else default_version("currency")
        return str(version.values["code"])

    def with_currency(self, document: Any) -> Any:
        """A query document naming its currency (SPEC 1: every query document does)."""
        if isinstance(document, dict) and "currency" not in document:
            return {**document, "currency": self.currency()}
        return document


def _in_cache(cache: Any, key: UUID) -> bool:
    try:
        cache.get(key)
    except KeyError:
        return False
    return True


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


def _echo_id(body: Any) -> str | None:
    """A refused body's command_id, if it is a plain id worth echoing."""
    value = body.get("command_id") if isinstance(body, dict) else None
    return value if valid_id(value) else None


def _name_of(body: Any) -> str | None:
    name = body.get("command") if isinstance(body, dict) else None
    # echoed in answers: only a plain name (a hostile one is answered as unnamed)
    return name if isinstance(name, str) and len(name) <= 200 and name.isprintable() else None


def _rejected(command_id: str | None, name: str | None, r: Rejection, *,
              unstored: bool = False) -> Answer:
    answer: Answer = {"command_id": command_id, "command": name, "status": "rejected",
                      "rule": r.rule, "message": r.message, "details": _jsonable(r.details)}
    if unstored:
        answer["_unstored"] = True
    return answer


def _stored_answer(answer: Answer) -> Answer:
    return {k: v for k, v in answer.items() if k not in ("position", "events")}


def _jsonable(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


def iter_batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
