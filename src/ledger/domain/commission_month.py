"""A rep's month as the commission engine takes it (SPEC 2.5; SPEC 5.3 ``commission``).

The one place where dated facts become a month's ``MonthInput``: the month close
(``handlers.month_close``, facts read from the log) and the commission query before the
close (``projections.commissions``, facts read from projection rows) both build a
``MonthFacts`` and ask it, so "the facts so far" answer exactly what the close will accrue.
Pure: no I/O. The caller gives plain facts, the reps, the closed months with their log
positions and a plan lookup; optionally a way to fetch the facts of a month it did not
give in full (the close reads old months only when a rule needs them).

Facts (``Fact``), each with its business date in company time:

- a sale: its invoice date; it is its rep's;
- a return or a write-off: its date, but no earlier than its sale's invoice date (one
  dated before its sale counts on the sale's date: the ledger now refuses those, but
  older logs may hold some); it is the sale's rep's. A return counts for the
  ``commission_amount`` its event records (``receivables.return_commission_amount``: not
  the part that cancelled a written-off amount, whose commission the write-off already
  clawed back; a return counting 0 is no fact at all);
- a fine: its ``fined_on``; it is the fined rep's.

The input of rep R for month X (``MonthFacts.month_input``), under the plan in force on
X's 1st:

- sales: R's sales dated in X; returns: the returns dated in X of those sales; personal
  sales = sales less those returns;
- trainees: the reps whose trainer is R and who have a sale dated in X, with their personal
  sales (the engine decides override and promotion from them);
- clawbacks: returns dated in X of R's sales of earlier months, and write-offs dated in X
  of R's sales of X or earlier, each at the rate of its sale's month (``rate_of``): as
  revised by the late adjustments of the close being computed, else as that month last
  booked on R, else, for a month never booked, the rate its facts reach;
- fines dated in X;
- rank and adjustments as the caller gives them. ``statement_input`` gives what the close
  of X uses: the rank on X's 1st and, when X is the next month to close, the late
  adjustments and what the month before carries in (``carried_into``).

Carried (SPEC 2.5, policy ``commission.carry_negative``): when the month before X is
closed and accrued a negative total for R (its total as accrued at its close, carried
amount included), and the ``commission`` policy in force on X's 1st (``carry_negative``)
says so, X's statement carries that total in as ``carried`` (<= 0), so a debt moves
from month to month until a month's figures absorb it. A month's own figures
(``booked_months``, ``statement_figures``) leave out what it carried in, as they leave
out its adjustments.

Late facts (``late_facts``): a fact dated in a closed month, or in a month before the
first closed one (which can never be closed: the first close refuses to leave one with
facts behind, so a fact recorded there later is late like one of a closed month), and
recorded after the last close's log position. The next close
(``late_adjustments``) recomputes each month X they touch for each rep they touch (the
fact's rep and, for a sale or a same-month return, that rep's trainer, whose override
changes), with every fact of X now known, X's booked rank (else the rank on X's 1st) and
X's plan; the difference from what X booked so far is an ``Adjustment`` of the new month,
listing the late facts (by date, kind and id, never by position) and X's figures before
and after. Months are revised oldest first, and a revised month's rate is the one later
clawbacks use. Booked figures: ``booked_months`` (the same fold ``Rep.accrue`` keeps).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.domain.calendar import month, month_of, next_month, previous_month
from ledger.domain.commission_plan import (
    CLAWBACK_KINDS,
    Adjustment,
    Clawback,
    Fine,
    MonthInput,
    Plan,
    ReturnLine,
    SaleLine,
    Statement,
    compute_statement,
    late_adjustment,
    personal_sales,
    statement_figures,
    tier_rate,
)
from ledger.domain.money import parse_rate
from ledger.domain.policies import DEFAULT_VERSION

SALE, RETURN, WRITE_OFF, FINE = "sale", "return", "write_off", "fine"
BEGINNING = date(1, 1, 1)  # a registration rank holds from the beginning

# a month's own figures as booked (``statement_figures`` but ``total``)
OWN_FIGURES = ("rank", "plan_version", "personal_sales", "rate", "commission",
               "morning_star_bonus", "opening_star_bonus", "override", "clawback", "fines")


# --- facts and reps -----------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One dated fact a statement counts. Build it with ``sale``, ``fine`` or
    ``taken_back`` (which applies the rules of a return's or write-off's rep and date)."""

    kind: str  # "sale", "return", "write_off", "fine"
    id: str
    day: date
    amount: int
    position: int  # where the log holds it
    rep_id: str
    sale_id: str | None = None  # return, write-off: the sale it takes back
    sale_day: date | None = None  # return, write-off: that sale's invoice date

    @classmethod
    def sale(cls, sale_id: str, rep_id: str, day: date, gross: int, position: int) -> Fact:
        return cls(SALE, sale_id, day, gross, position, rep_id)

    @classmethod
    def fine(cls, fine_id: str, rep_id: str, day: date, amount: int, position: int) -> Fact:
        return cls(FINE, fine_id, day, amount, position, rep_id)

    @classmethod
    def taken_back(cls, kind: str, ref_id: str, day: date, amount: int, position: int, *,
                   sale_id: str, sale_rep_id: str, sale_day: date) -> Fact:
        """A return or write-off: the sale's rep's, dated no earlier than the sale."""
        if kind not in CLAWBACK_KINDS:
            raise ValueError(f"{ref_id}: kind must be one of {CLAWBACK_KINDS}, got {kind!r}")
        return cls(kind, ref_id, max(day, sale_day), amount, position, sale_rep_id, sale_id,
                   sale_day)

    @property
    def period(self) -> str:
        return month_of(self.day)

    @property
    def sale_period(self) -> str:
        """The month of the sale (for a sale, its own month)."""
        return month_of(self.sale_day or self.day)

    @property
    def moves_sales(self) -> bool:
        """Whether it changes its month's personal sales (a sale, a same-month return),
        hence its rep's trainer's override."""
        return self.kind == SALE or (self.kind == RETURN and self.sale_period == self.period)

    def ref(self) -> dict[str, Any]:
        """How an adjustment lists it."""
        return {"kind": self.kind, "id": self.id, "date": self.day.isoformat(),
                "position": self.position}


