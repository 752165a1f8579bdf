"""Sales, returns, payments and write-offs (SPEC 2.1, 2.2, 2.3)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from ledger.domain import authority
from ledger.domain.calendar import month_of, plus_days
from ledger.domain.commands import RecordPayment, RecordReturn, RecordSale, WriteOffReceivable
from ledger.domain.credit import credit_check, enforce_credit
from ledger.domain.errors import Rejection, invalid
from ledger.domain.handlers.context import Context, require_text
from ledger.domain.model import Claim, Closings, Customer, Rep, Sku
from ledger.domain.money import exact, format_rate, parse_rate
from ledger.domain.pricing import check_price_approval, largest_discount, price_line
from ledger.domain.receivables import Receivable, allocate_payment

INVOICE = "invoice"  # the claim kind of a sale's invoice number: unique among sales


def _closed_period_flag(ctx: Context, day_period: str) -> bool:
    """A fact dated in a month that is already closed is accepted and flagged; its effect
    lands as an adjustment in the next close (SPEC 5.3, default)."""
    closings = ctx.uow.get(Closings)
    return bool(closings and closings.is_closed(day_period))


@lru_cache(maxsize=1024)
def _rate(text: str) -> tuple[Decimal, str]:
    """A rate's text parsed, and in shortest form (``parse_rate``, ``format_rate``):
    a sale's few distinct rates, parsed once."""
    rate = parse_rate(text)
    return rate, format_rate(rate)


