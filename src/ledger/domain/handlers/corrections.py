"""Corrections: ``Reverse`` (SPEC 2.7, SPEC 5.2).

A fact recorded by mistake is undone by a new event that names the applied command it
reverses; the original stays in the log. ``Reverse`` reverses four kinds of command:

- ``RecordPayment`` -> ``Customer.PaymentReversed``: every application the payment made
  is taken back (settlements, FIFO included, reopen the sales with their original due
  dates; recoveries become unrecovered written-off amounts again) and the customer credit
  it created is removed. If that credit has been used since (a sale took from the
  payment's own credit lot, the customer's lots taken oldest first as the projections
  date them, ``credit_pieces``; or the customer's credit balance is below it),
  ``exceeds_open_amount``; so is a payment whose settled money has
  since become customer credit through a return of the sale it paid.
- ``FineRep`` -> ``Rep.FineReversed``: the fine leaves the statement of its month; if that
  month is closed, the next close books it as a late adjustment (``commission_month``).
- ``RecordExpenseSpend`` -> ``Budget.SpendReversed``: the expense is approved again and its
  commitment is back; if that would take committed + spent above allocated (a smaller
  spend than approved, the room since used), ``budget_exceeded``.
- ``PayCommission`` -> ``Rep.PayoutReversed``: the period's balance is payable again.

Rules in the order of SPEC 5.2: ``invalid_field`` (reason; a reversal dated before the
fact it reverses, or, for a payment, before a sale it settled), ``unknown_reference``
(actor, target command, approver), ``duplicate_id`` (``reversal_id``), ``not_authorized``
(actor ``finance``; approver per policy ``approvals``, key ``reversal_<kind>``; for a
target that is not reversible, any role that may approve some reversal),
``segregation_of_duties`` (the approver is not the actor; nobody reverses or approves
reversing a fine of their own rep account; the approver of a spend's reversal is not the
expense's submitter), ``invalid_state`` (a command of another kind, or one already
reversed), then the amount rules above.

A reversal's business date R is its own ``occurred_at`` in company time: the projections
and the general ledger undo the payment's, spend's or payout's dated effects from R on
(each row on the later of its date and R: a join of the payment still to come nets to
nothing when it comes), and a sale's reopened amount counts from then, so a fact taking
from it later joins the reopening (SPEC 1). A fine's reversal counts on the fine's own
date, in the commissions (the fine leaves its month, or is a late fact of it) and in the
general ledger alike.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.domain import authority
from ledger.domain.budgeting import SPENT, Figures, check_within_budget
from ledger.domain.calendar import month_of
from ledger.domain.commands import Reverse
from ledger.domain.errors import Rejection, invalid, unknown
from ledger.domain.handlers.context import Context, require_text
from ledger.domain.model import Budget, Claim, Closings, Customer, Rep
from ledger.domain.model.records import (
    AmbiguousCommand,
    AppliedCommand,
    applied_command,
    idempotency_key,
)
from ledger.domain.policies import DEFAULT_POLICIES

# the business id a reversible command's answer names, and the claim kind that holds it
TARGET_ID = {
    "RecordPayment": ("payment_id", "payment"),
    "FineRep": ("fine_id", "fine"),
    "RecordExpenseSpend": ("expense_id", "expense"),
    "PayCommission": ("payout_id", "payout"),
}
REVERSED = "reversed"  # claim kind: a target command already reversed (by command id)


def _approvers(ctx: Context, key: str) -> frozenset[str]:
    """Roles the ``approvals`` policy in force names for ``key``; a version adopted before
    the reversal keys existed answers the default for them."""
    values = ctx.policy("approvals").values
    return frozenset(values.get(key, DEFAULT_POLICIES["approvals"][key]))


def _not_before(ctx: Context, day: date, what: str) -> None:
    if ctx.day < day:
        raise invalid(
            "occurred_at",
            f"a reversal dated {ctx.day} is before the {what} it reverses, dated {day}",
            business_date=ctx.day.isoformat(), target_date=day.isoformat(),
        )


def _closed(ctx: Context, day: date) -> bool:
    closings = ctx.uow.get(Closings)
    return bool(closings and closings.is_closed(month_of(day)))


def reversed_key(target: AppliedCommand) -> str:
    """The claim that a command is reversed: one per actor's command (SPEC 1: a command
    is the actor's and its command_id)."""
    return idempotency_key(target.actor, target.command_id)


