"""A seeded generator of large event logs from the demo company's domain model (issue 12).

Runs ``ledger demo``'s company (``ledger.demo.Company``) once through the real command
path (``ledger import``'s batching) into a throwaway SQLite template, then writes a log of
``copies`` *divisions* of that company straight into a PostgreSQL schema with COPY, hash
chain included. A division is the company again with every business id of its own
(customers, reps, sales, payments, returns, write-offs, budgets, expenses, invoices,
command ids) prefixed ``D0001-``, ``D0002-``, ...; the staff and the price list are shared
(registered once), and the months are closed once for all divisions together.

The log written is, event for event, the log the command path writes for that command
stream (the divisions' commands month by month, then one ``CloseMonth``): the same
aggregates (uuid5 of kind and prefixed id), versions, topics and payloads (``body_hash``
recomputed, the month close's positions and totals merged), only the recording
timestamps are the template's. ``tests/bench/test_bench_smoke.py`` proves it by running
that command stream through ``Ledger.execute`` and comparing the two logs.

    .venv/bin/python bench/generate.py --events 1000000 --url 'postgresql://...?schema=NAME'
"""

from __future__ import annotations

import argparse
import hashlib
import math
import queue
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from eventsourcing.utils import get_topic

from benchlib import import_lines
from ledger.application import Ledger
from ledger.config import parse_database_url
from ledger.demo import Company
from ledger.domain.model import Budget, Claim, Closings, CommandRecord, Customer, Rep, Sku, User
from ledger.domain.commands import body_hash
from ledger.domain.ids import NAMESPACE, aggregate_id
from ledger.replay.chain import GENESIS, chain_rows

# string fields (at any depth) that hold a division's business ids
ID_KEYS = frozenset({
    "customer_id", "rep_id", "trainer_id", "sale_id", "payment_id", "expense_id",
    "budget_id", "return_id", "writeoff_id", "invoice_no", "command_id", "payout_id",
    "owner_id", "business_id",
})
ID_LIST_KEYS = frozenset({"counted_reps"})
SHARED_COMMANDS = frozenset({"RegisterUser", "SetListPrice"})  # staff and price list: once
CLOSE = "CloseMonth"
SENTINEL = "\ue000"  # stands for the division prefix in a template payload
SENT_B = SENTINEL.encode()
HASH_MARK = "\ue001" * 64  # stands for a command record's body_hash
HASH_MARK_B = HASH_MARK.encode()
COMMAND_RECORDED = get_topic(CommandRecord.Recorded)
MONTH_CLOSED = get_topic(Closings.MonthClosed)
FIRST_TOPICS = {  # first event of an aggregate -> (kind, business-id field); kind None: shared
    get_topic(cls): found for cls, found in (
        (Customer.Registered, ("customer", "customer_id")),
        (Rep.Registered, ("rep", "rep_id")),
        (Budget.Allocated, ("budget", "budget_id")),
        (CommandRecord.Recorded, ("command", "command_id")),
        (Claim.Claimed, (None, "business_id")),  # kind from the payload
        (User.Registered, None),
        (Sku.Opened, None),
        (Closings.Opened, None),
    )
}
AS_OF_MARK = -987654321987  # stands for a close's stop position in a template payload
_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder()


def prefix_of(k: int) -> str:
    return "" if k == 0 else f"D{k:04d}-"


def _prefixed(value: Any, p: str) -> Any:
    return p + value if isinstance(value, str) and value else value


def transform(o: Any, p: str) -> Any:
    """A copy of a decoded payload or command body with the division's ids prefixed."""
    if isinstance(o, dict):
        out = {}
        for k, v in o.items():
            if k in ID_KEYS and isinstance(v, str):
                out[k] = _prefixed(v, p)
            elif k in ID_LIST_KEYS and isinstance(v, list):
                out[k] = [_prefixed(x, p) for x in v]
            else:
                out[k] = transform(v, p)
        return out
    if isinstance(o, list):
        return [transform(x, p) for x in o]
    return o


UNLIMITED_CREDIT = 10**13  # fen: a credit limit no generated customer reaches


