"""Ranks, fines, payouts, month close and commission plans (SPEC 2.5, SPEC 5.2).

- ``ChangeRank`` effective in a month up to the last closed one is ``period_closed``
  (a month before the first close too: the rank would hold on a closed month's 1st).
- ``PayCommission`` needs its period closed (``invalid_state``) and pays at most what the
  month's statement makes payable by ``paid_on`` (``Rep.payable_by``: commission, bonuses,
  clawbacks, fines, adjustments and carried from ``payable_on``, the override from
  ``override_payable_on``; a negative total nothing) less what was paid for the month,
  else ``exceeds_open_amount`` with those figures.
"""

from __future__ import annotations

from typing import Any

from ledger.domain import authority
from ledger.domain.calendar import add_months, month_of, next_month, previous_month
from ledger.domain.commands import AdoptCommissionPlan, ChangeRank, CloseMonth, FineRep, PayCommission
from ledger.domain.commission_plan import RANKS, PlanError, load_plan
from ledger.domain.errors import Rejection, duplicate, invalid
from ledger.domain.events import topics
from ledger.domain.handlers.context import Context, month_field, require_text
from ledger.domain.handlers.month_close import compute_close
from ledger.domain.model import Closings, Rep
from ledger.domain.policies import PLAN_POLICY, PolicyBook


def change_rank(ctx: Context) -> dict[str, Any]:
    cmd: ChangeRank = ctx.cmd  # type: ignore[assignment]
    require_text(cmd.reason, "reason")
    if cmd.rank not in RANKS:
        raise invalid("rank", f"unknown rank {cmd.rank!r}", allowed=list(RANKS))
    ctx.actor()
    rep = ctx.require(Rep, cmd.rep_id, "rep_id")
    actor = ctx.authorize()
    authority.check_segregation(actor.user_id, beneficiary_user=rep.user_id,
                                what=f"a rank change of rep {cmd.rep_id!r}", field="actor")
    effective = cmd.effective_from or ctx.day
    # SPEC 2.5: a rank effective in a closed month would change that month's bonus group
    # and override after its close (a month before the first close counts: the rank would
    # hold on the first closed month's 1st)
    closings = ctx.uow.get(Closings)
    last = closings.last_closed if closings else None
    if last is not None and month_of(effective) <= last:
        raise Rejection(
            "period_closed",
            f"a rank change effective {effective} falls in {month_of(effective)}, but months "
            f"up to {last} are closed: make it effective from {next_month(last)}-01 or later",
            field="effective_from", effective_from=effective.isoformat(),
            period=month_of(effective), last_closed=last,
        )
    before = rep.rank_on(effective)
    rep.change_rank(
        rank=cmd.rank, previous_rank=before, effective_from=effective.isoformat(),
        reason=cmd.reason, decided_by=actor.user_id,
        evidence={"kind": "manual", "reason": cmd.reason, "rank_before": before},
        meta=ctx.meta,
    )
    ctx.uow.add(rep)
    return {"rep_id": cmd.rep_id, "rank": cmd.rank, "previous_rank": before,
            "effective_from": effective.isoformat()}


def fine_rep(ctx: Context) -> dict[str, Any]:
    cmd: FineRep = ctx.cmd  # type: ignore[assignment]
    require_text(cmd.reason, "reason")
    ctx.actor()
    rep = ctx.require(Rep, cmd.rep_id, "rep_id")
    approver = ctx.user(cmd.approved_by, "approved_by")
    ctx.unclaimed("fine", cmd.fine_id)
    actor = ctx.authorize()
    authority.check_approver("a fine", approver.user_id, approver.roles,
                             ctx.approvers("FineRep"))
    ctx.approval("approved_by", approver.user_id, ("fine",), cmd.fine_id, cmd.amount)
    authority.check_segregation(approver.user_id, actor=actor.user_id, beneficiary_user=rep.user_id,
                                what=f"a fine of rep {cmd.rep_id!r}")
    authority.check_segregation(actor.user_id, beneficiary_user=rep.user_id,
                                what=f"a fine of rep {cmd.rep_id!r}", field="actor")
    rep.fine(fine_id=cmd.fine_id, amount=cmd.amount, reason=cmd.reason,
             approved_by=approver.user_id, fined_on=ctx.day.isoformat(), meta=ctx.meta)
    ctx.claim("fine", cmd.fine_id, "rep", cmd.rep_id)
    ctx.uow.add(rep)
    return {"fine_id": cmd.fine_id, "period": ctx.day.isoformat()[:7]}


