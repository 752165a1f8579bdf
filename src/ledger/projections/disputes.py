"""Disputes, open and resolved, by entity (SPEC 3 Disputes; SPEC 5.2 OpenDispute,
ResolveDispute; SPEC 5.3 ``disputes`` and the commission statement's ``disputes``).

One row per dispute (``disputes_disputes_g<n>``): what was disputed (the entity, its kind,
the period if any, the claim and the events it points at), who opened it and when, and,
once resolved, the outcome, reason, resolver and the correcting command. ``opened_at`` and
``resolved_at`` are the commands' ``occurred_at``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ledger.domain.model import (
    ApprovalGrants,
    Budget,
    Claim,
    Closings,
    CommandRecord,
    Customer,
    Dispute,
    PolicyBook,
    Rep,
    Sku,
    User,
)
from ledger.projections.audit import correction_link
from ledger.projections.common import Dispatching, expect_rows, from_json, to_json
from ledger.projections.engine import Projector, Sql
from ledger.projections.receivables import projection_of

OPEN, RESOLVED = "open", "resolved"


class DisputesProjection(Dispatching):
    name = "disputes"
    handlers: ClassVar[dict[type, str]] = {
        Dispute.Opened: "_opened",
        Dispute.Resolved: "_resolved",
    }
    # stored events it does not read (tests/projections/test_event_coverage.py)
    ignores: ClassVar[frozenset[type]] = frozenset({
        ApprovalGrants.Opened, ApprovalGrants.Granted, ApprovalGrants.Used,
        Budget.Allocated, Budget.Adjusted, Budget.ExpenseSubmitted, Budget.ExpenseApproved,
        Budget.ExpenseRejected, Budget.ExpenseSpent, Budget.SpendReversed, Claim.Claimed,
        Closings.Opened, Closings.MonthClosed, CommandRecord.Recorded,
        CommandRecord.RecordedFor, Customer.Registered, Customer.CreditTermsSet,
        Customer.AtRiskFlagged, Customer.SaleRecorded, Customer.ReturnRecorded,
        Customer.PaymentRecorded, Customer.PaymentReversed, Customer.ReceivableWrittenOff,
        PolicyBook.Opened, PolicyBook.PolicyAdopted, Rep.Registered, Rep.RankChanged,
        Rep.Fined, Rep.CommissionAccrued, Rep.CommissionPaid, Rep.FineReversed,
        Rep.PayoutReversed, Sku.Opened, Sku.ListPriceSet, User.Registered,
    })
    tables: ClassVar[dict[str, str]] = {
        "disputes": "dispute_id TEXT PRIMARY KEY, origin TEXT NOT NULL, entity TEXT NOT NULL, "
                    "entity_kind TEXT NOT NULL, period TEXT, claim TEXT NOT NULL, "
                    "event_refs TEXT NOT NULL, opened_by TEXT NOT NULL, opened_at TEXT, "
                    "opened_position BIGINT NOT NULL, status TEXT NOT NULL, outcome TEXT, "
                    "reason TEXT, resolved_by TEXT, resolved_at TEXT, resolved_position BIGINT, "
                    "correction_command_id TEXT",
    }
    indexes: ClassVar[dict[str, str]] = {
        "disputes_entity": "disputes(entity, status)",
        "disputes_origin": "disputes(origin)",
    }

    def _opened(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('disputes')} (dispute_id, origin, entity, entity_kind, period, "
            "claim, event_refs, opened_by, opened_at, opened_position, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (e.dispute_id, e.originator_id.hex, e.entity, e.entity_kind, e.period, e.claim,
             to_json(e.event_refs), e.opened_by, (e.meta or {}).get("occurred_at"), position, OPEN),
        )

    def _resolved(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"UPDATE {self.t('disputes')} SET status = ?, outcome = ?, reason = ?, resolved_by = ?, "
            "resolved_at = ?, resolved_position = ?, correction_command_id = ? WHERE origin = ?",
            (RESOLVED, e.outcome, e.reason, e.resolved_by, (e.meta or {}).get("occurred_at"),
             position, e.correction_command_id, e.originator_id.hex),
        )
        expect_rows(sql, 1, f"resolution of dispute aggregate {e.originator_id.hex}")


def _out(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "dispute_id": r["dispute_id"], "entity": r["entity"], "entity_kind": r["entity_kind"],
        "period": r["period"], "claim": r["claim"], "event_refs": from_json(r["event_refs"]),
        "status": r["status"], "opened_by": r["opened_by"], "opened_at": r["opened_at"],
        "opened_position": int(r["opened_position"]), "outcome": r["outcome"],
        "reason": r["reason"], "resolved_by": r["resolved_by"], "resolved_at": r["resolved_at"],
        "resolved_position": (int(r["resolved_position"]) if r["resolved_position"] is not None
                              else None),
        "correction_command_id": r["correction_command_id"],
    }


def _select(projector: Projector, where: str, params: tuple[Any, ...],
            sql: Sql | None = None) -> list[dict[str, Any]]:
    """The disputes ``where`` selects, in the order they were opened; read in ``sql``'s
    transaction when given (a statement's read shares its transaction)."""
    if sql is None:
        with projector.transaction(commit=False) as own:
            return _select(projector, where, params, own)
    p = projection_of(projector, DisputesProjection)
    rows = sql.all(f"SELECT * FROM {p.t('disputes')} {where} ORDER BY opened_position", params)
    return [_out(r) for r in rows]


def query_disputes(projector: Projector, entity: str | None = None,
                   open_only: bool = False) -> dict[str, Any]:
    """``ledger query disputes [--entity ID] [--open]``: the disputes (of one entity, and
    only the open ones if asked), in the order they were opened:
    ``{entity, open_only, open, resolved, disputes: [{dispute_id, entity, entity_kind,
    period, claim, event_refs, status, opened_by, opened_at, opened_position, outcome,
    reason, resolved_by, resolved_at, resolved_position, correction_command_id}]}``, and
    for a dispute resolved with a correction, ``correction``: the correcting command and
    the figures its events changed (``audit.correction_link``);
    ``open`` and ``resolved`` count the listed disputes by status. An entity no dispute is
    about answers an empty list (any id may be disputed later)."""
    clauses, params = [], []
    if entity is not None:
        clauses.append("entity = ?")
        params.append(entity)
    if open_only:
        clauses.append("status = ?")
        params.append(OPEN)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    disputes = _select(projector, where, tuple(params))
    for d in disputes:  # dispute -> correcting command -> changed figures (issue 10)
        if d["correction_command_id"]:
            d["correction"] = correction_link(projector, d["correction_command_id"])
    return {"entity": entity, "open_only": open_only,
            "open": sum(1 for d in disputes if d["status"] == OPEN),
            "resolved": sum(1 for d in disputes if d["status"] == RESOLVED),
            "disputes": disputes}


def open_disputes_of(projector: Projector, rep_id: str, period: str,
                     sql: Sql | None = None) -> list[dict[str, Any]] | None:
    """The open disputes of one rep and month, for the commission statement (SPEC 5.3):
    the disputes whose entity is the rep and whose period is the month (read in ``sql``'s
    transaction when given). None when the projector does not keep this projection (a
    projector built for other views)."""
    if not any(isinstance(p, DisputesProjection) for p in projector.projections):
        return None
    return _select(projector, "WHERE entity = ? AND period = ? AND status = ?",
                   (rep_id, period, OPEN), sql)