def reverse(ctx: Context) -> dict[str, Any]:
    cmd: Reverse = ctx.cmd  # type: ignore[assignment]
    require_text(cmd.reason, "reason")
    # unknown_reference: the actor, the target command, the approver
    ctx.actor()
    try:
        target = applied_command(ctx.uow, cmd.target_command_id, cmd.target_actor)
    except AmbiguousCommand as e:
        raise Rejection(
            "invalid_field",
            f"target_actor: several users applied a command {cmd.target_command_id!r} "
            f"({', '.join(e.actors)}); name the one reversed in target_actor",
            field="target_actor", actors=e.actors) from None
    if target is None:
        raise unknown("command", cmd.target_command_id, "target_command_id")
    approver = ctx.user(cmd.approved_by, "approved_by")
    reversible = target.command in TARGET_ID
    owner: Any = None
    business_id = ""
    if reversible:
        id_field, claim_kind = TARGET_ID[target.command]
        business_id = target.answer["result"][id_field]
        claim = ctx.owner(claim_kind, business_id, "target_command_id")
        owner_cls = {"customer": Customer, "rep": Rep, "budget": Budget}[claim.owner_kind]
        owner = ctx.require(owner_cls, claim.owner_id, "target_command_id")  # type: ignore[arg-type]
        _check_dates(ctx, target.command, owner, business_id)
    # duplicate_id
    ctx.unclaimed("reversal", cmd.reversal_id)
    # not_authorized: the actor holds finance; the approver the role of the reversal's kind
    actor = ctx.authorize()
    if reversible:
        allowed = _approvers(ctx, authority.REVERSAL_APPROVAL_OF[target.command])
        what = f"a reversal of {target.command} {cmd.target_command_id!r}"
    else:
        allowed = frozenset().union(*(_approvers(ctx, k)
                                      for k in authority.REVERSAL_APPROVAL_OF.values()))
        what = "a reversal"
    authority.check_approver(what, approver.user_id, approver.roles, allowed)
    if reversible:  # SPEC 1 Approvals: attested, or under `granted` the approver's grant
        ctx.approval("approved_by", approver.user_id,
                     (authority.REVERSAL_APPROVAL_OF[target.command],), cmd.reversal_id)
    # segregation_of_duties
    authority.check_segregation(approver.user_id, actor=actor.user_id, what=what)
    if target.command == "FineRep":
        for decider, field in ((approver.user_id, "approved_by"), (actor.user_id, "actor")):
            authority.check_segregation(decider, beneficiary_user=owner.user_id, what=what,
                                        field=field)
    if target.command == "RecordExpenseSpend":
        authority.check_segregation(approver.user_id,
                                    actor=owner.expenses[business_id].submitted_by,
                                    what=f"{what} (the expense they submitted)")
    # invalid_state: another kind of command, or one already reversed
    if not reversible:
        raise Rejection(
            "invalid_state",
            f"command {cmd.target_command_id!r} is a {target.command}: only "
            f"{', '.join(sorted(TARGET_ID))} can be reversed",
            target_command_id=cmd.target_command_id, command=target.command,
            reversible=sorted(TARGET_ID),
        )
    earlier = ctx.uow.get(Claim, REVERSED, reversed_key(target))
    if earlier is not None:
        raise Rejection(
            "invalid_state",
            f"command {cmd.target_command_id!r} ({target.command}) is already reversed by "
            f"reversal {earlier.owner_id!r}",
            target_command_id=cmd.target_command_id, reversal_id=earlier.owner_id,
        )
    common = {"reversal_id": cmd.reversal_id, "target_command_id": cmd.target_command_id,
              "reason": cmd.reason, "approved_by": approver.user_id,
              "policy": {"approvals": ctx.policy("approvals").version}, "meta": ctx.meta}
    result = {"reversal_id": cmd.reversal_id, "target_command_id": cmd.target_command_id,
              "reversed": target.command, claim_kind: business_id}
    if target.command == "RecordPayment":
        result.update(_reverse_payment(ctx, owner, business_id, common))
    elif target.command == "FineRep":
        result.update(_reverse_fine(ctx, owner, business_id, common))
    elif target.command == "RecordExpenseSpend":
        result.update(_reverse_spend(ctx, owner, business_id, common))
    else:
        result.update(_reverse_payout(ctx, owner, business_id, common))
    ctx.uow.add(owner)
    ctx.claim("reversal", cmd.reversal_id, claim.owner_kind, claim.owner_id)
    ctx.claim(REVERSED, reversed_key(target), "reversal", cmd.reversal_id)
    return result


def _check_dates(ctx: Context, command: str, owner: Any, business_id: str) -> None:
    """A reversal may not be dated before what it reverses (nor, for a payment, before a
    sale it settled: the reopening counts from the later of the two dates)."""
    if command == "RecordPayment":
        payment = owner.payments[business_id]
        _not_before(ctx, date.fromisoformat(payment["received_on"]), "payment")
        for a in payment["applied"]:
            _not_before(ctx, owner.receivables[a["sale_id"]].invoice_date,
                        f"sale {a['sale_id']!r} that the payment settled and")
    elif command == "FineRep":
        _not_before(ctx, date.fromisoformat(owner.fine_days[business_id]), "fine")
    elif command == "PayCommission":
        _not_before(ctx, date.fromisoformat(owner.payout_days[business_id]), "payout")
    else:
        expense = owner.expenses[business_id]
        if expense.paid_on is not None:
            _not_before(ctx, expense.paid_on, "expense spend")


