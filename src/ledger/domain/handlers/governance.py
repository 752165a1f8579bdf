"""Policies and disputes (SPEC 1 Policy versions, SPEC 5.2 AdoptPolicy, disputes)."""

from __future__ import annotations

from typing import Any

from ledger.domain.commands import AdoptPolicy, OpenDispute, ResolveDispute
from ledger.domain.errors import Rejection, duplicate, unknown
from ledger.domain.handlers.context import Context, month_field, require_text
from ledger.domain.model import Budget, Claim, Customer, Dispute, Rep
from ledger.domain.model.records import AmbiguousCommand, applied_command
from ledger.domain.policies import PolicyBook, validate_policy_values


def adopt_policy(ctx: Context) -> dict[str, Any]:
    cmd: AdoptPolicy = ctx.cmd  # type: ignore[assignment]
    values = validate_policy_values(cmd.policy, cmd.values)
    ctx.actor()
    book = ctx.uow.get(PolicyBook) or PolicyBook()
    if book.has_version(cmd.policy, cmd.version):
        raise duplicate(f"{cmd.policy} version", cmd.version)
    ctx.authorize()
    book.adopt(cmd.policy, cmd.version, cmd.effective_from, values, ctx.meta)
    ctx.uow.add(book)
    return {"policy": cmd.policy, "version": cmd.version,
            "effective_from": cmd.effective_from.isoformat()}


def _entity_kind(ctx: Context, entity: str) -> str:
    if ctx.uow.get(Rep, entity) is not None:
        return "rep"
    if ctx.uow.get(Claim, "sale", entity) is not None:
        return "sale"
    if ctx.uow.get(Customer, entity) is not None:
        return "customer"
    if ctx.uow.get(Budget, entity) is not None:
        return "budget"
    raise unknown("rep, sale, customer or budget", entity, "entity")


def open_dispute(ctx: Context) -> dict[str, Any]:
    cmd: OpenDispute = ctx.cmd  # type: ignore[assignment]
    require_text(cmd.claim, "claim")
    if cmd.period is not None:
        month_field(cmd.period)
    ctx.actor()
    kind = _entity_kind(ctx, cmd.entity)
    ctx.absent(Dispute, cmd.dispute_id, "dispute")
    actor = ctx.authorize()
    ctx.uow.add(Dispute(
        dispute_id=cmd.dispute_id, entity=cmd.entity, entity_kind=kind, period=cmd.period,
        claim=cmd.claim, event_refs=list(cmd.event_refs or ()), opened_by=actor.user_id,
        meta=ctx.meta,
    ))
    return {"dispute_id": cmd.dispute_id, "entity_kind": kind, "status": "open"}


def resolve_dispute(ctx: Context) -> dict[str, Any]:
    cmd: ResolveDispute = ctx.cmd  # type: ignore[assignment]
    require_text(cmd.reason, "reason")
    ctx.actor()
    dispute = ctx.require(Dispute, cmd.dispute_id, "dispute_id")
    # the correcting command, when named, must be an applied command (SPEC 2.7)
    if cmd.correction_command_id is not None:
        try:
            correction = applied_command(ctx.uow, cmd.correction_command_id, cmd.correction_actor)
        except AmbiguousCommand:  # several users used that id: any of them corrects
            correction = True  # type: ignore[assignment]
        if correction is None:
            raise unknown("applied command", cmd.correction_command_id, "correction_command_id")
    actor = ctx.authorize()
    if actor.user_id == dispute.opened_by:
        raise Rejection(
            "segregation_of_duties",
            f"{actor.user_id!r} opened dispute {cmd.dispute_id!r} and cannot resolve it",
            field="actor", user=actor.user_id,
        )
    if dispute.status != "open":
        raise Rejection("invalid_state", f"dispute {cmd.dispute_id!r} is already {dispute.status}",
                        dispute_id=cmd.dispute_id, status=dispute.status)
    dispute.resolve(outcome=cmd.outcome, reason=cmd.reason,
                    correction_command_id=cmd.correction_command_id, resolved_by=actor.user_id,
                    meta=ctx.meta)
    ctx.uow.add(dispute)
    return {"dispute_id": cmd.dispute_id, "status": "resolved", "outcome": cmd.outcome}