def rank_on(history: Sequence[tuple[date, str]], day: date) -> str:
    """The rank in effect on ``day`` from a rank history ``(effective_from, rank)`` in log
    order, the registration first (from ``BEGINNING``): the latest effective date on or
    before ``day``, a later entry for the same date winning (as ``Rep.rank_on``)."""
    chosen_day, chosen = history[0]
    for effective_from, rank in history:
        if chosen_day <= effective_from <= day:
            chosen_day, chosen = effective_from, rank
    return chosen


def booked_months(accruals: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """period -> the month's own figures as last booked, from a rep's accruals in log order
    (the fields of ``Rep.CommissionAccrued``): at its close (its total less the adjustments
    that landed in it), then as revised by the adjustment lines of later closes."""
    out: dict[str, dict[str, Any]] = {}
    for a in accruals:
        out[a["period"]] = {**{k: a[k] for k in OWN_FIGURES},
                            "total": a["total"] - a["adjustments"] - a.get("carried", 0)}
        for line in a["lines"]:
            if line.get("type") == "adjustment" and line.get("revised"):
                out[line["period"]] = line["revised"]
    return out


def zero_figures(rank: str, plan_version: str) -> dict[str, Any]:
    """What a month that never accrued has booked."""
    return {"rank": rank, "plan_version": plan_version, "personal_sales": 0, "rate": "0",
            "commission": 0, "morning_star_bonus": 0, "opening_star_bonus": 0, "override": 0,
            "clawback": 0, "fines": 0, "total": 0}


@dataclass(frozen=True)
class RepRecord:
    """What the rules need of a rep: trainer, rank history (``rank_on``), booked
    months (``booked_months``) and each closed month's total as accrued at its close
    (``accrued``: period -> total, what a negative month carries into the next)."""

    rep_id: str
    trainer_id: str | None = None
    ranks: tuple[tuple[date, str], ...] = ()
    booked: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    accrued: Mapping[str, int] = field(default_factory=dict)


@dataclass
class RepMonth:
    """One rep's facts of one month, in log order."""

    sales: list[SaleLine] = field(default_factory=list)
    returns: list[ReturnLine] = field(default_factory=list)  # same-month returns
    taken_back: list[Fact] = field(default_factory=list)  # returns and write-offs to claw back
    fines: list[Fine] = field(default_factory=list)

    @property
    def personal_sales(self) -> int:
        return personal_sales(self.sales, self.returns)


# --- the months ---------------------------------------------------------------------


class MonthFacts:
    """The facts of some months, the reps and the closes: each rep's month as the
    engine takes it.

    ``reps``: every rep a statement is asked for, with the reps they trained.
    ``plans(period)``: the plan in force on the month's 1st. ``closed``: each closed month
    with the last log position its close read. ``facts``: in any order. ``fetch(period)``,
    when given, answers the facts dated in a month not among ``complete`` (the months
    ``facts`` holds in full) the first time a rule needs it; without ``fetch``, ``facts``
    hold every month in full. ``carry(period)``: the ``commission`` policy in force on the
    month's 1st, ``(version, carry_negative)`` (default: the SPEC's default, carrying).
    """

    def __init__(self, reps: Iterable[RepRecord], plans: Callable[[str], Plan],
                 closed: Mapping[str, int], facts: Iterable[Fact] = (), *,
                 fetch: Callable[[str], Iterable[Fact]] | None = None,
                 complete: Iterable[str] = (),
                 carry: Callable[[str], tuple[str, bool]] | None = None) -> None:
        self.reps = {r.rep_id: r for r in reps}
        self.trainees: dict[str, list[str]] = {}
        for rep_id in sorted(self.reps):
            trainer = self.reps[rep_id].trainer_id
            if trainer is not None:
                self.trainees.setdefault(trainer, []).append(rep_id)
        self.closed = dict(closed)
        self._carry = carry or (lambda period: (DEFAULT_VERSION, True))
        self._plans_of = plans
        self._plans: dict[str, Plan] = {}
        self._fetch = fetch
        self._complete = set(complete)
        self._by_month: dict[str, dict[tuple[str, str], Fact]] = {}
        self._index: dict[str, dict[str, RepMonth]] = {}
        self._revised: dict[tuple[str, str], Decimal] = {}
        self._adjustments: dict[str, tuple[Adjustment, ...]] = {}
        self._late: list[Fact] | None = None
        self._add(facts)

    def _add(self, facts: Iterable[Fact]) -> None:
        for f in facts:
            if f.kind in (RETURN, WRITE_OFF) and f.amount == 0:
                continue  # a return that only cancelled a written-off amount moves nothing
            self._by_month.setdefault(f.period, {})[(f.kind, f.id)] = f
            self._index.pop(f.period, None)
            self._late = None

    # --- plan, rank, closes ---------------------------------------------------------

    def plan(self, period: str) -> Plan:
        if period not in self._plans:
            self._plans[period] = self._plans_of(period)
        return self._plans[period]

    def rank_on(self, rep_id: str, day: date) -> str:
        return rank_on(self.reps[rep_id].ranks, day)

    def booked(self, rep_id: str, period: str) -> Mapping[str, Any] | None:
        """The month's own figures as last booked on the rep, or None."""
        rep = self.reps.get(rep_id)
        return rep.booked.get(period) if rep is not None else None

    @property
    def last_closed(self) -> str | None:
        return max(self.closed) if self.closed else None

    @property
    def next_to_close(self) -> str | None:
        """The month whose close books the late facts (None before any close)."""
        last = self.last_closed
        return next_month(last) if last is not None else None

    # --- a rep's month --------------------------------------------------------------

    def _month_index(self, period: str) -> dict[str, RepMonth]:
        if period not in self._index:
            if self._fetch is not None and period not in self._complete:
                self._add(f for f in self._fetch(period) if f.period == period)
                self._complete.add(period)
            reps: dict[str, RepMonth] = {}
            for f in sorted(self._by_month.get(period, {}).values(), key=lambda f: f.position):
                rm = reps.setdefault(f.rep_id, RepMonth())
                if f.kind == SALE:
                    rm.sales.append(SaleLine(f.id, f.day, f.amount))
                elif f.kind == FINE:
                    rm.fines.append(Fine(f.id, f.day, f.amount))
                elif f.kind == RETURN and f.sale_period == period:
                    rm.returns.append(ReturnLine(f.id, f.sale_id or "", f.day, f.amount))
                else:
                    rm.taken_back.append(f)
            self._index[period] = reps
        return self._index[period]

    def month(self, rep_id: str, period: str) -> RepMonth:
        """The rep's facts dated in ``period``."""
        return self._month_index(period).get(rep_id, RepMonth())

    def personal_sales(self, rep_id: str, period: str) -> int:
        return self.month(rep_id, period).personal_sales

    def trainee_sales(self, rep_id: str, period: str) -> tuple[tuple[str, int], ...]:
        """The rep's trainees with a sale dated in ``period``, with their personal sales."""
        index = self._month_index(period)
        return tuple(sorted((t, index[t].personal_sales) for t in self.trainees.get(rep_id, ())
                            if t in index and index[t].sales))

    def rate_of(self, rep_id: str, period: str) -> Decimal:
        """The rate of a rep's month as a clawback of one of its sales uses it: as revised
        by this close's late adjustments, else as last booked, else as its facts reach."""
        if (rep_id, period) in self._revised:
            return self._revised[(rep_id, period)]
        booked = self.booked(rep_id, period)
        if booked is not None:
            return parse_rate(booked["rate"])
        return tier_rate(self.plan(period), self.personal_sales(rep_id, period))

    def month_input(self, rep_id: str, period: str, rank: str,
                    adjustments: Iterable[Adjustment] = ()) -> MonthInput:
        """The engine's input for the rep's month, at ``rank``, with ``adjustments``."""
        rm = self.month(rep_id, period)
        own_rate = tier_rate(self.plan(period), rm.personal_sales)
        clawbacks = tuple(
            Clawback(f.id, f.kind, f.sale_id or "", f.sale_period, f.amount,
                     own_rate if f.sale_period == period else self.rate_of(rep_id, f.sale_period))
            for f in rm.taken_back
        )
        return MonthInput(rep_id, period, rank, tuple(rm.sales), tuple(rm.returns),
                          self.trainee_sales(rep_id, period), clawbacks, tuple(rm.fines),
                          tuple(adjustments))

    def carry_policy(self, period: str) -> tuple[str, bool]:
        """The ``commission`` policy in force on the month's 1st: (version, carry_negative)."""
        return self._carry(period)

    def carried_into(self, rep_id: str, period: str) -> tuple[int, str | None]:
        """What the month before ``period`` carries into its statement (SPEC 2.5): its
        total as accrued at its close when that month is closed, the total negative and
        the policy in force on ``period``'s 1st carries; else ``(0, None)``."""
        before = previous_month(period)
        rep = self.reps.get(rep_id)
        if before not in self.closed or rep is None:
            return 0, None
        total = rep.accrued.get(before, 0)
        if total >= 0 or not self.carry_policy(period)[1]:
            return 0, None
        return total, before

    def statement_input(self, rep_id: str, period: str) -> MonthInput:
        """What the close of ``period`` gives the engine for the rep: the rank on the
        month's 1st and, when it is the next month to close, the late adjustments and what
        the month before carries in."""
        adjustments: tuple[Adjustment, ...] = ()
        carried: tuple[int, str | None] = (0, None)
        if period == self.next_to_close:
            adjustments = self.late_adjustments(rep_id)
            carried = self.carried_into(rep_id, period)
        inp = self.month_input(rep_id, period, self.rank_on(rep_id, month(period).first),
                               adjustments)
        return replace(inp, carried=carried[0], carried_from=carried[1])

    def statement(self, rep_id: str, period: str) -> Statement:
        """The month as its close would accrue it if no more facts came."""
        return compute_statement(self.plan(period), self.statement_input(rep_id, period))

    # --- late facts -----------------------------------------------------------------

    def late_facts(self) -> list[Fact]:
        """Facts dated in a closed month (or before the first) and recorded after the
        last close's position, by date, kind and id."""
        if self._late is None:
            last = self.last_closed
            late = [] if last is None else [
                f for period, facts in self._by_month.items()
                if period <= last
                for f in facts.values() if f.position > self.closed[last]]
            self._late = sorted(late, key=lambda f: (f.day, f.kind, f.id))
        return list(self._late)

    def late_adjustments(self, rep_id: str) -> tuple[Adjustment, ...]:
        """The adjustments of closed months that land in the next close for the rep, oldest
        month first; each revised month's rate is then the one its clawbacks use."""
        if rep_id in self._adjustments:
            return self._adjustments[rep_id]
        touched: dict[str, list[Fact]] = {}
        for f in self.late_facts():
            if f.rep_id == rep_id:
                touched.setdefault(f.period, []).append(f)
            elif f.moves_sales and f.rep_id in self.reps and \
                    self.reps[f.rep_id].trainer_id == rep_id:
                touched.setdefault(f.period, [])
        out = []
        for period in sorted(touched):
            booked = self.booked(rep_id, period)
            rank = booked["rank"] if booked else self.rank_on(rep_id, month(period).first)
            plan = self.plan(period)
            revised = compute_statement(plan, self.month_input(rep_id, period, rank))
            facts = touched[period]
            before = dict(booked) if booked else zero_figures(rank, plan.version)
            if not facts and statement_figures(revised) == before:
                continue
            names = ", ".join(f"{f.kind} {f.id}" for f in facts) or "trainees' late facts"
            out.append(late_adjustment(f"late:{period}", before, revised,
                                       note=f"late facts for {period}: {names}",
                                       facts=[f.ref() for f in facts]))
            self._revised[(rep_id, period)] = revised.rate
        self._adjustments[rep_id] = tuple(out)
        return self._adjustments[rep_id]
