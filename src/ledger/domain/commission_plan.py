"""Commission plan engine: ranks, commissions, bonuses, override, promotion, trips.

SPEC 2.5 (seed [001] 奖金制度), with the conventions of SPEC 1 and the `commission` query
of SPEC 5.3. Pure and deterministic: no I/O, no floats. Money is integer fen; rates are
``Decimal``; each formula stays exact (``Fraction``) and is rounded once with ``round_fen``.

A plan is versioned data (SPEC 1, Policy versions): its schema, ``PLAN_2014_CN_1`` and
``load_plan`` live in ``ledger.domain.plan_schema`` and are re-exported here. Which facts
make a rep's month, the rates clawbacks use and late adjustments are assembled in
``ledger.domain.commission_month`` (for the close and for the query before it); what a
close records (accruals, promotions) is ``ledger.domain.handlers.month_close``.

Amounts are fen (int), rates decimal strings, no floats anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ledger.domain.calendar import add_months, month, month_of
from ledger.domain.money import exact, format_rate, round_fen
from ledger.domain.plan_schema import (  # noqa: F401 - the plan schema, re-exported
    _ORDER,
    PAYABLE_WITH,
    PLAN_2014_CN_1,
    RANKS,
    BonusGroup,
    Override,
    Payout,
    Plan,
    PlanError,
    PromotionRow,
    RateTier,
    Trip,
    _to_json,
    load_plan,
    plan_to_json,
    rank_order,
)

CLAWBACK_KINDS = ("return", "write_off")


# --- a month's facts ----------------------------------------------------------------


@dataclass(frozen=True)
class SaleLine:
    """A rep's own sale dated in the month (gross, tax included)."""

    sale_id: str
    day: date
    gross: int


@dataclass(frozen=True)
class ReturnLine:
    """A return dated in the month of a sale of the same month."""

    return_id: str
    sale_id: str
    day: date
    amount: int


@dataclass(frozen=True)
class Clawback:
    """A sale of an earlier month returned or written off this month (SPEC 2.5, Clawback).

    ``sale_rate`` is the tier rate the sale's month reached. A write-off may also hit a
    sale of the same month (a return of one cannot: it nets the month's personal sales);
    its ``sale_rate`` is then this month's own rate, which the caller computes first."""

    ref_id: str
    kind: str
    sale_id: str
    sale_period: str
    amount: int
    sale_rate: Decimal


@dataclass(frozen=True)
class Fine:
    fine_id: str
    day: date
    amount: int


@dataclass(frozen=True)
class Adjustment:
    """A late fact's effect on an already-closed ``period`` (SPEC 5.3): signed fen that
    land in the next statement to close. Build it with ``late_adjustment``.

    For the audit trail it may carry the late ``facts`` behind it (``{kind, id, date,
    position}``) and the closed month's figures as ``booked`` before and as ``revised``
    with the late facts (``statement_figures``)."""

    ref_id: str
    period: str
    amount: int
    note: str = ""
    facts: tuple[dict, ...] = ()
    booked: dict | None = None
    revised: dict | None = None


