"""What CloseMonth computes (SPEC 2.5; SPEC 5.2 CloseMonth; SPEC 5.3 `commission`).

A close of month M reads the log up to one position (``stop``, recorded on the close) and
records, for every registered rep with something in the month, one ``Rep.CommissionAccrued``
carrying the whole statement, and a ``Rep.RankChanged`` (reason ``promotion``) for every rep
whose month meets a higher promotion row. Given the log up to ``stop`` and the reps'
aggregates, the result is fixed: facts are read by position, every list is sorted by id
before it meets the plan engine, reps are closed in ``rep_id`` order. So the order in
which independent facts were recorded never matters, and a re-run computes the same.

Facts (their business dates in company time):

- sales (``Customer.SaleRecorded``): the invoice date; the rep is the sale's ``rep_id``;
- returns and write-offs (``Customer.ReturnRecorded``, ``Customer.ReceivableWrittenOff``):
  the date of their ``occurred_at``; they belong to the rep of the sale they reference.
  One dated before its sale's invoice date counts on the invoice date;
- fines (``Rep.Fined``): ``fined_on``.

The statement of rep R for month X (``month_input``), under the plan in force on X's 1st:

- personal sales: R's sales dated in X less the returns dated in X of those sales;
- rank: R's rank on X's 1st (for a closed month: the rank its accrual recorded);
- trainees: the reps whose ``trainer_id`` is R and who have a sale dated in X, with their
  personal sales (override if R's rank is SM or above; promotion evidence in any case);
- clawbacks: returns dated in X of R's sales of earlier months, and write-offs dated in X
  of R's sales of X or earlier, at the rate of the sale's month: the rate that month last
  booked on R (its accrual, or its latest late revision), else, for a month the ledger
  never closed, the rate its facts reach as the log knows them;
- fines dated in X;
- adjustments (month M only): late facts, see below.

Late facts. A fact dated in a closed month X and recorded after X's close position is
*late*. It is accepted when recorded (and flagged by its handler); the first close after
it (the close of M, where it lies between the previous close's position and ``stop``)
recomputes X's statement for every rep it touches (the fact's rep and, for a sale or a
same-month return, their trainer) with all of X's facts the log now holds, and books the
difference from what X booked so far as an ``adjustment`` line of M's statement, with the
late facts and X's figures before and after. X's booked figures (hence the rate later
clawbacks use) become the revised ones. Months are revised oldest first. A closed month
keeps its rank and plan; promotions are not re-evaluated; clawbacks already booked in
other months are not re-priced.

Reading: each close reads the fact topics from ``Closings.scan_from(M)`` to ``stop`` (the
previous close saw where facts dated after its month begin), plus, only when late facts
or clawbacks need an older month in full, that month's own range. Registered reps come
from ``Rep.Registered`` events and their aggregates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.domain.calendar import business_date, month, month_of, next_month
from ledger.domain.commission_plan import (
    Adjustment,
    Clawback,
    Fine,
    MonthInput,
    Plan,
    ReturnLine,
    SaleLine,
    Statement,
    compute_statement,
    evaluate_promotion,
    late_adjustment,
    load_plan,
    personal_sales,
    rows_met,
    statement_figures,
    statement_to_json,
    tier_rate,
)
from ledger.domain.handlers.context import Context
from ledger.domain.model import Closings, Customer, Rep
from ledger.domain.model.records import Claim
from ledger.domain.policies import PLAN_POLICY

SALE_TOPIC = "ledger:Customer.SaleRecorded"
RETURN_TOPIC = "ledger:Customer.ReturnRecorded"
WRITE_OFF_TOPIC = "ledger:Customer.ReceivableWrittenOff"
FINE_TOPIC = "ledger:Rep.Fined"
REP_TOPIC = "ledger:Rep.Registered"
FACT_TOPICS = (SALE_TOPIC, RETURN_TOPIC, WRITE_OFF_TOPIC, FINE_TOPIC)

PROMOTION_REASON = "promotion"


# --- facts --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One dated fact that a statement counts."""

    kind: str  # "sale", "return", "write_off", "fine"
    id: str
    day: date
    amount: int
    position: int
    rep_id: str | None = None  # sale, fine: the rep; return, write-off: the sale's rep
    sale_id: str | None = None  # return, write-off

    @property
    def period(self) -> str:
        return month_of(self.day)

    def ref(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "date": self.day.isoformat(),
                "position": self.position}


@dataclass(frozen=True)
class SaleRef:
    rep_id: str
    day: date