def record_sale(ctx: Context) -> dict[str, Any]:
    cmd: RecordSale = ctx.cmd  # type: ignore[assignment]
    pricing = ctx.policy("price_approval")
    rates: list[str] = []
    for i, line in enumerate(cmd.lines):
        text = line.tax_rate if line.tax_rate is not None else pricing.values["default_tax_rate"]
        try:
            rate, shortest = _rate(text)
        except ValueError as e:
            raise invalid(f"lines[{i}].tax_rate", str(e)) from None
        if not (0 <= rate < 1):
            raise invalid(f"lines[{i}].tax_rate", f"must be in [0, 1), got {text!r}")
        rates.append(shortest)
    # unknown_reference
    ctx.actor()
    customer = ctx.require(Customer, cmd.customer_id, "customer_id")
    rep = ctx.require(Rep, cmd.rep_id, "rep_id")
    list_prices: list[int] = []
    for i, line in enumerate(cmd.lines):
        sku = ctx.uow.get(Sku, line.sku)
        price = sku.price_on(ctx.day) if sku else None
        if price is None:
            raise Rejection(
                "unknown_reference",
                f"lines[{i}].sku: no list price for {line.sku!r} in force on {ctx.day}",
                kind="sku", ref=line.sku, field=f"lines[{i}].sku",
            )
        list_prices.append(price)
    price_approver = ctx.user(cmd.price_approved_by, "price_approved_by") if cmd.price_approved_by else None
    credit_approver = ctx.user(cmd.credit_approved_by, "credit_approved_by") if cmd.credit_approved_by else None
    # duplicate_id: the sale id, and its invoice number among recorded sales (SPEC 2.2)
    ctx.unclaimed("sale", cmd.sale_id)
    invoice = ctx.uow.get(Claim, INVOICE, cmd.invoice_no)
    if invoice is not None:
        raise Rejection(
            "duplicate_id",
            f"invoice_no: invoice {cmd.invoice_no!r} is already on sale {invoice.owner_id!r}",
            field="invoice_no", kind="invoice", ref=cmd.invoice_no, sale_id=invoice.owner_id,
        )
    # not_authorized: the actor; the credit approver's fixed role; a price approver whose
    # roles may approve no price at all, even on a sale at list price (SPEC 2.2; a role
    # that covers a smaller discount than the sale's is ``price_approval``, below)
    actor = ctx.authorize()
    if price_approver is not None:
        authority.check_approver(
            "a price below list", price_approver.user_id, price_approver.roles,
            ctx.approvers("price_within_manager_limit") | ctx.approvers("price_above_manager_limit"),
            field="price_approved_by")
    if credit_approver is not None:
        authority.check_approver("a credit override", credit_approver.user_id, credit_approver.roles,
                                 ctx.approvers("credit_override"), field="credit_approved_by")
    # ... and, under approvals.mode = granted, each approver granted it (SPEC 1 Approvals):
    # a price grant covers the sale's largest line discount (a within-limit grant only a
    # discount the manager limit allows), a credit grant the sale's gross
    lines = [
        price_line(line.sku, line.quantity, line.unit_price, rates[i], list_prices[i])
        for i, line in enumerate(cmd.lines)
    ]
    if price_approver is not None:
        discount, _ = largest_discount(lines)
        kinds = (("price_within_manager_limit", "price_above_manager_limit")
                 if discount <= exact(pricing.values["manager_max_discount"])
                 else ("price_above_manager_limit",))
        ctx.approval("price_approved_by", price_approver.user_id, kinds, cmd.sale_id, discount)
    if credit_approver is not None:
        ctx.approval("credit_approved_by", credit_approver.user_id, ("credit_override",),
                     cmd.sale_id, sum(line.gross for line in lines))
    # segregation_of_duties: no approver approves their own sale or their own rep's sale
    for approver, fname in ((price_approver, "price_approved_by"), (credit_approver, "credit_approved_by")):
        if approver is not None:
            authority.check_segregation(approver.user_id, actor=actor.user_id,
                                        beneficiary_user=rep.user_id, what="this sale", field=fname)
    # price_approval (SPEC 2.1)
    approvals = ctx.policy("approvals")
    tier = check_price_approval(
        lines, price_approver.user_id if price_approver else None,
        frozenset(price_approver.roles) if price_approver else frozenset(), pricing.values,
        pricing.version, approvals.values,
    )
    # credit_limit (SPEC 2.1): terms and limit in force on the sale's date
    credit_policy = ctx.policy("credit")
    aging = ctx.policy("aging")
    limit, terms_days = customer.terms_on(ctx.day)
    gross = sum(line.gross for line in lines)
    check = credit_check(
        limit=limit, open_total=customer.open_total, sale_gross=gross,
        customer_credit=customer.credit, at_risk=customer.at_risk,
        doubtful=customer.doubtful(ctx.day, aging.values),
    )
    override_used = enforce_credit(check, credit_approver.user_id if credit_approver else None, cmd.customer_id)
    credit_applied = min(customer.credit, gross)
    due_on = plus_days(ctx.day, terms_days)
    discount, _ = largest_discount(lines)
    late_for_closed = _closed_period_flag(ctx, month_of(ctx.day))
    customer.record_sale(
        sale_id=cmd.sale_id, rep_id=cmd.rep_id, invoice_no=cmd.invoice_no,
        invoice_date=ctx.day.isoformat(), due_on=due_on.isoformat(),
        lines=[line.as_event() for line in lines], gross=gross,
        vat=sum(line.vat for line in lines), credit_applied=credit_applied,
        price_approved_by=price_approver.user_id if price_approver else None,
        credit_approved_by=credit_approver.user_id if credit_approver else None,
        checks={
            "largest_discount": format_rate(discount), "price_tier": tier,
            "credit_limit": limit, "exposure": check.exposure, "shortfall": check.shortfall,
            "credit_override": override_used, "at_risk": check.at_risk, "doubtful": check.doubtful,
            "payment_terms_days": terms_days, "closed_period": late_for_closed,
        },
        policy={"price_approval": pricing.version, "credit": credit_policy.version,
                "aging": aging.version, "approvals": approvals.version},
        meta=ctx.meta,
    )
    ctx.claim("sale", cmd.sale_id, "customer", cmd.customer_id)
    ctx.claim(INVOICE, cmd.invoice_no, "sale", cmd.sale_id)
    ctx.uow.add(customer)
    return {
        "sale_id": cmd.sale_id, "gross": gross, "vat": sum(line.vat for line in lines),
        "due_on": due_on.isoformat(), "credit_applied": credit_applied,
        "exposure": check.exposure, "closed_period": late_for_closed,
    }


def _approved_decision_on_sale(ctx: Context, sale_id: str, approved_by: str, kind: str,
                               business_id: str, what: str,
                               amount: int) -> tuple[Customer, Receivable, Any]:
    """The checks a return and a write-off share, in the order of SPEC 5.2: the sale and
    approver exist (and the fact is not dated before the sale), the id is new, the actor
    and approver hold their roles, and neither approves a decision about their own rep."""
    ctx.actor()
    claim = ctx.owner("sale", sale_id, "sale_id")
    approver = ctx.user(approved_by, "approved_by")
    customer = ctx.require(Customer, claim.owner_id, "sale_id")
    item = customer.receivables[sale_id]
    if ctx.day < item.invoice_date:
        raise invalid(
            "occurred_at",
            f"a {what} of sale {item.sale_id!r} dated {ctx.day} is before the sale's invoice "
            f"date {item.invoice_date}",
            business_date=ctx.day.isoformat(), invoice_date=item.invoice_date.isoformat(),
        )
    ctx.unclaimed(kind, business_id)
    actor = ctx.authorize()
    authority.check_approver(f"a {what}", approver.user_id, approver.roles,
                             ctx.approvers(ctx.name))
    ctx.approval("approved_by", approver.user_id, (authority.APPROVAL_OF[ctx.name],),
                 business_id, amount)
    rep = ctx.uow.get(Rep, item.rep_id)
    authority.check_segregation(approver.user_id, actor=actor.user_id,
                                beneficiary_user=rep.user_id if rep else None, what=f"this {what}")
    return customer, item, approver