@dataclass
class UnpaidCompany(Company):
    """The demo company, except that a share of its customers never pay and are never
    written off (so their sales stay open items), and no customer's credit limit is ever
    reached: a log with many open items on any date (the aging report's benchmark,
    ``--unpaid-share``). The company's commands are otherwise made as ``Company`` makes
    them; which customers do not pay is drawn from a generator of its own."""

    unpaid_share: float = 0.5

    def _customers(self, rng: Any) -> list[tuple[dict[str, Any], Any]]:
        out = super()._customers(rng)
        pick = random.Random(self.seed + 2)
        self._unpaid = set()
        for body, c in out:
            body["credit_limit"] = c.limit = UNLIMITED_CREDIT
            if pick.random() < self.unpaid_share:
                self._unpaid.add(c.customer_id)
        return out

    def _collections(self, rng: Any, month_end: Any) -> Iterator[dict[str, Any]]:
        for c in self.cust:
            if c.customer_id in self._unpaid:
                c.open_items = []  # forgotten: never refused a sale, never written off
        yield from super()._collections(rng, month_end)


def company_of(seed: int = 7, unpaid_share: float | None = None) -> Company:
    """The demo company (``unpaid_share`` None) or its ``UnpaidCompany`` variant."""
    if unpaid_share is None:
        return Company(seed=seed)
    return UnpaidCompany(seed=seed, unpaid_share=unpaid_share)


def template_commands(company: Company) -> list[dict[str, Any]]:
    return list(company.commands())


def division_commands(commands: list[dict[str, Any]], copies: int) -> Iterator[dict[str, Any]]:
    """The command stream whose log ``generate`` writes: month by month, each division's
    commands in turn (shared commands once), then the month's one close."""
    segment: list[dict[str, Any]] = []
    for body in commands + [None]:  # type: ignore[list-item]
        if body is None or body["command"] == CLOSE:
            for k in range(copies):
                for b in segment:
                    if k and b["command"] in SHARED_COMMANDS:
                        continue
                    yield transform(b, prefix_of(k)) if k else b
            if body is not None:
                yield body
            segment = []
        else:
            segment.append(body)


# --- the template ---------------------------------------------------------------------

@dataclass
class TEvent:
    position: int
    oid: uuid.UUID
    version: int
    topic: str
    state: bytes
    command_id: str
    command: str


@dataclass
class Template:
    commands: list[dict[str, Any]]
    events: list[TEvent]
    seconds: float
    events_per_copy: int = 0
    aggregates: dict[uuid.UUID, tuple[str, str] | None] = field(default_factory=dict)


def build_template(company: Company, folder: str) -> Template:
    """Run the company through the command path into a SQLite file; read its log back."""
    commands = template_commands(company)
    started = time.perf_counter()
    url = f"sqlite:///{folder}/template-{uuid.uuid4().hex[:8]}.db"
    with Ledger(parse_database_url(url)) as ledger:
        report = import_lines(ledger, [_enc.encode(b) for b in commands])
        if report["applied"] + len(report["rejected"]) != len(commands):
            raise RuntimeError(f"template import answered {report}")
        end = ledger.max_position()
        rows = ledger.app.recorder.select_event_rows(1, end, end + 1)
    seconds = time.perf_counter() - started
    events = []
    for pos, oid, version, topic, state in rows:
        meta = _dec.decode(state).get("meta") or {}
        events.append(TEvent(pos, uuid.UUID(bytes=oid) if isinstance(oid, bytes) else oid,
                             version, topic, state, meta.get("command_id", ""),
                             meta.get("command", "")))
    # an event without meta (e.g. ``Sku.Opened``) belongs to the command whose record follows
    command_id, command = "", ""
    for e in reversed(events):
        if e.command:
            command_id, command = e.command_id, e.command
        else:
            e.command_id, e.command = command_id, command
    t = Template(commands, events, seconds)
    for e in events:
        if e.oid in t.aggregates:
            continue
        if e.topic not in FIRST_TOPICS:
            raise RuntimeError(f"no division mapping for an aggregate first seen as {e.topic}")
        rule = FIRST_TOPICS[e.topic]
        if rule is None:
            t.aggregates[e.oid] = None
            continue
        body = _dec.decode(e.state)
        kind = rule[0] or body["kind"]
        bid = body[rule[1]]
        if aggregate_id(kind, bid) != e.oid:
            raise RuntimeError(f"aggregate {e.oid} is not uuid5 of {kind}:{bid}")
        t.aggregates[e.oid] = (kind, bid)
    return t