def _reverse_payment(ctx: Context, customer: Customer, payment_id: str,
                     common: dict[str, Any]) -> dict[str, Any]:
    payment = customer.payments[payment_id]
    to_credit = payment["to_credit"]
    # the credit it created must be all there: not taken by a sale since (its own lot, as
    # the projections date credit: ``credit_pieces``), nor otherwise spent
    used = max(customer.credit_lot_used(payment_id), to_credit - customer.credit)
    if used > 0:
        raise Rejection(
            "exceeds_open_amount",
            f"payment {payment_id!r} created {to_credit} fen of customer credit, and "
            f"{used} fen of it was used since (customer {customer.customer_id!r} has "
            f"{customer.credit} fen of credit)",
            payment_id=payment_id, credit_created=to_credit, credit_balance=customer.credit,
            used=used,
        )
    settled: dict[str, int] = {}
    for a in payment["applied"]:
        if a["kind"] != "recovery":
            settled[a["sale_id"]] = settled.get(a["sale_id"], 0) + a["amount"]
    for sale_id, amount in settled.items():
        item = customer.receivables[sale_id]
        # money a later return turned into customer credit must stay paid
        to_credit_by_returns = item.returned - item.returned_to_open - item.returned_written_off
        paid_after = item.settled - amount + item.recovered
        if paid_after < to_credit_by_returns:
            raise Rejection(
                "exceeds_open_amount",
                f"sale {sale_id!r} was returned since payment {payment_id!r}: "
                f"{to_credit_by_returns} fen of what was paid became customer credit, and "
                f"only {paid_after} fen would stay paid",
                payment_id=payment_id, sale_id=sale_id, returned_to_credit=to_credit_by_returns,
                paid_after=paid_after,
            )
    opened_before = {sid: customer.receivables[sid].open for sid in settled}
    customer.reverse_payment(
        payment_id=payment_id, amount=payment["amount"], received_on=payment["received_on"],
        reopened=[dict(a) for a in payment["applied"]], credit_removed=to_credit, **common,
    )
    return {
        "amount": payment["amount"],
        "reopened": [{"sale_id": sid, "open_before": opened_before[sid],
                      "open": customer.receivables[sid].open,
                      "due_on": customer.receivables[sid].due_on.isoformat()}
                     for sid in sorted(settled)],
        "recoveries_reversed": sum(a["amount"] for a in payment["applied"]
                                   if a["kind"] == "recovery"),
        "credit_removed": to_credit,
        "closed_period": _closed(ctx, date.fromisoformat(payment["received_on"])),
    }


def _reverse_fine(ctx: Context, rep: Rep, fine_id: str, common: dict[str, Any]) -> dict[str, Any]:
    fined_on = date.fromisoformat(rep.fine_days[fine_id])
    closed = _closed(ctx, fined_on)
    amount = rep.fines[fine_id]
    rep.reverse_fine(fine_id=fine_id, amount=amount, fined_on=fined_on.isoformat(),
                     closed_period=closed, **common)
    return {"rep_id": rep.rep_id, "amount": amount, "period": month_of(fined_on),
            "closed_period": closed}


def _reverse_spend(ctx: Context, budget: Budget, expense_id: str,
                   common: dict[str, Any]) -> dict[str, Any]:
    expense = budget.expenses[expense_id]
    if expense.status != SPENT:  # pragma: no cover - a spend's expense stays spent until reversed
        raise Rejection("invalid_state", f"expense {expense_id!r} is {expense.status}, not spent",
                        expense_id=expense_id, status=expense.status)
    figures = budget.figures
    check_within_budget(
        Figures(figures.allocated, figures.committed, figures.spent - expense.spent),
        expense.approved_amount, budget.budget_id,
        f"reversing the spend of expense {expense_id!r} (its commitment of "
        f"{expense.approved_amount} fen back)",
    )
    paid_on = expense.paid_on.isoformat() if expense.paid_on else ctx.day.isoformat()
    spent = expense.spent
    budget.reverse_spend(expense_id=expense_id, amount=spent, paid_on=paid_on,
                         restored=expense.approved_amount, **common)
    return {"budget_id": budget.budget_id, "amount": spent, "restored": expense.approved_amount,
            "remaining": budget.figures.remaining,
            "closed_period": _closed(ctx, date.fromisoformat(paid_on))}


def _reverse_payout(ctx: Context, rep: Rep, payout_id: str,
                    common: dict[str, Any]) -> dict[str, Any]:
    period = rep.payout_period(payout_id)
    if period is None:  # pragma: no cover - a payout's rep always holds it until reversed
        raise Rejection("invalid_state", f"payout {payout_id!r} is not on rep {rep.rep_id!r}",
                        payout_id=payout_id)
    amount = next(a for pid, a in rep.payouts[period] if pid == payout_id)
    paid_on = rep.payout_days[payout_id]
    rep.reverse_payout(payout_id=payout_id, period=period, amount=amount, paid_on=paid_on,
                       **common)
    return {"rep_id": rep.rep_id, "period": period, "amount": amount,
            "balance": rep.payable_for(period),
            "closed_period": _closed(ctx, date.fromisoformat(paid_on))}