def record_return(ctx: Context) -> dict[str, Any]:
    cmd: RecordReturn = ctx.cmd  # type: ignore[assignment]
    require_text(cmd.reason, "reason")
    customer, item, approver = _approved_decision_on_sale(
        ctx, cmd.sale_id, cmd.approved_by, "return", cmd.return_id, "return", cmd.amount)
    figures = customer.return_goods(
        return_id=cmd.return_id, sale_id=cmd.sale_id, amount=cmd.amount,
        approved_by=approver.user_id, reason=cmd.reason, meta=ctx.meta,
    )
    ctx.claim("return", cmd.return_id, "customer", customer.customer_id)
    ctx.uow.add(customer)
    return {"return_id": cmd.return_id, **figures,
            "closed_period": _closed_period_flag(ctx, month_of(ctx.day))}


def record_payment(ctx: Context) -> dict[str, Any]:
    cmd: RecordPayment = ctx.cmd  # type: ignore[assignment]
    allocations = [(a.sale_id, a.amount) for a in cmd.allocations or ()]
    seen: set[str] = set()
    for i, (sale_id, _) in enumerate(allocations):
        if sale_id in seen:
            raise invalid(f"allocations[{i}].sale_id", f"sale {sale_id!r} is allocated twice")
        seen.add(sale_id)
    ctx.actor()
    customer = ctx.require(Customer, cmd.customer_id, "customer_id")
    foreign: list[tuple[str, str]] = []
    for i, (sale_id, _) in enumerate(allocations):
        claim = ctx.owner("sale", sale_id, f"allocations[{i}].sale_id")
        if claim.owner_id != cmd.customer_id:
            foreign.append((sale_id, claim.owner_id))
    ctx.unclaimed("payment", cmd.payment_id)
    ctx.authorize()
    if foreign:
        sale_id, owner = foreign[0]
        asked = dict(allocations)[sale_id]
        raise Rejection(
            "overpayment_allocation",
            f"sale {sale_id!r} belongs to customer {owner!r}, not {cmd.customer_id!r}",
            sale_id=sale_id, customer_id=owner, open=0, asked=asked,
        )
    candidates = dict(customer.active)
    for sale_id, _ in allocations:  # a settled sale allocated again: open 0, so rejected
        candidates.setdefault(sale_id, customer.receivables[sale_id])
    applied, to_credit = allocate_payment(cmd.amount, candidates, allocations)
    customer.record_payment(
        payment_id=cmd.payment_id, amount=cmd.amount, received_on=cmd.received_on.isoformat(),
        applied=applied, to_credit=to_credit, meta=ctx.meta,
    )
    ctx.claim("payment", cmd.payment_id, "customer", cmd.customer_id)
    ctx.uow.add(customer)
    return {"payment_id": cmd.payment_id, "applied": applied, "to_credit": to_credit}


def write_off_receivable(ctx: Context) -> dict[str, Any]:
    cmd: WriteOffReceivable = ctx.cmd  # type: ignore[assignment]
    require_text(cmd.reason, "reason")
    customer, item, approver = _approved_decision_on_sale(
        ctx, cmd.sale_id, cmd.approved_by, "writeoff", cmd.writeoff_id, "write-off", cmd.amount)
    item = customer.write_off_open(writeoff_id=cmd.writeoff_id, sale_id=cmd.sale_id,
                                   amount=cmd.amount, approved_by=approver.user_id,
                                   reason=cmd.reason, meta=ctx.meta)
    ctx.claim("writeoff", cmd.writeoff_id, "customer", customer.customer_id)
    ctx.uow.add(customer)
    return {"writeoff_id": cmd.writeoff_id, "open_after": item.open,
            "closed_period": _closed_period_flag(ctx, month_of(ctx.day))}