# --- the divisions' log ----------------------------------------------------------------

@dataclass
class _Plain:
    """A template event outside a close, ready to be stamped for division k."""
    kind_bid: tuple[str, str] | None
    version: int
    topic: str
    state: bytes  # with SENTINEL where the prefix goes (and HASH_MARK for a record)
    shared: bool
    body: bytes | None  # canonical command body with SENTINEL, for a record's body_hash


def _plain(t: Template, e: TEvent, bodies: dict[str, dict[str, Any]]) -> _Plain:
    kb = t.aggregates[e.oid]
    payload = transform(_dec.decode(e.state), SENTINEL)
    body = None
    if e.topic == COMMAND_RECORDED:
        if payload["body_hash"] != body_hash(bodies[e.command_id]):
            raise RuntimeError(f"record of {e.command_id}: body_hash is not the body's")
        payload["body_hash"] = HASH_MARK
        body = msgspec.json.Encoder(order="sorted").encode(transform(bodies[e.command_id], SENTINEL))
    shared = e.command in SHARED_COMMANDS
    if kb is None and not shared:
        raise RuntimeError(f"{e.command} writes {e.topic} to a shared aggregate: no division copy")
    return _Plain(kb, e.version, e.topic, _enc.encode(payload), shared, body)


_NS = NAMESPACE.bytes