def pay_commission(ctx: Context) -> dict[str, Any]:
    cmd: PayCommission = ctx.cmd  # type: ignore[assignment]
    month_field(cmd.period)
    ctx.actor()
    rep = ctx.require(Rep, cmd.rep_id, "rep_id")
    ctx.unclaimed("payout", cmd.payout_id)
    actor = ctx.authorize()
    authority.check_segregation(actor.user_id, beneficiary_user=rep.user_id,
                                what=f"a payout to rep {cmd.rep_id!r}", field="actor")
    # a payout settles a closed month's accrued total (SPEC 2.5 Payout, 5.3 balance)
    closings = ctx.uow.get(Closings)
    if closings is None or not closings.is_closed(cmd.period):
        raise Rejection(
            "invalid_state",
            f"commission for {cmd.period} cannot be paid before the month is closed",
            period=cmd.period, last_closed=closings.last_closed if closings else None,
        )
    # SPEC 2.5: at most what is payable by paid_on (commission and bonuses from
    # payable_on, override from override_payable_on, a negative total never) less what
    # was paid for the month
    total = rep.accrued.get(cmd.period, 0)
    due = rep.payable_by(cmd.period, cmd.paid_on)
    paid = rep.paid_for(cmd.period)
    payable = due - paid
    if cmd.amount > payable:
        dates = {}
        if cmd.period in rep.dues:
            _, override, on, override_on = rep.dues[cmd.period]
            dates = {"override": override, "payable_on": on.isoformat(),
                     "override_payable_on": override_on.isoformat()}
        when = (f" (payable from {dates['payable_on']}, override {dates['override']} from "
                f"{dates['override_payable_on']})" if dates else "")
        raise Rejection(
            "exceeds_open_amount",
            f"payout of {cmd.amount} fen exceeds what is payable to rep {cmd.rep_id!r} for "
            f"{cmd.period} by {cmd.paid_on}: total {total}, payable by then {due}{when}, "
            f"less paid {paid} = {payable}",
            rep_id=cmd.rep_id, period=cmd.period, amount=cmd.amount, paid_on=cmd.paid_on.isoformat(),
            accrued=total, **dates, payable_by_paid_on=due, paid=paid, payable=payable,
        )
    rep.pay(payout_id=cmd.payout_id, period=cmd.period, amount=cmd.amount,
            paid_on=cmd.paid_on.isoformat(), meta=ctx.meta)
    ctx.claim("payout", cmd.payout_id, "rep", cmd.rep_id)
    ctx.uow.add(rep)
    return {"payout_id": cmd.payout_id, "paid_for_period": rep.paid_for(cmd.period),
            "balance": rep.payable_for(cmd.period),
            "payable_by_paid_on": rep.payable_by(cmd.period, cmd.paid_on) - rep.paid_for(cmd.period)}


def own_rep_accounts(ctx: Context, user_id: str) -> list[str]:
    """The reps whose own user is ``user_id`` (a rep's user is set at registration)."""
    return sorted(e.rep_id for _, e in ctx.uow.read_log(topics(Rep.Registered))
                  if e.user_id == user_id)


def close_month(ctx: Context) -> dict[str, Any]:
    cmd: CloseMonth = ctx.cmd  # type: ignore[assignment]
    period = month_field(cmd.period)
    ctx.actor()
    actor = ctx.authorize()
    own = own_rep_accounts(ctx, actor.user_id)
    if own:  # the close decides every rep's accrual and promotion (SPEC 1, segregation)
        raise Rejection(
            "segregation_of_duties",
            f"{actor.user_id!r} cannot close {cmd.period}: the close decides about their own "
            f"rep account {own[0]!r}",
            field="actor", user=actor.user_id, rep_id=own[0],
        )
    closings = ctx.uow.get(Closings)
    if closings is not None and closings.is_closed(cmd.period):
        return {"period": cmd.period, "already_closed": True}
    if ctx.day <= period.last:
        raise Rejection(
            "invalid_state",
            f"month {cmd.period} cannot be closed on {ctx.day}: it ends on {period.last}",
            period=cmd.period, business_date=ctx.day.isoformat(), month_end=period.last.isoformat(),
        )
    last = closings.last_closed if closings else None
    if last is not None and previous_month(cmd.period) != last:
        expected = previous_month(cmd.period)
        raise Rejection(
            "period_closed",
            f"months are closed in order: {expected} must be closed before {cmd.period} "
            f"(last closed: {last})",
            period=cmd.period, last_closed=last, expected=expected if expected > last else None,
        )
    closings = closings or Closings()
    # one position for both: what the close read is exactly what it records as read, so a
    # fact committed meanwhile by another writer is late (next close), never lost
    stop = ctx.uow.log_position()
    summary = compute_close(ctx, cmd.period, closings, stop)
    closings.close(period=cmd.period, closed_by=actor.user_id, log_position=stop,
                   summary=summary, meta=ctx.meta)
    ctx.uow.add(closings)
    return {"period": cmd.period, "already_closed": False, **summary}


def adopt_commission_plan(ctx: Context) -> dict[str, Any]:
    cmd: AdoptCommissionPlan = ctx.cmd  # type: ignore[assignment]
    plan = dict(cmd.plan)
    if plan.setdefault("version", cmd.plan_version) != cmd.plan_version:
        raise invalid("plan.version", f"{plan['version']!r} differs from plan_version {cmd.plan_version!r}")
    try:
        load_plan(plan)
    except PlanError as e:
        raise invalid("plan", str(e)) from None
    ctx.actor()
    book = ctx.uow.get(PolicyBook) or PolicyBook()
    if book.has_version(PLAN_POLICY, cmd.plan_version):
        raise duplicate("commission plan version", cmd.plan_version)
    ctx.authorize()
    # a month uses the plan in force on its 1st: the first month the new plan governs
    # must not be closed already, or a closed month would change its plan after the fact
    first = cmd.effective_from if cmd.effective_from.day == 1 else add_months(
        cmd.effective_from.replace(day=1), 1)
    closings = ctx.uow.get(Closings)
    if closings is not None and closings.last_closed and month_of(first) <= closings.last_closed:
        raise Rejection(
            "period_closed",
            f"plan {cmd.plan_version} would govern {month_of(first)} onwards, but months up to "
            f"{closings.last_closed} are closed",
            effective_from=cmd.effective_from.isoformat(), first_month=month_of(first),
            last_closed=closings.last_closed,
        )
    book.adopt(PLAN_POLICY, cmd.plan_version, cmd.effective_from, plan, ctx.meta)
    ctx.uow.add(book)
    return {"plan_version": cmd.plan_version, "effective_from": cmd.effective_from.isoformat(),
            "first_month": month_of(first)}
