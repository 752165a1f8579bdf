"""What CloseMonth computes (SPEC 2.5; SPEC 5.2 CloseMonth; SPEC 5.3 `commission`).

A close of month M reads the log up to one position (``stop``, recorded on the close) and
records, for every registered rep with something in the month, one ``Rep.CommissionAccrued``
carrying the whole statement, and a ``Rep.RankChanged`` (reason ``promotion``) for every rep
whose month meets a higher promotion row. Given the log up to ``stop`` and the reps'
aggregates, the result is fixed: facts are read by position, every list is sorted by id
before it meets the plan engine, reps are closed in ``rep_id`` order. So the order in
which independent facts were recorded never matters, and a re-run computes the same.

Which facts a rep's month counts, clawback rates and late facts (a fact dated in a closed
month and recorded after its close: its effect lands as an adjustment of M) are the rules
of ``ledger.domain.commission_month``, shared with the commission query before the close.
This module reads those facts from the log and records what the rules decide:

- sales (``Customer.SaleRecorded``): the invoice date and the sale's ``rep_id``;
- returns and write-offs (``Customer.ReturnRecorded``, ``Customer.ReceivableWrittenOff``):
  the date of their ``occurred_at`` and the sale they reference (its rep and invoice date
  from the scans, else from its customer); a return for the ``commission_amount`` its event records
  (not the part that cancelled a written-off amount);
- fines (``Rep.Fined``): ``fined_on`` and the fined rep; a fine's reversal
  (``Rep.FineReversed``, SPEC 2.7) on the fine's ``fined_on``, taking it out of its month;
- reps (``Rep.Registered`` and their aggregates): trainer, rank history, booked months.

Carried (SPEC 2.5): a rep whose month before closed with a negative total gets it as the
``carried`` line of this month's statement when the ``commission`` policy in force on this
month's 1st has ``carry_negative`` (``MonthFacts.carried_into``); the accrual records that
policy's version in ``policy``. A carried line alone makes a statement (the debt moves on
each month until absorbed).

The first close (SPEC 2.5): it reads the whole log, and a fact (sale, return, write-off,
fine) dated in an earlier month is ``period_closed``, naming the earliest such month: that
month could never be closed after it.

Reading: each close reads the fact topics from ``Closings.scan_from(M)`` to ``stop`` (the
previous close saw where facts dated after its month begin), plus, only when late facts
or clawbacks need an older month in full, that month's own range (``MonthFacts``'s
``fetch``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.domain.calendar import business_date, month, next_month
from ledger.domain.commission_month import Fact, MonthFacts, RepRecord
from ledger.domain.commission_plan import (
    MonthInput,
    Plan,
    Statement,
    compute_statement,
    evaluate_promotion,
    load_plan,
    rows_met,
    statement_to_json,
)
from ledger.domain.errors import Rejection
from ledger.domain.events import topics
from ledger.domain.handlers.context import Context
from ledger.domain.model import Closings, Customer, Rep
from ledger.domain.model.records import Claim
from ledger.domain.policies import COMMISSION_POLICY, PLAN_POLICY, carry_negative

# the facts a close reads (by their event classes; ``topics`` for the log read)
FACT_EVENTS = (Customer.SaleRecorded, Customer.ReturnRecorded, Customer.ReceivableWrittenOff,
               Rep.Fined, Rep.FineReversed)
FACT_TOPICS = topics(*FACT_EVENTS)
REP_TOPICS = topics(Rep.Registered)

PROMOTION_REASON = "promotion"


@dataclass(frozen=True)
class SaleRef:
    rep_id: str
    day: date


def _occurred_on(event: Any) -> date:
    return business_date(datetime.fromisoformat(event.meta["occurred_at"]))


class CloseRun:
    """One close: the facts it read, the statements and events it decides."""

    def __init__(self, ctx: Context, period: str, closings: Closings, stop: int) -> None:
        self.ctx = ctx
        self.uow = ctx.uow
        self.period = period
        self.closings = closings
        self.stop = stop
        self.start = closings.scan_from(period)
        self.next_scan_from = stop + 1
        self.reps: dict[str, Rep] = {}
        self.rep_ids: dict[UUID, str] = {}
        self.sales: dict[str, SaleRef] = {}
        self._plans: dict[str, Plan] = {}

    # --- reading the log ------------------------------------------------------------

    def _read(self, topics: tuple[str, ...], start: int, stop: int) -> Iterable[tuple[int, Any]]:
        if start > stop:
            return ()
        return self.uow.read_log(topics, stop=stop, start=start)

    def load_reps(self) -> None:
        for _, event in self._read(REP_TOPICS, 1, self.stop):
            rep = self.uow.get(Rep, event.rep_id)
            if rep is None:  # pragma: no cover - a registered rep always loads
                continue
            self.reps[rep.rep_id] = rep
            self.rep_ids[event.originator_id] = rep.rep_id

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

    def fact_of(self, position: int, event: Any) -> Fact | None:
        """The fact a domain event of ``FACT_EVENTS`` records (None for any other event)."""
        if isinstance(event, Customer.SaleRecorded):
            day = date.fromisoformat(event.invoice_date)
            self.sales.setdefault(event.sale_id, SaleRef(event.rep_id, day))
            return Fact.sale(event.sale_id, event.rep_id, day, event.gross, position)
        if isinstance(event, Rep.Fined):
            rep_id = self.rep_ids.get(event.originator_id)
            return None if rep_id is None else Fact.fine(
                event.fine_id, rep_id, date.fromisoformat(event.fined_on), event.amount, position)
        if isinstance(event, Rep.FineReversed):  # SPEC 2.7: dated on the fine's own date
            rep_id = self.rep_ids.get(event.originator_id)
            return None if rep_id is None else Fact.fine_reversal(
                event.fine_id, rep_id, date.fromisoformat(event.fined_on), event.amount, position)
        if isinstance(event, Customer.ReturnRecorded):
            kind, ref_id = "return", event.return_id
            amount = event.commission_amount
        elif isinstance(event, Customer.ReceivableWrittenOff):
            kind, ref_id, amount = "write_off", event.writeoff_id, event.amount
        else:
            return None
        sale = self.sale_of(event.sale_id)
        if sale is None:  # pragma: no cover - a return always references a known sale
            return None
        return Fact.taken_back(kind, ref_id, _occurred_on(event), amount, position,
                               sale_id=event.sale_id, sale_rep_id=sale.rep_id, sale_day=sale.day)

    def _scan(self, start: int, stop: int) -> Iterable[Fact]:
        for position, event in self._read(FACT_TOPICS, start, stop):
            fact = self.fact_of(position, event)
            if fact is not None:
                yield fact

    def scan_main(self) -> list[Fact]:
        """Facts dated in the month or earlier from ``start`` to ``stop``; and where facts
        dated after the month begin (the next close's ``scan_from``)."""
        kept = []
        for fact in self._scan(self.start, self.stop):
            if fact.period > self.period:
                self.next_scan_from = min(self.next_scan_from, fact.position)
            else:
                kept.append(fact)
        return kept

    def older_month(self, period: str) -> Iterable[Fact]:
        """The facts dated in ``period`` (before this month) that lie before ``start``."""
        start = self.closings.scan_from(period) if self.closings.is_closed(period) else 1
        return [f for f in self._scan(start, self.start - 1) if f.period == period]

    def plan(self, period: str) -> Plan:
        version = self.ctx.policy(PLAN_POLICY, month(period).first)
        if version.version not in self._plans:
            self._plans[version.version] = load_plan(dict(version.values))
        return self._plans[version.version]

    def month_facts(self) -> MonthFacts:
        """The facts read so far, the reps and the closes, for the rules."""
        reps = [RepRecord(r.rep_id, r.trainer_id, tuple(r.ranks), dict(r.months),
                          dict(r.accrued))
                for r in self.reps.values()]
        closed = {p: self.closings.log_position_of(p) for p in self.closings.closed}
        everything = self.start <= 1  # the scan read the whole log up to stop
        facts = self.scan_main()
        if not closed:
            self.check_nothing_orphaned(facts)
        return MonthFacts(reps, self.plan, closed, facts,
                          fetch=None if everything else self.older_month,
                          complete=(self.period,), carry=self.carry)

    def carry(self, period: str) -> tuple[str, bool]:
        """The ``commission`` policy in force on the month's 1st (SPEC 2.5 carried)."""
        return carry_negative(self.ctx.policy(COMMISSION_POLICY, month(period).first))

    def check_nothing_orphaned(self, facts: Iterable[Fact]) -> None:
        """SPEC 2.5: the first close may not leave an earlier month holding sales, returns,
        write-offs or fines unclosed (it could never be closed after it). ``facts``: every
        fact dated in the month or earlier (the first close reads the whole log)."""
        earlier = sorted((f for f in facts if f.period < self.period),
                         key=lambda f: (f.day, f.kind, f.id))
        if earlier:
            first = earlier[0]
            raise Rejection(
                "period_closed",
                f"{self.period} cannot be the first month closed: {first.period} holds facts "
                f"and would stay open (the earliest: {first.kind} {first.id} of {first.day}); "
                f"close {first.period} first",
                period=self.period, earliest_open=first.period, fact_kind=first.kind,
                fact_id=first.id, fact_date=first.day.isoformat(),
                facts_before=len(earlier),
            )

    # --- deciding -------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.load_reps()
        facts = self.month_facts()
        plan = self.plan(self.period)
        next_first = month(next_month(self.period)).first
        accrued, total, promotions, carried = 0, 0, [], []
        for rep_id in sorted(self.reps):
            rep = self.reps[rep_id]
            inp = facts.statement_input(rep_id, self.period)
            st = compute_statement(plan, inp)
            if not st.lines and st.total == 0:
                continue  # nothing happened: the query answers zeros (no event)
            self.accrue(rep, st, inp, plan)
            if st.carried:
                carried.append({"rep_id": rep_id, "from": inp.carried_from, "amount": st.carried})
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
            "late_facts": len(facts.late_facts()),
            "adjustments": [{"rep_id": r, "period": a.period, "amount": a.amount}
                            for r in sorted(self.reps) for a in facts.late_adjustments(r)],
            "carried": carried,
        }

    def accrue(self, rep: Rep, st: Statement, inp: MonthInput, plan: Plan) -> None:
        body = statement_to_json(st)
        rep.accrue(
            period=st.period, plan_version=st.plan_version, rank=st.rank,
            personal_sales=st.personal_sales, morning_star_sales=st.morning_star_sales,
            rate=body["rate"], commission=st.commission,
            morning_star_bonus=st.morning_star_bonus, opening_star_bonus=st.opening_star_bonus,
            override=st.override, clawback=st.clawback, fines=st.fines,
            adjustments=st.adjustments, carried=st.carried, total=st.total,
            payable_on=body["payable_on"],
            override_payable_on=body["override_payable_on"], lines=body["lines"],
            trainees=_trainees_json(inp.trainees),
            rows_met=sorted(rows_met(plan, st.personal_sales, inp.trainees),
                            key=[r.rank for r in plan.promotion].index),
            as_of_position=self.stop,
            policy={COMMISSION_POLICY: self.carry(self.period)[0]}, meta=self.ctx.meta,
        )


def _trainees_json(trainees: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"rep_id": rep_id, "personal_sales": amount} for rep_id, amount in trainees]


def compute_close(ctx: Context, period: str, closings: Closings,
                  stop: int | None = None) -> dict[str, Any]:
    """Accrue ``period`` for every rep from the log up to ``stop`` (default: its end),
    record promotions, and answer the close's summary (kept on ``MonthClosed``)."""
    if stop is None:
        stop = ctx.uow.log_position()
    return CloseRun(ctx, period, closings, stop).run()