def fast_id(kind: str, business_id: str) -> bytes:
    """The 16 bytes of ``aggregate_id(kind, business_id)`` (uuid5), without a UUID object."""
    b = bytearray(hashlib.sha1(_NS + f"{kind}:{business_id}".encode()).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x50
    b[8] = (b[8] & 0x3F) | 0x80
    return bytes(b)


def _stamp(pl: _Plain, k: int) -> tuple[bytes, int, str, bytes]:
    p = prefix_of(k).encode()
    state = pl.state.replace(SENT_B, p)
    if pl.body is not None:
        h = hashlib.sha256(pl.body.replace(SENT_B, p)).hexdigest().encode()
        state = state.replace(HASH_MARK_B, h)
    kind, bid = pl.kind_bid  # type: ignore[misc]
    return fast_id(kind, prefix_of(k) + bid), pl.version, pl.topic, state


def _segments(t: Template) -> list[tuple[list[TEvent], list[TEvent]]]:
    """(events before a close, the close's events) in log order; the last close part may be
    empty (events after the last close)."""
    out: list[tuple[list[TEvent], list[TEvent]]] = []
    plain: list[TEvent] = []
    close: list[TEvent] = []
    for e in t.events:
        if e.command == CLOSE:
            close.append(e)
        else:
            if close:
                out.append((plain, close))
                plain, close = [], []
            plain.append(e)
    out.append((plain, close))
    return out


def divisions_log(t: Template, copies: int) -> Iterator[tuple[bytes, int, str, bytes]]:
    """(originator id (16 bytes), version, topic, state) of the divisions' log, in log order."""
    bodies = {b["command_id"]: b for b in t.commands}
    position = 0
    prev_next_scan = 1
    for plain, close in _segments(t):
        stamped = [_plain(t, e, bodies) for e in plain]
        for k in range(copies):
            for e, pl in zip(plain, stamped):
                if k == 0:
                    position += 1
                    yield e.oid.bytes, e.version, e.topic, e.state
                elif not pl.shared:
                    position += 1
                    yield _stamp(pl, k)
        if not close:
            continue
        stop = position
        yield_close = list(_close_block(t, close, copies, stop, prev_next_scan))
        prev_next_scan = stop + 1
        for item in yield_close:
            position += 1
            yield item


def _close_block(t: Template, close: list[TEvent], copies: int, stop: int,
                 scan_from: int) -> Iterator[tuple[bytes, int, str, bytes]]:
    reps: dict[str, list[tuple[TEvent, bytes]]] = {}
    rest: list[TEvent] = []
    for e in close:
        kb = t.aggregates[e.oid]
        if kb is not None and kb[0] == "rep":
            original = _dec.decode(e.state)
            payload = transform(original, SENTINEL)
            if "meta" in original:  # the close is the one shared command
                payload["meta"] = original["meta"]
            if "as_of_position" in payload:
                payload["as_of_position"] = AS_OF_MARK
            reps.setdefault(kb[1], []).append((e, _enc.encode(payload)))
        else:
            rest.append(e)
    mark = str(AS_OF_MARK).encode()
    at = str(stop).encode()
    groups = sorted((prefix_of(k) + rep_id, k, rep_id) for rep_id in reps for k in range(copies))
    for new_id, k, rep_id in groups:
        p = prefix_of(k).encode()
        oid = fast_id("rep", new_id)
        for e, state in reps[rep_id]:
            yield oid, e.version, e.topic, state.replace(SENT_B, p).replace(mark, at)
    for e in rest:
        payload = _dec.decode(e.state)
        if e.topic == MONTH_CLOSED:
            payload["log_position"] = stop
            payload["summary"] = _merged_summary(payload["summary"], copies, stop, scan_from)
        elif e.topic == COMMAND_RECORDED:
            payload["answer"]["result"] = _merged_summary(payload["answer"]["result"], copies,
                                                          stop, scan_from)
        elif t.aggregates[e.oid] is not None:
            raise RuntimeError(f"unexpected event in a month close: {e.topic}")
        yield e.oid.bytes, e.version, e.topic, _enc.encode(payload)


def _merged_summary(s: dict[str, Any], copies: int, stop: int, scan_from: int) -> dict[str, Any]:
    out = dict(s)
    out["as_of_position"] = stop
    out["scan_from"] = scan_from
    out["next_scan_from"] = stop + 1
    for key in ("reps_accrued", "accrued_total", "late_facts"):
        if key in s:
            out[key] = s[key] * copies
    for key in ("promotions", "adjustments", "carried"):
        if key in s:
            items = [transform(x, prefix_of(k)) for k in range(copies) for x in s[key]]
            out[key] = sorted(items, key=lambda x: x["rep_id"])  # stable: a rep's own order
    return out


# --- writing ----------------------------------------------------------------------------

def copies_for(events: int, per_copy: int) -> int:
    return max(1, math.ceil(events / per_copy))


def events_per_copy(t: Template) -> int:
    shared = sum(1 for e in t.events if e.command in SHARED_COMMANDS)
    return len(t.events) - shared


@dataclass
class Generated:
    url: str
    events: int
    copies: int
    template_events: int
    template_seconds: float
    write_seconds: float
    company: dict[str, Any]


def write_postgres(url: str, rows: Iterable[tuple[bytes, int, str, bytes]],
                   page: int = 20_000) -> int:
    """COPY the events and their chain rows into the schema of ``url`` (created with the
    ledger's own tables first); positions 1..N in order, one transaction per page; the
    sequence set past them."""
    import psycopg
    from psycopg.sql import SQL, Identifier, Literal

    db = parse_database_url(url)
    with Ledger(db):
        pass  # creates the schema and the ledger's tables
    e = db.env
    schema = Identifier(db.schema)
    n = 0
    prev_pos, prev = 0, GENESIS
    with psycopg.connect(dbname=e["POSTGRES_DBNAME"], host=e["POSTGRES_HOST"],
                         port=e["POSTGRES_PORT"], user=e["POSTGRES_USER"],
                         password=e["POSTGRES_PASSWORD"]) as conn:
        with conn.cursor() as cur:
            cur.execute(SQL("SELECT COUNT(*) FROM {}.ledger_events").format(schema))
            if cur.fetchone()[0]:
                raise RuntimeError(f"{db.schema}: the log is not empty")
        copy_events = SQL("COPY {}.ledger_events (notification_id, originator_id, "
                          "originator_version, topic, state) FROM STDIN").format(schema)
        copy_chain = SQL("COPY {}.ledger_chain (position, prev_position, hash) FROM STDIN"
                         ).format(schema)
        rebuild = _drop_indexes(conn, db.schema, "ledger_events")
        batch: list[tuple[int, bytes, int, str, bytes]] = []
        pages: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize=2)
        failed: list[BaseException] = []

        def writer() -> None:  # COPY in a thread while the next page is prepared
            try:
                while (item := pages.get()) is not None:
                    with conn.cursor() as cur:
                        with cur.copy(copy_events) as cp:
                            cp.write(item[0])
                        with cur.copy(copy_chain) as cp:
                            cp.write(item[1])
                    conn.commit()
            except BaseException as e:  # reported by the main thread
                failed.append(e)
                while pages.get() is not None:
                    pass

        def flush() -> None:
            nonlocal prev_pos, prev
            chain = chain_rows(prev_pos, prev, batch)
            events_text = "".join(
                f"{p}\t{o.hex()}\t{v}\t{t}\t\\\\x{s.hex()}\n" for p, o, v, t, s in batch)
            chain_text = "".join(f"{p}\t{q}\t\\\\x{h.hex()}\n" for p, q, h in chain)
            pages.put((events_text, chain_text))
            prev_pos, prev = chain[-1][0], chain[-1][2]
            batch.clear()

        thread = threading.Thread(target=writer, name="copy-writer")
        thread.start()
        try:
            for oid, version, topic, state in rows:
                n += 1
                batch.append((n, oid, version, topic, state))
                if len(batch) >= page:
                    flush()
                    if failed:
                        break
            if batch and not failed:
                flush()
        finally:
            pages.put(None)
            thread.join()
        if failed:
            raise failed[0]
        with conn.cursor() as cur:
            for statement in rebuild:
                cur.execute(statement)
            cur.execute(SQL("SELECT setval(pg_get_serial_sequence({}, 'notification_id'), %s)")
                        .format(Literal(f"{db.schema}.ledger_events")), (max(n, 1),))
            cur.execute(SQL("ANALYZE {}.ledger_events").format(schema))
            cur.execute(SQL("ANALYZE {}.ledger_chain").format(schema))
        conn.commit()
    return n


