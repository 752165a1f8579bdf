"""The event log's hash chain (SPEC 4, verify) and its verification.

**The chain.** Every stored event is chained in log order. For the event at position ``p``
whose previous stored event (the highest lower position holding an event) has hash
``H_prev`` (32 zero bytes for the first event)::

    H_p = SHA-256( H_prev                       32 bytes
                 || position                     8 bytes, unsigned big-endian
                 || aggregate id                 16 bytes (the UUID's bytes)
                 || aggregate version            8 bytes, unsigned big-endian
                 || len(topic)                   4 bytes, unsigned big-endian
                 || topic                        UTF-8
                 || payload )                    the stored state bytes, as stored

Every field but the payload has a fixed length or a length prefix, so the encoding is
unambiguous. The recorders (``ledger.store.chain``) write ``(position, prev_position,
hash)`` into ``ledger_chain`` in the same transaction as the events, on every write path.
``prev_position`` is the position whose hash was chained in (PostgreSQL positions may
have gaps where a transaction rolled back: a gap is not a break); it is not hashed, and
only helps to name a break. The event hashes in log order are also the entries of an
RFC 9162 Merkle tree (``ledger.replay.merkle``), used by signed checkpoints.

**Verification** streams the events and the chain rows in position order (pages of
``PAGE`` rows: memory does not grow with the log), recomputes every hash from the events
as they are stored now, and names the first break, walking positions upwards; ``prev``
below is the last position holding an event:

- ``missing``: a chain row at ``p`` but no event there (the event was deleted); or the
  chain row at ``p`` follows a position ``d > prev`` that holds neither an event nor a
  chain row (the event at ``d`` was deleted with its chain row); the break is at ``d``.
  A log whose chain table is empty (written before chaining existed) is ``missing`` at
  its first event: run ``ledger verify --seal`` once.
- ``inserted``: an event at ``p`` with no chain row; or the chain row at ``p`` follows a
  position ``a < prev``, so the events after ``a`` were put in afterwards; the break is at
  the first event after ``a``.
- ``reordered``: the event at ``p`` does not match its chain hash, but its payload (with
  the header now at ``q``, or its own header) is the one the chain records at a later
  position ``q``: rows or payloads of ``p`` and ``q`` were swapped.
- ``altered``: the event at ``p`` does not match its chain hash and is not found
  elsewhere: its payload or header, or the chain row itself, changed.

A tail cut off together with its chain rows, or a chain recomputed end to end by someone
with write access to the database, is not visible to the chain alone: that is what
signed checkpoints are for (``ledger.replay.checkpoint``).
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from ledger.replay import merkle


class ChainError(Exception):
    """The hash chain cannot be written as asked (sealing a chained log, a store setting
    that bypasses the chain)."""


GENESIS = bytes(32)
PAGE = 5000
RATE_SAMPLE = 5000  # preimages kept to time raw SHA-256 over the same bytes

_HEADER = struct.Struct(">Q16sQI")

EventRow = tuple[int, Any, int, str, bytes]  # position, aggregate id (UUID or 16 bytes), version, topic, payload
ChainRow = tuple[int, int, bytes]  # position, prev_position, hash


def preimage(prev: bytes, position: int, originator_id: UUID | bytes | str, version: int,
             topic: str, state: bytes) -> bytes:
    """The bytes whose SHA-256 is the event's chain hash (see the module docstring).
    ``originator_id``: a UUID, its 16 bytes, or its text."""
    if isinstance(originator_id, UUID):
        oid = originator_id.bytes
    elif isinstance(originator_id, bytes):
        oid = originator_id
    else:
        oid = UUID(originator_id).bytes
    t = topic.encode()
    return b"".join((prev, _HEADER.pack(position, oid, version, len(t)), t, state))


def event_hash(prev: bytes, position: int, originator_id: UUID | bytes | str, version: int,
               topic: str, state: bytes) -> bytes:
    return hashlib.sha256(preimage(prev, position, originator_id, version, topic, state)).digest()


def chain_rows(prev_position: int, prev: bytes, events: Sequence[EventRow]) -> list[ChainRow]:
    """The chain rows of ``events`` (in position order) following ``(prev_position, prev)``."""
    rows: list[ChainRow] = []
    for position, oid, version, topic, state in events:
        h = event_hash(prev, position, oid, version, topic, state)
        rows.append((position, prev_position, h))
        prev, prev_position = h, position
    return rows


class LogSource(Protocol):
    """What verification reads: the recorders implement it (``ledger.store.chain``)."""

    def log_end(self) -> int: ...
    def select_event_rows(self, start: int, stop: int, limit: int) -> list[EventRow]: ...
    def select_chain(self, start: int, stop: int, limit: int) -> list[ChainRow]: ...
    def count_events(self, stop: int) -> int: ...


@dataclass
class Break:
    position: int
    kind: str  # missing | inserted | reordered | altered
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "kind": self.kind, "detail": self.detail}


@dataclass
class Verification:
    ok: bool
    events: int
    position: int
    head: bytes
    first_break: Break | None
    tree_size: int
    root: bytes
    seconds: float
    sha256_per_second: float | None
    head_at: dict[int, bytes] = field(default_factory=dict)  # hashes at asked positions
    range_hashes: list[bytes] = field(default_factory=list)  # MTH of the asked ranges

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """SPEC 5.3 ``verify --json`` plus the Merkle tree and the measured rate."""
        return {
            "ok": self.ok,
            "events": self.events,
            "position": self.position,
            "head": self.head.hex(),
            "first_break": self.first_break.as_dict() if self.first_break else None,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "rate": {
                "seconds": round(self.seconds, 3),
                "events_per_second": round(self.events_per_second),
                "sha256_per_second": round(self.sha256_per_second) if self.sha256_per_second else None,
            },
        }


def _paged(fetch: Callable[[int, int, int], Sequence[Any]], stop: int, page: int) -> Iterator[Any]:
    start = 1
    while start <= stop:
        rows = fetch(start, stop, page)
        yield from rows
        if len(rows) < page:
            return
        start = rows[-1][0] + 1


def _merged(source: LogSource, stop: int, page: int
            ) -> Iterator[tuple[int, EventRow | None, ChainRow | None]]:
    """(position, event row or None, chain row or None) over the positions of either."""
    events = _paged(source.select_event_rows, stop, page)
    chain = _paged(source.select_chain, stop, page)
    e = next(events, None)
    c = next(chain, None)
    while e is not None or c is not None:
        if e is not None and (c is None or e[0] < c[0]):
            yield e[0], e, None
            e = next(events, None)
        elif e is None or c[0] < e[0]:  # type: ignore[index]  # c is set: the loop and the test above
            yield c[0], None, c  # type: ignore[index]
            c = next(chain, None)
        else:
            yield e[0], e, c
            e = next(events, None)
            c = next(chain, None)


def verify(source: LogSource, *, page: int = PAGE, positions: Sequence[int] = (),
           ranges: Sequence[tuple[int, int]] = (), stop: int | None = None,
           progress: Callable[[int], None] | None = None) -> Verification:
    """Recompute the chain over the whole log and name the first break (module docstring).

    ``positions``: also report the recomputed hash at these positions (``head_at``);
    ``ranges``: also compute the Merkle hash of these ranges of leaf indices
    (``range_hashes``), for consistency proofs; ``stop``: the last position to read
    (default: the end of the log when the pass starts). One streaming pass either way.
    """
    started = time.perf_counter()
    if stop is None:
        stop = source.log_end()
    never_chained = not source.select_chain(1, stop, 1) if stop else True
    wanted = set(positions)
    head_at: dict[int, bytes] = {}
    tree = merkle.TreeBuilder()
    hasher = merkle.RangeHasher(ranges)
    sample: list[bytes] = []

    prev, prev_pos = GENESIS, 0  # recomputed hash of the last event, and its position
    last_chain: tuple[int, bytes] = (0, GENESIS)  # last stored chain row seen
    first_break: Break | None = None
    suspect: EventRow | None = None  # an event that does not match its chain hash
    count = 0
    for position, e, c in _merged(source, stop, page):
        h = b""
        if e is not None:
            try:
                pre = preimage(prev, *e)
            except (ValueError, TypeError, AttributeError, struct.error) as bad:
                # a header edited into something no recorder writes (NULL, not a UUID)
                pre = b"\xff" + repr((bad, e)).encode()
            if len(sample) < RATE_SAMPLE:
                sample.append(pre)
            h = hashlib.sha256(pre).digest()
        if first_break is None and suspect is None:
            if c is None:
                if never_chained:
                    first_break = Break(position, "missing", (
                        "the log has no hash chain (written before chaining): run "
                        "`ledger verify --seal` once to chain it"))
                else:
                    first_break = Break(position, "inserted",
                                        f"the event at position {position} has no chain row")
            elif e is None:
                first_break = Break(position, "missing",
                                    f"the chain records an event at position {position} "
                                    "but none is stored there")
            elif c[1] > prev_pos:
                first_break = Break(c[1], "missing", (
                    f"the chain at position {position} follows position {c[1]}, where no "
                    f"event and no chain row is stored (the last event before it is at "
                    f"{prev_pos})"))
            elif c[1] < prev_pos:
                first = _first_event_after(source, c[1], stop)
                first_break = Break(first, "inserted", (
                    f"the chain at position {position} follows position {c[1]}: the events "
                    f"from position {first} to {prev_pos} are not in the chain"))
            elif h != c[2]:
                suspect = e
        elif suspect is not None and e is not None and c is not None and c[1] == last_chain[0]:
            for header in (e[1:4], suspect[1:4]):
                if _try_hash(last_chain[1], position, *header, suspect[4]) == c[2]:
                    what = "payload" if header == e[1:4] else "event"
                    first_break = Break(suspect[0], "reordered", (
                        f"the {what} stored at position {suspect[0]} is the one the chain "
                        f"records at position {position}"))
                    suspect = None
                    break
        if c is not None:
            last_chain = (position, c[2])
        if e is not None:
            if position in wanted:
                head_at[position] = h
            leaf = merkle.leaf_hash(h)
            tree.add_leaf(leaf)
            hasher.add_leaf(count, leaf)
            prev, prev_pos = h, position
            count += 1
            if progress is not None and count % page == 0:
                progress(count)
    if suspect is not None:
        first_break = Break(suspect[0], "altered", (
            f"the event at position {suspect[0]} does not match its chain hash: its payload "
            "or header (aggregate, version, topic) or its chain row was changed"))
    seconds = time.perf_counter() - started
    try:
        range_hashes = hasher.hashes() if ranges else []
    except ValueError:  # the log lost events between counting and reading: no proof
        range_hashes = []
    return Verification(
        ok=first_break is None, events=count, position=prev_pos, head=prev,
        first_break=first_break, tree_size=tree.size, root=tree.root(), seconds=seconds,
        sha256_per_second=_raw_rate(sample), head_at=head_at,
        range_hashes=range_hashes,
    )


def _try_hash(prev: bytes, position: int, originator_id: Any, version: Any, topic: Any,
              state: Any) -> bytes | None:
    try:
        return event_hash(prev, position, originator_id, version, topic, state)
    except (ValueError, TypeError, AttributeError, struct.error):
        return None


def _first_event_after(source: LogSource, position: int, stop: int) -> int:
    rows = source.select_event_rows(position + 1, stop, 1)
    return rows[0][0] if rows else position + 1


def _raw_rate(sample: list[bytes]) -> float | None:
    """Plain ``hashlib.sha256`` over the same preimages, timed in this process."""
    if not sample:
        return None
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for pre in sample:
        sha256(pre).digest()
    elapsed = time.perf_counter() - started
    return len(sample) / elapsed if elapsed > 0 else None


@dataclass
class Inclusion:
    """An event's RFC 9162 inclusion proof in the tree of ``tree_size`` events."""

    position: int
    index: int  # the event's leaf index: events before it in log order
    event_hash: bytes  # the chain hash at ``position``: the tree's entry
    proof: list[bytes]