@dataclass
class RepMonth:
    """One rep's facts of one month, ready for the engine."""

    sales: list[SaleLine] = field(default_factory=list)
    returns: list[ReturnLine] = field(default_factory=list)  # same-month returns
    taken_back: list[tuple[Fact, SaleRef]] = field(default_factory=list)  # clawbacks
    fines: list[Fine] = field(default_factory=list)

    @property
    def personal_sales(self) -> int:
        return personal_sales(self.sales, self.returns)


def _occurred_on(event: Any) -> date:
    return business_date(datetime.fromisoformat(event.meta["occurred_at"]))


def fact_of(position: int, event: Any, rep_ids: dict[UUID, str]) -> Fact | None:
    """The fact a domain event of ``FACT_TOPICS`` records (None for any other event)."""
    if isinstance(event, Customer.SaleRecorded):
        return Fact("sale", event.sale_id, date.fromisoformat(event.invoice_date), event.gross,
                    position, rep_id=event.rep_id)
    if isinstance(event, Customer.ReturnRecorded):
        return Fact("return", event.return_id, _occurred_on(event), event.amount, position,
                    sale_id=event.sale_id)
    if isinstance(event, Customer.ReceivableWrittenOff):
        return Fact("write_off", event.writeoff_id, _occurred_on(event), event.amount, position,
                    sale_id=event.sale_id)
    if isinstance(event, Rep.Fined):
        return Fact("fine", event.fine_id, date.fromisoformat(event.fined_on), event.amount,
                    position, rep_id=rep_ids.get(event.originator_id))
    return None


# --- the close ----------------------------------------------------------------------


