"""Users, customers, list prices and reps (SPEC 1 Actors, SPEC 2.1, SPEC 2.5)."""

from __future__ import annotations

from typing import Any

from ledger.domain import authority
from ledger.domain.commands import (
    FlagCustomerAtRisk,
    RegisterCustomer,
    RegisterRep,
    RegisterUser,
    SetCreditTerms,
    SetListPrice,
)
from ledger.domain.commission_plan import RANKS
from ledger.domain.errors import duplicate, invalid
from ledger.domain.handlers.context import Context, require_text
from ledger.domain.model import Customer, Rep, Sku, User


def register_user(ctx: Context) -> dict[str, Any]:
    cmd: RegisterUser = ctx.cmd  # type: ignore[assignment]
    bad = sorted(set(cmd.roles) - set(authority.ROLES))
    if bad:
        raise invalid("roles", f"unknown roles {bad}", allowed=list(authority.ROLES))
    ctx.actor()
    if cmd.user_id == authority.ADMIN_USER:
        raise duplicate("user", cmd.user_id)
    ctx.absent(User, cmd.user_id, "user")
    ctx.authorize()
    ctx.uow.add(User(user_id=cmd.user_id, name=cmd.name, roles=sorted(set(cmd.roles)), meta=ctx.meta))
    return {"user_id": cmd.user_id}


def register_customer(ctx: Context) -> dict[str, Any]:
    cmd: RegisterCustomer = ctx.cmd  # type: ignore[assignment]
    ctx.actor()
    ctx.absent(Customer, cmd.customer_id, "customer")
    ctx.authorize()
    # default terms are a decision under the credit policy (SPEC 1): consulted, so recorded
    terms = (cmd.payment_terms_days if cmd.payment_terms_days is not None
             else ctx.policy("credit").values["payment_terms_days"])
    ctx.uow.add(Customer(
        customer_id=cmd.customer_id, name=cmd.name, credit_limit=cmd.credit_limit,
        payment_terms_days=terms, region=cmd.region, meta=ctx.meta,
    ))
    return {"customer_id": cmd.customer_id, "payment_terms_days": terms}


def set_credit_terms(ctx: Context) -> dict[str, Any]:
    cmd: SetCreditTerms = ctx.cmd  # type: ignore[assignment]
    ctx.actor()
    customer = ctx.require(Customer, cmd.customer_id, "customer_id")
    approver = ctx.user(cmd.approved_by, "approved_by")
    actor = ctx.authorize()
    authority.check_approver("credit terms", approver.user_id, approver.roles,
                             ctx.approvers("SetCreditTerms"))
    ctx.approval("approved_by", approver.user_id, ("credit_terms",), cmd.customer_id,
                 cmd.credit_limit)
    authority.check_segregation(approver.user_id, actor=actor.user_id, what="credit terms")
    customer.set_credit_terms(
        credit_limit=cmd.credit_limit, payment_terms_days=cmd.payment_terms_days,
        effective_on=ctx.day.isoformat(), approved_by=approver.user_id, meta=ctx.meta,
    )
    ctx.uow.add(customer)
    return {"customer_id": cmd.customer_id, "effective_on": ctx.day.isoformat()}


def flag_customer_at_risk(ctx: Context) -> dict[str, Any]:
    cmd: FlagCustomerAtRisk = ctx.cmd  # type: ignore[assignment]
    require_text(cmd.reason, "reason")
    ctx.actor()
    customer = ctx.require(Customer, cmd.customer_id, "customer_id")
    ctx.authorize()
    customer.flag_at_risk(at_risk=cmd.at_risk, reason=cmd.reason, meta=ctx.meta)
    ctx.uow.add(customer)
    return {"customer_id": cmd.customer_id, "at_risk": cmd.at_risk}


def set_list_price(ctx: Context) -> dict[str, Any]:
    cmd: SetListPrice = ctx.cmd  # type: ignore[assignment]
    ctx.actor()
    approver = ctx.user(cmd.approved_by, "approved_by")
    actor = ctx.authorize()
    authority.check_approver("a list price", approver.user_id, approver.roles,
                             ctx.approvers("SetListPrice"))
    ctx.approval("approved_by", approver.user_id, ("list_price",), cmd.sku, cmd.unit_price)
    authority.check_segregation(approver.user_id, actor=actor.user_id, what="a list price")
    sku = ctx.uow.get(Sku, cmd.sku) or Sku(sku=cmd.sku)
    sku.set_list_price(unit_price=cmd.unit_price, effective_from=cmd.effective_from.isoformat(),
                       approved_by=approver.user_id, meta=ctx.meta)
    ctx.uow.add(sku)
    return {"sku": cmd.sku, "effective_from": cmd.effective_from.isoformat()}


def register_rep(ctx: Context) -> dict[str, Any]:
    cmd: RegisterRep = ctx.cmd  # type: ignore[assignment]
    if cmd.rank not in RANKS:
        raise invalid("rank", f"unknown rank {cmd.rank!r}", allowed=list(RANKS))
    ctx.actor()
    if cmd.trainer_id is not None:
        ctx.require(Rep, cmd.trainer_id, "trainer_id", "rep")
    if cmd.user_id is not None:
        ctx.user(cmd.user_id, "user_id")
    ctx.absent(Rep, cmd.rep_id, "rep")
    ctx.authorize()
    ctx.uow.add(Rep(
        rep_id=cmd.rep_id, name=cmd.name, rank=cmd.rank, trainer_id=cmd.trainer_id,
        region=cmd.region, user_id=cmd.user_id, effective_from=ctx.day.isoformat(), meta=ctx.meta,
    ))
    return {"rep_id": cmd.rep_id, "rank": cmd.rank}