@dataclass(frozen=True)
class MonthInput:
    rep_id: str
    period: str
    rank: str  # the rank in effect on the month's 1st
    sales: tuple[SaleLine, ...]
    returns: tuple[ReturnLine, ...]
    trainees: tuple[tuple[str, int], ...]  # (rep_id, that rep's personal sales this month)
    clawbacks: tuple[Clawback, ...] = ()
    fines: tuple[Fine, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()
    # what the month before, closed with a negative total, carries in (<= 0; SPEC 2.5,
    # policy ``commission.carry_negative``), and that month
    carried: int = 0
    carried_from: str | None = None


@dataclass(frozen=True)
class Statement:
    """A rep's month, everything the `commission` query of SPEC 5.3 shows but ``closed``,
    ``paid`` and ``balance`` (facts of the log, not of the plan)."""

    rep_id: str
    period: str
    rank: str
    plan_version: str
    personal_sales: int
    morning_star_sales: int
    rate: Decimal
    commission: int
    morning_star_bonus: int
    opening_star_bonus: int
    override: int
    clawback: int
    fines: int
    adjustments: int
    total: int
    payable_on: date
    override_payable_on: date
    lines: tuple[dict, ...]
    carried: int = 0  # <= 0: an earlier month's negative total carried in (SPEC 2.5)


# --- the rules (SPEC 2.5) -----------------------------------------------------------

Sales = Iterable[SaleLine]
Returns = Iterable[ReturnLine]
Trainees = Iterable[tuple[str, int]]  # (trainee rep_id, that rep's personal sales)


def _rank(rank: str) -> str:
    rank_order(rank)
    return rank


def personal_sales(sales: Sales, returns: Returns) -> int:
    """Gross sales of the month less the month's returns of those sales."""
    return sum(s.gross for s in sales) - sum(r.amount for r in returns)


def tier_rate(plan: Plan, personal_sales: int) -> Decimal:
    """The rate of the highest tier ``personal_sales`` reaches (thresholds inclusive)."""
    if personal_sales < 0:
        raise ValueError(f"personal sales cannot be negative: {personal_sales}")
    return [t.rate for t in plan.rate_tiers if personal_sales >= t.min_sales][-1]


def _base_times(plan: Plan, amount: int, rate: Decimal) -> int:
    base = exact(amount) * exact(plan.base_factor) / exact(plan.base_divisor)
    return round_fen(base * exact(rate))


def commission_amount(plan: Plan, personal_sales: int) -> int:
    """round(personal sales x 0.9 / 1.17 x rate), rounded once."""
    return _base_times(plan, personal_sales, tier_rate(plan, personal_sales))


def clawback_amount(plan: Plan, amount: int, sale_rate: Decimal) -> int:
    """round(returned or written-off gross x 0.9 / 1.17 x the sale month's rate), per item."""
    return _base_times(plan, amount, sale_rate)


def morning_star_sales(plan: Plan, sales: Sales, returns: Returns) -> int:
    """Sales dated on or before the 20th less the month's returns of those sales (晨星)."""
    early = {s.sale_id: s.gross for s in sales if s.day.day <= plan.morning_star_last_day}
    return sum(early.values()) - sum(r.amount for r in returns if r.sale_id in early)


def morning_star_bonus(plan: Plan, rank: str, sales: Sales, returns: Returns) -> int:
    group = plan.group(rank)
    reached = morning_star_sales(plan, sales, returns) >= group.morning_star_min_sales
    return group.morning_star_bonus if reached else 0


def opening_star_bonus(plan: Plan, rank: str, personal_sales: int) -> int:
    group = plan.group(rank)
    return group.opening_star_bonus if personal_sales >= group.opening_star_min_sales else 0


def _trainee_sales(trainees: Trainees) -> dict[str, int]:
    out: dict[str, int] = {}
    for rep_id, sales in trainees:
        if rep_id in out:
            raise ValueError(f"trainee {rep_id!r} listed twice")
        if isinstance(sales, bool) or not isinstance(sales, int) or sales < 0:
            raise ValueError(f"trainee {rep_id!r}: personal sales must be fen >= 0, got {sales!r}")
        out[rep_id] = sales
    return out


def override_amount(plan: Plan, rank: str, trainees: Trainees) -> int:
    """5% of the personal sales of the reps this rep trained, SM and above, rounded once."""
    total = sum(_trainee_sales(trainees).values())
    if _ORDER[_rank(rank)] < _ORDER[plan.override.min_rank]:
        return 0
    return round_fen(exact(total) * exact(plan.override.rate))


def payable_on(plan: Plan, period: str) -> date:
    """The payout date of a month: the 10th of the month after next (次次月10日)."""
    return add_months(month(period).first, plan.payout.months_after).replace(day=plan.payout.day)


def override_payable_on(plan: Plan, period: str) -> date:
    """Override is payable with the quarter's last month (January-March -> 10 May)."""
    first = month(period).first
    if plan.override.payable_with == "quarter_last_month":
        return payable_on(plan, month_of(date(first.year, (first.month - 1) // 3 * 3 + 3, 1)))
    return payable_on(plan, period)


def override_due(override: int, lines: Iterable[dict]) -> int:
    """The part of a statement's total that is override (payable from
    ``override_payable_on``): its own override and the change in override of the earlier
    months its adjustment lines revise (an earlier month's override is payable no later
    than this month's)."""
    return override + sum(
        (line.get("revised") or {}).get("override", 0) - (line.get("booked") or {}).get("override", 0)
        for line in lines if line.get("type") == "adjustment" and line.get("revised"))


def payable_by(total: int, override: int, payable_on: date, override_payable_on: date,
               day: date) -> int:
    """What a closed month's statement makes payable by ``day`` (SPEC 2.5 Payout,
    PayCommission): nothing before ``payable_on``; from it, the total but the override
    (``override_due``, when positive); from ``override_payable_on``, the whole total. A
    negative total is payable as 0 (it is carried, SPEC 2.5), so never less than 0."""
    ov = max(override, 0)
    due = (total - ov if day >= payable_on else 0) + (ov if day >= override_payable_on else 0)
    return max(0, min(due, total))


def meets_row(plan: Plan, row_rank: str, own_sales: int, trainees: Trainees) -> bool:
    """Whether a month meets the promotion row of ``row_rank`` (SPEC 2.5, Promotion)."""
    return bool(_row_evidence(plan.row(row_rank), own_sales, _trainee_sales(trainees)))


def _row_evidence(row: PromotionRow, own: int, trainees: dict[str, int]) -> dict:
    counted = sorted(r for r, s in trainees.items() if s >= row.trained_rep_min_sales)
    trained = sum(trainees.values())
    if own < row.own_sales or trained < row.trained_sales or len(counted) < row.trained_reps:
        return {}
    return {"rank": row.rank, "own_sales": own, "trained_sales": trained,
            "trained_reps": len(counted), "counted_reps": counted,
            "row": _to_json(row)}


def rows_met(plan: Plan, own_sales: int, trainees: Trainees) -> frozenset[str]:
    """The ranks whose promotion row the month meets, whatever the rep's rank (for trips)."""
    by_rep = _trainee_sales(trainees)
    return frozenset(r.rank for r in plan.promotion if _row_evidence(r, own_sales, by_rep))


def evaluate_promotion(plan: Plan, rank: str, own_personal_sales: int,
                       trainees: Trainees) -> tuple[str | None, dict]:
    """The highest rank above ``rank`` whose row the month meets and the figures that met
    it, or ``(None, {})``: ranks never drop automatically."""
    by_rep = _trainee_sales(trainees)
    for row in reversed(plan.promotion):
        if _ORDER[row.rank] <= _ORDER[_rank(rank)]:
            break
        if evidence := _row_evidence(row, own_personal_sales, by_rep):
            return row.rank, evidence
    return None, {}


def trip_progress(plan: Plan, months: Iterable[tuple[str, Iterable[str]]]) -> dict:
    """Counters per trip per window from ``(period, ranks whose row that month met)``.

    Answers ``{trip: {"YYYY-MM..YYYY-MM": {row, required, count, months, qualified,
    qualified_in}}}`` for every window an input month falls in (三阶段奖励旅游)."""
    met: dict[str, frozenset[str]] = {}
    for period, rows in months:
        month(period)
        if period in met:
            raise ValueError(f"period {period} listed twice")
        met[period] = frozenset(rows)
    out: dict[str, dict] = {}
    for trip in plan.trips:
        windows = out.setdefault(trip.name, {})
        for period in sorted(met):
            first = month(period).first
            start_month = trip.window_start_month
            start = date(first.year - (first.month < start_month), start_month, 1)
            label = f"{month_of(start)}..{month_of(add_months(start, 11))}"
            w = windows.setdefault(label, {"row": trip.row, "required": trip.months, "count": 0,
                                           "months": [], "qualified": False, "qualified_in": None})
            if trip.row in met[period]:
                w["months"].append(period)
                w["count"] += 1
                if w["count"] == trip.months:
                    w["qualified"], w["qualified_in"] = True, period
    return out


# --- the statement ------------------------------------------------------------------


def split_shares(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` (>= 0) in proportion to ``weights`` (>= 0), largest remainder first,
    ties to the earlier weight; the shares sum exactly to ``total`` (display only, SPEC 1)."""
    whole = sum(weights)
    if whole == 0:
        if total:
            raise ValueError(f"cannot split {total} over zero weights")
        return [0] * len(weights)
    raw = [Fraction(total * w, whole) for w in weights]
    shares = [math.floor(x) for x in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (shares[i] - raw[i], i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _check(inp: MonthInput) -> None:
    """Refuse facts that do not belong in this month's input (integration errors)."""
    span = month(inp.period)
    _rank(inp.rank)

    def unique(items: Iterable[Any], key: str) -> None:
        ids = [getattr(i, key) for i in items]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{inp.rep_id} {inp.period}: duplicate {key}")

    def fen(value: Any, what: str, low: int | None = 0) -> None:
        too_low = low is not None and isinstance(value, int) and value < low
        if isinstance(value, bool) or not isinstance(value, int) or too_low:
            raise ValueError(f"{what}: amount must be integer fen (>= {low}), got {value!r}")

    unique(inp.sales, "sale_id")
    unique(inp.returns, "return_id")
    unique(inp.fines, "fine_id")
    unique(inp.clawbacks, "ref_id")
    unique(inp.adjustments, "ref_id")
    for item in (*inp.sales, *inp.returns, *inp.fines):
        if item.day not in span:  # type: ignore[attr-defined]
            raise ValueError(f"{item} is not dated in {inp.period}")
    left = {}
    for s in inp.sales:
        fen(s.gross, s.sale_id)
        left[s.sale_id] = s.gross
    for r in inp.returns:
        fen(r.amount, r.return_id, 1)
        if r.sale_id not in left:
            raise ValueError(f"return {r.return_id}: {r.sale_id} is not a sale of {inp.period}")
        left[r.sale_id] -= r.amount
        if left[r.sale_id] < 0:
            raise ValueError(f"returns of sale {r.sale_id} exceed its gross")
    for c in inp.clawbacks:
        fen(c.amount, c.ref_id, 1)
        if c.kind not in CLAWBACK_KINDS:
            raise ValueError(f"clawback {c.ref_id}: kind must be one of {CLAWBACK_KINDS}")
        same_month_ok = c.kind == "write_off" and c.sale_period == inp.period
        if month(c.sale_period).name >= inp.period and not same_month_ok:
            raise ValueError(f"clawback {c.ref_id}: {c.sale_period} is not an earlier month")
        if not isinstance(c.sale_rate, Decimal) or not 0 <= c.sale_rate <= 1:
            raise ValueError(f"clawback {c.ref_id}: sale_rate must be a Decimal in [0, 1]")
    for f in inp.fines:
        fen(f.amount, f.fine_id, 1)
    for a in inp.adjustments:
        fen(a.amount, a.ref_id, None)
        if month(a.period).name >= inp.period:
            raise ValueError(f"adjustment {a.ref_id}: {a.period} is not before {inp.period}")
    if isinstance(inp.carried, bool) or not isinstance(inp.carried, int) or inp.carried > 0:
        raise ValueError(f"carried must be integer fen <= 0, got {inp.carried!r}")
    if inp.carried and (inp.carried_from is None or month(inp.carried_from).name >= inp.period):
        raise ValueError(f"carried from {inp.carried_from!r}: not a month before {inp.period}")
    if inp.rep_id in _trainee_sales(inp.trainees):
        raise ValueError(f"{inp.rep_id} cannot be their own trainee")


def compute_statement(plan: Plan, inp: MonthInput) -> Statement:
    """A rep's month under ``plan`` (the plan in force on the month's 1st), SPEC 2.5, 5.3.

    total = commission + morning_star_bonus + opening_star_bonus + override + adjustment
    + carried - clawback - fines (SPEC 2.5), where ``adjustments`` are the late facts of
    closed months (SPEC 5.3) and ``carried`` the negative total of the month before."""
    _check(inp)
    sales = sorted(inp.sales, key=lambda s: (s.day, s.sale_id))
    returns = sorted(inp.returns, key=lambda r: (r.day, r.return_id))
    trainees = sorted(inp.trainees)
    clawbacks = sorted(inp.clawbacks, key=lambda c: c.ref_id)
    fines = sorted(inp.fines, key=lambda f: (f.day, f.fine_id))
    adjustments = sorted(inp.adjustments, key=lambda a: (a.period, a.ref_id))

    ps = personal_sales(sales, returns)
    rate = tier_rate(plan, ps)
    commission = commission_amount(plan, ps)
    ms = morning_star_bonus(plan, inp.rank, sales, returns)
    os_ = opening_star_bonus(plan, inp.rank, ps)
    override = override_amount(plan, inp.rank, trainees)
    claws = [clawback_amount(plan, c.amount, c.sale_rate) for c in clawbacks]
    fined = sum(f.amount for f in fines)
    adjusted = sum(a.amount for a in adjustments)

    returned = {s.sale_id: 0 for s in sales}
    for r in returns:
        returned[r.sale_id] += r.amount
    nets = [s.gross - returned[s.sale_id] for s in sales]
    lines: list[dict] = [
        {"type": "sale", "sale_id": s.sale_id, "date": s.day.isoformat(), "gross": s.gross,
         "returned": returned[s.sale_id], "share": share}
        for s, share in zip(sales, split_shares(commission, nets))
    ]
    lines += [{"type": "return", "return_id": r.return_id, "sale_id": r.sale_id,
               "date": r.day.isoformat(), "amount": r.amount} for r in returns]
    if _ORDER[inp.rank] >= _ORDER[plan.override.min_rank]:
        lines += [{"type": "trainee", "rep_id": rep, "personal_sales": amount}
                  for rep, amount in trainees]
    lines += [{"type": "clawback", "ref_id": c.ref_id, "kind": c.kind, "sale_id": c.sale_id,
               "sale_period": c.sale_period, "gross": c.amount, "rate": format_rate(c.sale_rate),
               "amount": amount} for c, amount in zip(clawbacks, claws)]
    lines += [{"type": "fine", "fine_id": f.fine_id, "date": f.day.isoformat(), "amount": f.amount}
              for f in fines]
    lines += [{"type": "adjustment", "ref_id": a.ref_id, "period": a.period, "amount": a.amount,
               "note": a.note, "facts": [dict(f) for f in a.facts],
               "booked": a.booked, "revised": a.revised} for a in adjustments]
    if inp.carried:
        lines.append({"type": "carried", "period": inp.carried_from, "amount": inp.carried})
    return Statement(
        rep_id=inp.rep_id, period=inp.period, rank=inp.rank, plan_version=plan.version,
        personal_sales=ps, morning_star_sales=morning_star_sales(plan, sales, returns),
        rate=rate, commission=commission, morning_star_bonus=ms, opening_star_bonus=os_,
        override=override, clawback=sum(claws), fines=fined, adjustments=adjusted,
        total=commission + ms + os_ + override + adjusted + inp.carried - sum(claws) - fined,
        payable_on=payable_on(plan, inp.period),
        override_payable_on=override_payable_on(plan, inp.period),
        lines=tuple(lines), carried=inp.carried,
    )


FIGURES = ("rank", "plan_version", "personal_sales", "rate", "commission",
           "morning_star_bonus", "opening_star_bonus", "override", "clawback", "fines", "total")


def statement_figures(st: Statement) -> dict:
    """A month's own figures as JSON, for booking and comparing: ``total`` here leaves out
    the adjustments that landed in that month and what it carried in (they belong to
    earlier months)."""
    return {"rank": st.rank, "plan_version": st.plan_version,
            "personal_sales": st.personal_sales, "rate": format_rate(st.rate),
            "commission": st.commission, "morning_star_bonus": st.morning_star_bonus,
            "opening_star_bonus": st.opening_star_bonus, "override": st.override,
            "clawback": st.clawback, "fines": st.fines,
            "total": st.total - st.adjustments - st.carried}


def late_adjustment(ref_id: str, accrued: Statement | dict, recomputed: Statement,
                    note: str = "", facts: Iterable[dict] = ()) -> Adjustment:
    """The effect of late facts on a closed month: the month recomputed with them, less
    what it has booked so far (its accrual, or its figures as last revised: a dict of
    ``statement_figures``). SPEC 5.3: lands in the next month to close."""
    if isinstance(accrued, Statement):
        if (accrued.rep_id, accrued.period) != (recomputed.rep_id, recomputed.period):
            raise ValueError("an adjustment compares two statements of the same rep and month")
        accrued = statement_figures(accrued)
    revised = statement_figures(recomputed)
    return Adjustment(ref_id, recomputed.period, revised["total"] - accrued["total"], note,
                      tuple(facts), accrued, revised)


def statement_to_json(st: Statement) -> dict:
    """The statement's part of the `commission` query JSON (SPEC 5.3)."""
    out = {f.name: getattr(st, f.name) for f in fields(st)}
    out.update(rate=format_rate(st.rate), payable_on=st.payable_on.isoformat(),
               override_payable_on=st.override_payable_on.isoformat(),
               lines=[dict(line) for line in st.lines])
    return out
