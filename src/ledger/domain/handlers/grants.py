"""``GrantApproval``: an approver grants, with their own command, an approval that a later
command names them for (SPEC 1 Approvals, SPEC 5.2).

Kinds, subjects and limits (the subject is the id the approved command carries; ``limit``
is the most the grant covers, optional):

=============================  ===========================  =============  =====================
kind                           approved by                  subject        limit
=============================  ===========================  =============  =====================
price_within_manager_limit     RecordSale price_approved_by sale_id        largest line discount
price_above_manager_limit      RecordSale price_approved_by sale_id        (a rate: ``"0.15"``)
credit_override                RecordSale credit_approved_by sale_id       the sale's gross (fen)
credit_terms                   SetCreditTerms               customer_id    credit_limit (fen)
list_price                     SetListPrice                 sku            unit_price (fen)
return                         RecordReturn                 return_id      amount (fen)
write_off                      WriteOffReceivable           writeoff_id    amount (fen)
budget                         AllocateBudget, AdjustBudget budget_id      amount, or |delta|
fine                           FineRep                      fine_id        amount (fen)
=============================  ===========================  =============  =====================

A ``price_within_manager_limit`` grant covers only a discount within the manager limit in
force; a ``price_above_manager_limit`` grant covers any. Kinds whose approver is the actor
of the decision itself (``expense``, ``expense_rejection``, ``rank_change``,
``late_activity``) take no grant: that actor acts with their own key.
"""

from __future__ import annotations

from typing import Any

from ledger.domain import authority
from ledger.domain.commands import GrantApproval
from ledger.domain.errors import invalid
from ledger.domain.handlers.context import Context
from ledger.domain.model.grants import RATE_KINDS, ApprovalGrants, grants_key
from ledger.domain.money import format_rate, parse_rate
from ledger.domain.policies import DEFAULT_POLICIES

MAX_FEN = 10**13  # SPEC 1 Conventions: every amount is at most 10^13 fen
# approvals keys that are no approver named by someone else
NOT_GRANTABLE = frozenset({"mode", "late_activity", *authority.ACTOR_APPROVES.values()})
APPROVAL = "approval"  # the claim kind of an approval_id


def grantable_kinds(values: dict[str, Any]) -> list[str]:
    keys = set(DEFAULT_POLICIES["approvals"]) | set(values)
    return sorted(k for k in keys if k not in NOT_GRANTABLE)


def grant_approval(ctx: Context) -> dict[str, Any]:
    cmd: GrantApproval = ctx.cmd  # type: ignore[assignment]
    # invalid_field: the kind, the limit's shape, the expiry
    kinds = grantable_kinds(ctx.policy("approvals").values)
    if cmd.kind not in kinds:
        raise invalid("kind", f"{cmd.kind!r} is not an approval a command names an approver for",
                      allowed=kinds)
    limit: int | str | None = cmd.limit
    if cmd.kind in RATE_KINDS and limit is not None:
        if not isinstance(limit, str):
            raise invalid("limit", f"a {cmd.kind} limit is a discount rate as a decimal string "
                                   f"(\"0.15\"), got {limit!r}")
        try:
            rate = parse_rate(limit)
        except ValueError as e:
            raise invalid("limit", str(e)) from None
        if not (0 <= rate < 1):
            raise invalid("limit", f"a discount must be in [0, 1), got {limit!r}")
        limit = format_rate(rate)
    elif limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise invalid("limit", f"a {cmd.kind} limit is an amount in fen, got {limit!r}")
        if not (0 <= limit <= MAX_FEN):
            raise invalid("limit", f"must be in 0..{MAX_FEN} fen, got {limit}", limit=limit)
    moment = max(ctx.occurred_at, ctx.recorded_at)
    if cmd.expires_at <= moment:
        raise invalid("expires_at", f"{cmd.expires_at.isoformat()} is not after "
                                    f"{moment.isoformat()}: the grant would be expired already",
                      expires_at=cmd.expires_at.isoformat(), now=moment.isoformat())
    # unknown_reference, duplicate_id
    actor = ctx.actor()
    ctx.unclaimed(APPROVAL, cmd.approval_id)
    # not_authorized: the actor holds a role the approvals policy names for the kind
    authority.check_actor(ctx.name, actor.user_id, actor.roles, ctx.approvers(cmd.kind))
    grants = ctx.uow.get(ApprovalGrants, actor.user_id, cmd.kind, cmd.subject)
    if grants is None:
        grants = ApprovalGrants(approver=actor.user_id, kind=cmd.kind, subject=cmd.subject)
    grants.grant(approval_id=cmd.approval_id, kind=cmd.kind, subject=cmd.subject, limit=limit,
                 expires_at=cmd.expires_at.isoformat(), granted_by=actor.user_id, meta=ctx.meta)
    ctx.uow.add(grants)
    ctx.claim(APPROVAL, cmd.approval_id, ApprovalGrants.KIND,
              grants_key(actor.user_id, cmd.kind, cmd.subject))
    return {"approval_id": cmd.approval_id, "kind": cmd.kind, "subject": cmd.subject,
            "limit": limit, "expires_at": cmd.expires_at.isoformat()}