def _drop_indexes(conn: Any, schema: str, table: str) -> list[str]:
    """Drop the table's constraints' and other indexes (a bulk load builds them once at
    the end, much faster than row by row); return the statements that put them back."""
    from psycopg.sql import SQL, Identifier

    rel = f'"{schema}"."{table}"'
    with conn.cursor() as cur:
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype IN ('p', 'u')", (rel,))
        constraints = cur.fetchall()
        cur.execute("SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                    "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
                    (rel,))
        indexes = cur.fetchall()
        back = []
        for name, definition in constraints:
            cur.execute(SQL("ALTER TABLE {}.{} DROP CONSTRAINT {}").format(
                Identifier(schema), Identifier(table), Identifier(name)))
            back.append(SQL("ALTER TABLE {}.{} ADD CONSTRAINT {} ").format(
                Identifier(schema), Identifier(table), Identifier(name)) + SQL(definition))
        for name, definition in indexes:
            cur.execute(SQL("DROP INDEX {}.{}").format(Identifier(schema), Identifier(name)))
            back.append(SQL(definition))
    conn.commit()
    return back


def generate(url: str, events: int, *, company: Company | None = None,
             template: Template | None = None, folder: str | None = None) -> Generated:
    """A log of at least ``events`` events (whole divisions) in the schema of ``url``."""
    company = company or Company()
    with tempfile.TemporaryDirectory() as tmp:
        t = template or build_template(company, folder or tmp)
    per_copy = events_per_copy(t)
    copies = copies_for(events, per_copy)
    started = time.perf_counter()
    n = write_postgres(url, divisions_log(t, copies))
    return Generated(url=url, events=n, copies=copies, template_events=len(t.events),
                     template_seconds=t.seconds, write_seconds=time.perf_counter() - started,
                     company={"seed": company.seed, "year": company.year, "reps": company.reps,
                              "customers": company.customers})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--url", required=True, help="postgresql://...?schema=NAME (empty)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--unpaid-share", type=float, default=None,
                        help="this share of the customers never pays (``UnpaidCompany``): "
                             "many open items, for the aging report; default: the demo company")
    args = parser.parse_args()
    g = generate(args.url, args.events, company=company_of(args.seed, args.unpaid_share))
    print(f"{g.events:,} events ({g.copies} divisions of {g.template_events:,}-event template, "
          f"built in {g.template_seconds:.1f}s) written in {g.write_seconds:.1f}s = "
          f"{g.events / g.write_seconds:,.0f} events/s", flush=True)


if __name__ == "__main__":
    main()