def inclusion_proofs(source: LogSource, positions: Sequence[int], *, stop: int | None = None,
                     page: int = PAGE) -> tuple[Verification, dict[int, Inclusion]]:
    """Inclusion proofs of the events at ``positions`` in the tree of the log up to ``stop``
    (default: its end), computed in one verification pass, for evidence files: each proof
    checks against a checkpoint's ``root`` and ``tree_size`` without the rest of the log
    (``merkle.verify_inclusion(index, tree_size, merkle.leaf_hash(event_hash), proof, root)``).
    A position holding no event has no proof."""
    if stop is None:
        stop = source.log_end()
    size = source.count_events(stop)
    indexes = {p: source.count_events(p) - 1 for p in positions if 0 < p <= stop}
    wanted: list[tuple[int, int, list[tuple[int, int]]]] = [
        (p, i, merkle.inclusion_ranges(i, size)) for p, i in indexes.items() if 0 <= i < size
    ]
    ranges = [r for _, _, rs in wanted for r in rs]
    v = verify(source, page=page, positions=[p for p, _, _ in wanted], ranges=ranges, stop=stop)
    hashes = iter(v.range_hashes)
    proofs: dict[int, Inclusion] = {}
    for p, i, rs in wanted:
        proof = [next(hashes) for _ in rs]
        if p in v.head_at:  # an event is stored there
            proofs[p] = Inclusion(position=p, index=i, event_hash=v.head_at[p], proof=proof)
    return v, proofs