class CloseRun:
    """One close: the facts it read, the statements and events it decides."""

    def __init__(self, ctx: Context, period: str, closings: Closings, stop: int) -> None:
        self.ctx = ctx
        self.uow = ctx.uow
        self.period = period
        self.closings = closings
        self.stop = stop
        self.previous = closings.last_closed
        self.first_closed = closings.first_closed
        self.late_after = closings.log_position_of(self.previous) if self.previous else None
        self.start = closings.scan_from(period)
        self.next_scan_from = stop + 1
        self.reps: dict[str, Rep] = {}
        self.trainees: dict[str, list[str]] = {}
        self.rep_ids: dict[UUID, str] = {}
        self.sales: dict[str, SaleRef] = {}
        self.by_month: dict[str, dict[tuple[str, str], Fact]] = {}
        self.complete: set[str] = set()
        self.late: list[Fact] = []
        self.revised_rates: dict[tuple[str, str], Decimal] = {}
        self._plans: dict[str, Plan] = {}
        self._index: dict[str, dict[str, RepMonth]] = {}

    # --- reading the log ------------------------------------------------------------

    def _read(self, topics: tuple[str, ...], start: int, stop: int) -> Iterable[tuple[int, Any]]:
        if start > stop:
            return ()
        return self.uow.read_log(topics, stop=stop, start=start)  # type: ignore[call-arg]

    def load_reps(self) -> None:
        for _, event in self._read((REP_TOPIC,), 1, self.stop):
            rep = self.uow.get(Rep, event.rep_id)
            if rep is None:  # pragma: no cover - a registered rep always loads
                continue
            self.reps[rep.rep_id] = rep
            self.rep_ids[event.originator_id] = rep.rep_id
            if rep.trainer_id is not None:
                self.trainees.setdefault(rep.trainer_id, []).append(rep.rep_id)

    def sale_of(self, sale_id: str) -> SaleRef | None:
        """The rep and invoice date of a sale: seen in the scans, else from its customer."""
        if sale_id not in self.sales:
            claim = self.uow.get(Claim, "sale", sale_id)
            customer = self.uow.get(Customer, claim.owner_id) if claim is not None else None
            item = customer.receivables.get(sale_id) if customer is not None else None
            if item is None:
                return None
            self.sales[sale_id] = SaleRef(item.rep_id, item.invoice_date)
        return self.sales[sale_id]

    def _resolved(self, fact: Fact) -> Fact | None:
        """A return or write-off with its sale's rep, dated no earlier than the sale."""
        if fact.sale_id is None:
            return fact if fact.rep_id is not None else None
        sale = self.sale_of(fact.sale_id)
        if sale is None:  # pragma: no cover - a return always references a known sale
            return None
        return Fact(fact.kind, fact.id, max(fact.day, sale.day), fact.amount, fact.position,
                    rep_id=sale.rep_id, sale_id=fact.sale_id)

    def _scan(self, start: int, stop: int) -> Iterable[Fact]:
        for position, event in self._read(FACT_TOPICS, start, stop):
            raw = fact_of(position, event, self.rep_ids)
            if raw is None:
                continue
            if raw.kind == "sale":
                self.sales.setdefault(raw.id, SaleRef(raw.rep_id or "", raw.day))
            fact = self._resolved(raw)
            if fact is not None:
                yield fact

    def _keep(self, fact: Fact) -> None:
        self.by_month.setdefault(fact.period, {})[(fact.kind, fact.id)] = fact

    def scan_main(self) -> None:
        """Facts dated in the month or earlier from ``start`` to ``stop``; late facts; and
        where facts dated after the month begin (the next close's ``scan_from``)."""
        for fact in self._scan(self.start, self.stop):
            if fact.period > self.period:
                self.next_scan_from = min(self.next_scan_from, fact.position)
                continue
            self._keep(fact)
            if (self.late_after is not None and fact.position > self.late_after
                    and self.first_closed is not None
                    and self.first_closed <= fact.period <= (self.previous or "")):
                self.late.append(fact)
        self.complete.add(self.period)
        if self.start <= 1:
            self.complete.update(self.by_month)

    def ensure_month(self, period: str) -> None:
        """Make sure every fact dated in ``period`` (before this month) is known."""
        if period in self.complete or self.start <= 1:
            return
        start = self.closings.scan_from(period) if self.closings.is_closed(period) else 1
        for fact in self._scan(start, self.start - 1):
            if fact.period == period:
                self._keep(fact)
        self.complete.add(period)
        self._index.pop(period, None)

    # --- a month's statement --------------------------------------------------------

    def plan(self, period: str) -> Plan:
        version = self.ctx.policy(PLAN_POLICY, month(period).first)
        if version.version not in self._plans:
            self._plans[version.version] = load_plan(dict(version.values))
        return self._plans[version.version]

    def index(self, period: str) -> dict[str, RepMonth]:
        if period not in self._index:
            self.ensure_month(period)
            reps: dict[str, RepMonth] = {}
            facts = sorted(self.by_month.get(period, {}).values(), key=lambda f: f.position)
            for f in facts:
                assert f.rep_id is not None
                rm = reps.setdefault(f.rep_id, RepMonth())
                if f.kind == "sale":
                    rm.sales.append(SaleLine(f.id, f.day, f.amount))
                elif f.kind == "fine":
                    rm.fines.append(Fine(f.id, f.day, f.amount))
                else:
                    assert f.sale_id is not None
                    sale = self.sales[f.sale_id]
                    if f.kind == "return" and month_of(sale.day) == period:
                        rm.returns.append(ReturnLine(f.id, f.sale_id, f.day, f.amount))
                    else:
                        rm.taken_back.append((f, sale))
            self._index[period] = reps
        return self._index[period]

    def rate_of(self, rep_id: str, period: str) -> Decimal:
        """The rate of a rep's month, as a clawback of one of its sales uses it."""
        if (rep_id, period) in self.revised_rates:
            return self.revised_rates[(rep_id, period)]
        rep = self.reps.get(rep_id)
        booked = rep.booked(period) if rep is not None else None
        if booked is not None:
            return Decimal(booked["rate"])
        rm = self.index(period).get(rep_id, RepMonth())
        return tier_rate(self.plan(period), rm.personal_sales)

    def trainee_sales(self, rep_id: str, period: str) -> tuple[tuple[str, int], ...]:
        index = self.index(period)
        return tuple(sorted((t, index[t].personal_sales) for t in self.trainees.get(rep_id, ())
                            if t in index and index[t].sales))

    def month_input(self, rep_id: str, period: str, rank: str,
                    adjustments: Iterable[Adjustment] = ()) -> MonthInput:
        rm = self.index(period).get(rep_id, RepMonth())
        own_rate = tier_rate(self.plan(period), rm.personal_sales)
        clawbacks = []
        for fact, sale in rm.taken_back:
            sale_period = month_of(sale.day)
            rate = own_rate if sale_period == period else self.rate_of(rep_id, sale_period)
            assert fact.sale_id is not None
            clawbacks.append(Clawback(fact.id, fact.kind, fact.sale_id, sale_period,
                                      fact.amount, rate))
        return MonthInput(rep_id, period, rank, tuple(rm.sales), tuple(rm.returns),
                          self.trainee_sales(rep_id, period), tuple(clawbacks),
                          tuple(rm.fines), tuple(adjustments))

    # --- late facts -----------------------------------------------------------------

    def late_adjustments(self) -> dict[str, list[Adjustment]]:
        """Per rep, the adjustments of earlier months that land in this close."""
        touched: dict[tuple[str, str], list[Fact]] = {}
        # by date and id, not by position: the event must not depend on recording order
        for fact in sorted(self.late, key=lambda f: (f.day, f.kind, f.id)):
            assert fact.rep_id is not None
            touched.setdefault((fact.period, fact.rep_id), []).append(fact)
            moves_sales = fact.kind == "sale" or (
                fact.kind == "return" and fact.sale_id is not None
                and month_of(self.sales[fact.sale_id].day) == fact.period)
            trainer = self.reps[fact.rep_id].trainer_id if fact.rep_id in self.reps else None
            if moves_sales and trainer is not None:
                touched.setdefault((fact.period, trainer), [])
        out: dict[str, list[Adjustment]] = {}
        for period, rep_id in sorted(touched):
            rep = self.reps.get(rep_id)
            if rep is None:
                continue
            booked = rep.booked(period)
            rank = booked["rank"] if booked else rep.rank_on(month(period).first)
            plan = self.plan(period)
            revised = compute_statement(plan, self.month_input(rep_id, period, rank))
            facts = touched[(period, rep_id)]
            before = booked or _zero_figures(rank, plan.version)
            if not facts and statement_figures(revised) == before:
                continue
            names = ", ".join(f"{f.kind} {f.id}" for f in facts) or "trainees' late facts"
            adj = late_adjustment(f"late:{period}", before, revised,
                                  note=f"late facts for {period}: {names}",
                                  facts=[f.ref() for f in facts])
            self.revised_rates[(rep_id, period)] = revised.rate
            out.setdefault(rep_id, []).append(adj)
        return out

    # --- deciding -------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.load_reps()
        self.scan_main()
        adjustments = self.late_adjustments()
        plan = self.plan(self.period)
        first = month(self.period).first
        next_first = month(next_month(self.period)).first
        accrued, total, promotions = 0, 0, []
        for rep_id in sorted(self.reps):
            rep = self.reps[rep_id]
            inp = self.month_input(rep_id, self.period, rep.rank_on(first),
                                   adjustments.get(rep_id, ()))
            st = compute_statement(plan, inp)
            if not st.lines and st.total == 0:
                continue  # nothing happened: the query answers zeros (no event)
            self.accrue(rep, st, inp, plan)
            accrued += 1
            total += st.total
            base = rep.rank_on(next_first)
            rank, evidence = evaluate_promotion(plan, base, st.personal_sales, inp.trainees)
            if rank is not None:
                rep.change_rank(
                    rank=rank, previous_rank=base, effective_from=next_first.isoformat(),
                    reason=PROMOTION_REASON, decided_by=self.ctx.cmd.actor,
                    evidence={"kind": PROMOTION_REASON, "period": self.period,
                              "plan_version": plan.version, **evidence,
                              "trainees": _trainees_json(inp.trainees)},
                    meta=self.ctx.meta,
                )
                promotions.append({"rep_id": rep_id, "rank": rank, "previous_rank": base})
            self.uow.add(rep)
        return {
            "plan_version": plan.version, "as_of_position": self.stop,
            "scan_from": self.start, "next_scan_from": self.next_scan_from,
            "reps_accrued": accrued, "accrued_total": total, "promotions": promotions,
            "late_facts": len(self.late),
            "adjustments": [{"rep_id": r, "period": a.period, "amount": a.amount}
                            for r in sorted(adjustments) for a in adjustments[r]],
        }

    def accrue(self, rep: Rep, st: Statement, inp: MonthInput, plan: Plan) -> None:
        body = statement_to_json(st)
        rep.accrue(
            period=st.period, plan_version=st.plan_version, rank=st.rank,
            personal_sales=st.personal_sales, morning_star_sales=st.morning_star_sales,
            rate=body["rate"], commission=st.commission,
            morning_star_bonus=st.morning_star_bonus, opening_star_bonus=st.opening_star_bonus,
            override=st.override, clawback=st.clawback, fines=st.fines,
            adjustments=st.adjustments, total=st.total, payable_on=body["payable_on"],
            override_payable_on=body["override_payable_on"], lines=body["lines"],
            trainees=_trainees_json(inp.trainees),
            rows_met=sorted(rows_met(plan, st.personal_sales, inp.trainees),
                            key=[r.rank for r in plan.promotion].index),
            as_of_position=self.stop, meta=self.ctx.meta,
        )


def _trainees_json(trainees: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"rep_id": rep_id, "personal_sales": amount} for rep_id, amount in trainees]


def _zero_figures(rank: str, plan_version: str) -> dict[str, Any]:
    return {"rank": rank, "plan_version": plan_version, "personal_sales": 0, "rate": "0",
            "commission": 0, "morning_star_bonus": 0, "opening_star_bonus": 0, "override": 0,
            "clawback": 0, "fines": 0, "total": 0}


def compute_close(ctx: Context, period: str, closings: Closings,
                  stop: int | None = None) -> dict[str, Any]:
    """Accrue ``period`` for every rep from the log up to ``stop`` (default: its end),
    record promotions, and answer the close's summary (kept on ``MonthClosed``)."""
    if stop is None:
        stop = ctx.uow.log_position()
    return CloseRun(ctx, period, closings, stop).run()
