"""Evidence export (SPEC 4, SPEC 5.3 ``export --entity ID [--period P] -o FILE``): one file
with the events behind a disputed figure, their chain hashes and inclusion proofs, the
nearest checkpoint, the explanation and the figures; checked with no database by
``ledger verify --bundle`` (the file's shape and checks: ``ledger.replay.bundle``).

**The subject** of ``--entity ID`` (the entities a dispute names, SPEC 5.2 ``OpenDispute``):

- a rep, with ``--period P`` (required): the commission statement of P, explained
  (``replay explain commission``);
- a customer: its receivables (``query receivables``; ``--as-of D`` optional), explained
  as its open total;
- a sale: its customer's receivables, the explanation of that sale's open amount;
- a budget: the budget's figures, explained as its remaining.

**The events**: every event of the aggregates the figure rests on, up to the log's end:
the aggregates of the explanation's steps and of the audit trail's entries about the
entity (its sales' customers, the rep and the reps it trained, the budget, the disputes
about it), the rep's trainees, and the policy book and the month closes. Before writing,
the exporter re-runs the explanation and the query over only those events (as
``verify --bundle`` will) and, should they not reproduce the figures, takes the whole log
instead, so a written file always verifies against the log it came from.

**The proofs**: one streaming pass over the log (``ledger.replay.chain.verify``)
recomputes the chain and yields each chosen event's hash and its RFC 9162 inclusion proof
in the tree of the whole log now; with a checkpoint (``--checkpoint FILE``, a file
``ledger verify --checkpoint`` wrote), also the consistency proof from the signed tree to
the tree now, so the events check against the signed root. A log with a break is not
exported from (the problem is named, as ``ledger verify`` names it).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from ledger.projections.engine import Projector
from ledger.replay import merkle
from ledger.replay.bundle import FORMAT, documents, normal, replayed
from ledger.replay.chain import GENESIS, PAGE, verify

SCAN_PAGE = 5000


class ExportError(Exception):
    """An export that cannot be made: ``rule`` and message (a SPEC 5.2 rule name)."""

    def __init__(self, rule: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "details": self.details}


# --- the subject ---------------------------------------------------------------------------------


def subject_of(projector: Projector, entity: str, period: str | None = None,
               as_of: str | None = None, clock: datetime | None = None) -> dict[str, Any]:
    """What ``--entity ID`` names (module docstring); ``unknown_reference`` if nothing."""
    from ledger.projections.budgets import BudgetsProjection
    from ledger.projections.commissions import CommissionsProjection, _period
    from ledger.projections.common import parse_as_of
    from ledger.projections.receivables import ReceivablesProjection

    def table(cls: type, name: str) -> str:
        return next(p for p in projector.projections if isinstance(p, cls)).t(name)

    day = parse_as_of(as_of)
    base: dict[str, Any] = {"entity": entity, "period": None, "as_of": None,
                            "clock": (clock or projector.clock()).isoformat()}
    with projector.transaction(commit=False) as sql:
        if sql.scalar(f"SELECT COUNT(*) FROM {table(CommissionsProjection, 'reps')} "
                      "WHERE rep_id = ?", (entity,)):
            if period is None:
                raise ExportError("invalid_field", f"{entity} is a rep: give --period YYYY-MM "
                                  "(the month of the statement)", field="period")
            return {**base, "kind": "commission", "rep_id": entity, "period": _period(period)}
        receivables = {"kind": "receivable", **base,
                       "as_of": day.isoformat() if day else None}
        if sql.scalar(f"SELECT COUNT(*) FROM {table(ReceivablesProjection, 'customers')} "
                      "WHERE customer_id = ?", (entity,)):
            return {**receivables, "customer_id": entity, "sale_id": None}
        owner = sql.scalar(f"SELECT customer_id FROM {table(ReceivablesProjection, 'sales')} "
                           "WHERE sale_id = ?", (entity,))
        if owner is not None:
            return {**receivables, "customer_id": owner, "sale_id": entity}
        if sql.scalar(f"SELECT COUNT(*) FROM {table(BudgetsProjection, 'budgets')} "
                      "WHERE budget_id = ?", (entity,)):
            return {**base, "kind": "budget", "budget_id": entity}
    raise ExportError("unknown_reference", f"{entity!r} is no rep, customer, sale or budget "
                      "the ledger knows", field="entity", ref=entity)


# --- which events -------------------------------------------------------------------------------


def _aggregates(projector: Projector, subject: dict[str, Any],
                explanation: dict[str, Any]) -> tuple[set[UUID], set[int]]:
    """(aggregate ids named directly, positions whose aggregates count too)."""
    from ledger.domain.model import Budget, Closings, Customer, PolicyBook, Rep
    from ledger.projections.audit import AuditProjection
    from ledger.projections.commissions import CommissionsProjection

    ids = {PolicyBook.create_id(), Closings.create_id()}
    positions = {s["position"] for s in explanation["steps"] if s.get("position") is not None}
    audit = next(p for p in projector.projections if isinstance(p, AuditProjection))
    with projector.transaction(commit=False) as sql:
        positions |= {int(r["position"]) for r in sql.all(
            f"SELECT position FROM {audit.t('entities')} WHERE entity_id = ?",
            (subject["entity"],))}
        if subject["kind"] == "commission":
            ids.add(Rep.create_id(subject["rep_id"]))
            reps = next(p for p in projector.projections
                        if isinstance(p, CommissionsProjection)).t("reps")
            for r in sql.all(f"SELECT rep_id FROM {reps} WHERE trainer_id = ?",
                             (subject["rep_id"],)):
                ids.add(Rep.create_id(r["rep_id"]))
    if subject["kind"] == "receivable":
        ids.add(Customer.create_id(subject["customer_id"]))
    if subject["kind"] == "budget":
        ids.add(Budget.create_id(subject["budget_id"]))
    return ids, positions


def _rows(recorder: Any, stop: int) -> Iterator[tuple[int, UUID, int, str, bytes]]:
    """Every stored event up to ``stop``: (position, aggregate id, version, topic, payload)."""
    source: Any = recorder
    start = 1
    while start <= stop:
        rows = source.select_event_rows(start, stop, SCAN_PAGE)
        for position, oid, version, topic, state in rows:
            yield position, _uuid(oid), version, topic, state
        if len(rows) < SCAN_PAGE:
            return
        start = rows[-1][0] + 1


def _uuid(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, bytes):
        return UUID(bytes=value)
    return UUID(str(value))


def _select(recorder: Any, stop: int, ids: set[UUID], positions: set[int]
            ) -> list[tuple[int, UUID, int, str, bytes]]:
    """The events of the aggregates ``ids`` and of those holding ``positions`` (two scans
    of the log, one page in memory at a time besides what is kept)."""
    wanted = set(ids)
    if positions:
        wanted |= {oid for p, oid, *_ in _rows(recorder, stop) if p in positions}
    return [row for row in _rows(recorder, stop) if row[1] in wanted]


def _entries(rows: list[tuple[int, UUID, int, str, bytes]]) -> list[dict[str, Any]]:
    return [{"position": p, "originator_id": str(oid), "originator_version": v, "topic": t,
             "state": base64.b64encode(s).decode()} for p, oid, v, t, s in rows]


# --- the export ---------------------------------------------------------------------------------


def export(recorder: Any, live: Projector, entity: str, period: str | None = None,
           as_of: str | None = None, checkpoint: Path | None = None,
           now: datetime | None = None) -> dict[str, Any]:
    """The evidence file's document (``ledger.replay.bundle``) for ``entity``."""
    from ledger.replay import checkpoint as cps

    end = live.source.end()
    live.catch_up(stop=end)
    clock = now or live.clock()
    subject = subject_of(live, entity, period, as_of, clock)
    explanation, figures = (normal(d) for d in documents(live, subject))
    ids, positions = _aggregates(live, subject, explanation)
    rows = _select(recorder, end, ids, positions)
    entries = _entries(rows)
    selection = "aggregates"
    with replayed(entries, clock) as replay:
        if tuple(normal(d) for d in documents(replay, subject)) != (explanation, figures):
            selection = "whole_log"
    if selection == "whole_log":
        rows = list(_rows(recorder, end))
        entries = _entries(rows)

    cp = cps.read(checkpoint) if checkpoint is not None else None
    source: Any = recorder
    size = source.count_events(end)
    chosen = [p for p, *_ in rows]
    indexes, before = _indexes(recorder, end, set(chosen))
    proof_ranges = {p: merkle.inclusion_ranges(indexes[p], size) for p in chosen}
    consistency: list[tuple[int, int]] = []
    if cp is not None:
        if not 0 < cp.tree_size <= size:
            raise ExportError("invalid_field", f"--checkpoint: its tree of {cp.tree_size} events "
                              f"is not a prefix of the log's {size}", field="checkpoint")
        consistency = merkle.consistency_ranges(cp.tree_size, size)
    positions_asked = sorted({*chosen, *before.values(), *([cp.position] if cp else [])} - {0})
    # each subtree once: events close together share most of their proofs
    unique = sorted({r for rs in proof_ranges.values() for r in rs} | set(consistency))
    v = verify(source, page=PAGE, positions=positions_asked, ranges=unique, stop=end)
    if not v.ok and v.first_break is not None:
        raise ExportError("invalid_state", f"the log has a break ({v.first_break.kind} at position "
                          f"{v.first_break.position}): no evidence is exported from it; run "
                          "`ledger verify`", position=v.first_break.position,
                          kind=v.first_break.kind)
    if v.tree_size != size:
        raise ExportError("version_conflict", "the log changed during the export; run it again")
    hashes = dict(zip(unique, v.range_hashes, strict=True))
    for entry, p in zip(entries, chosen, strict=True):
        entry["index"] = indexes[p]
        entry["prev_position"] = before[p]
        entry["prev_hash"] = (v.head_at[before[p]] if before[p] else GENESIS).hex()
        entry["hash"] = v.head_at[p].hex()
        entry["proof"] = [hashes[r].hex() for r in proof_ranges[p]]
    consistency_proof = [hashes[r].hex() for r in consistency]
    if cp is not None:
        problems = []
        if not cps.signature_valid(cp):
            problems.append("its signature does not verify")
        if v.head_at.get(cp.position, b"").hex() != cp.head:
            problems.append(f"the chain's hash at its position {cp.position} is not its head")
        if not merkle.verify_consistency(cp.tree_size, size, bytes.fromhex(cp.root), v.root,
                                         [bytes.fromhex(h) for h in consistency_proof]):
            problems.append("the log now does not extend its tree")
        if problems:
            raise ExportError("invalid_state", f"--checkpoint {checkpoint}: "
                              + "; ".join(problems), field="checkpoint")
    return {
        "format": FORMAT,
        "subject": subject,
        "exported_at": clock.isoformat(),
        "selection": selection,
        "log": {"position": v.position, "head": v.head.hex(), "tree_size": v.tree_size,
                "root": v.root.hex()},
        "events": entries,
        "checkpoint": msgspec.to_builtins(cp) if cp is not None else None,
        "consistency_proof": consistency_proof,
        "explanation": explanation,
        "figures": figures,
    }


def _indexes(recorder: Any, stop: int, positions: set[int]
             ) -> tuple[dict[int, int], dict[int, int]]:
    """Each position's leaf index (the events stored before it) and the position of the
    event stored before it (0 for the first): the one its chain hash follows."""
    indexes: dict[int, int] = {}
    before: dict[int, int] = {}
    last = 0
    for index, (p, *_) in enumerate(_rows(recorder, stop)):
        if p in positions:
            indexes[p] = index
            before[p] = last
        last = p
    return indexes, before


def write(document: dict[str, Any], path: Path) -> None:
    Path(path).write_bytes(msgspec.json.format(msgspec.json.encode(document)) + b"\n")
