"""Property (hypothesis), on SQLite and PostgreSQL: over random streams of sales, payments
(allocated or FIFO, received before or after the sales they settle, recorded later than
received), returns, write-offs, recoveries, fines, payouts, expense spends, month closes
and reversals (SPEC 2.7: of a payment, a fine, a payout or a spend, dated on or after what
it reverses), recorded in
an order unrelated to their business dates, the general ledger and every sub-ledger agree
as of every date (SPEC 1, SPEC 3): ``reconcile(as_of=D)`` is ok, the trial balance sums to
zero, receivables equal the aging total and the KPIs' open total, and no control account or customer balance goes
negative on any date."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stores import fresh_ledger, require_postgres
from support import at, cmd, sale, setup_company

from ledger.domain.calendar import month
from ledger.projections.aging import query_aging
from ledger.projections.budgets import BudgetsProjection
from ledger.projections.commissions import CommissionsProjection
from ledger.bootstrap import projector_over
from ledger.projections.engine import Projector
from ledger.projections.general_ledger import GeneralLedger, trial_balance
from ledger.projections.kpis import KpisProjection, query_kpis
from ledger.projections.common import fen_sum, report_date
from ledger.projections.receivables import (
    ReceivablesProjection,
    aging_policy,
    at_risk_customers,
    query_receivables,
    sales_as_of,
)
from ledger.domain.receivables import (
    CLASSES,
    aging_bucket,
    bucket_names,
    days_past_due,
    receivable_class,
)
from ledger.projections.reconcile import query_reconcile

START = date(2024, 1, 1)
CUSTOMERS = ("C1", "C2")
REPS = ("R1", "R2")
PERIODS = ("2024-01", "2024-02", "2024-03", "2024-04")


def _day(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


days = st.integers(0, 110)
ops = st.one_of(
    # a sale of n x 10,000 fen, dated `day`
    st.tuples(st.just("sale"), st.sampled_from(CUSTOMERS), st.sampled_from(REPS),
              st.integers(1, 300), days),
    # a payment received on `day`: FIFO, or part allocated to one of the customer's sales
    # (per mille of its gross)
    st.tuples(st.just("payment"), st.sampled_from(CUSTOMERS), st.integers(1, 2_000_000), days,
              st.one_of(st.none(), st.tuples(st.integers(0, 20), st.sampled_from((250, 1000))))),
    st.tuples(st.just("return"), st.integers(0, 20), st.sampled_from((100, 500, 1000)), days),
    st.tuples(st.just("write_off"), st.integers(0, 20), st.sampled_from((300, 1000)), days),
    st.tuples(st.just("fine"), st.sampled_from(REPS), st.integers(1, 50_000), days),
    st.tuples(st.just("payout"), st.sampled_from(REPS), st.integers(1, 100_000), days),
    st.tuples(st.just("close")),
    # an expense of the budget B1 spent on `day` (submitted and approved the days before)
    st.tuples(st.just("spend"), st.integers(1, 500_000), st.integers(2, 110)),
    # a reversal of one of the payments, fines, payouts or spends so far, dated `delay`
    # days after it (a payment's: after the payment, not necessarily after its joins)
    st.tuples(st.just("reverse"), st.integers(0, 20), st.integers(0, 40)),
)
cases = {
    "stream": st.lists(ops, min_size=4, max_size=22),
    "dates": st.lists(st.integers(-1, 130), min_size=3, max_size=6),
    "batch_size": st.sampled_from((2, 1000)),
}


class Stream:
    """Turns the generated ops into commands; a command the rules refuse is just refused."""

    def __init__(self) -> None:
        self.sales: dict[str, list[tuple[str, int]]] = {c: [] for c in CUSTOMERS}
        self.all_sales: list[tuple[str, int]] = []
        self.closed = 0
        self.n = 0
        self.reversible: list[tuple[dict[str, Any], int]] = []  # (command, its day)

    def bodies(self, op: tuple[Any, ...]) -> list[dict[str, Any]]:
        """The commands of one op (a spend is three: submit, approve, spend)."""
        if op[0] == "spend":
            self.n += 1
            n, (amount, day) = self.n, op[1:]
            spend = cmd("RecordExpenseSpend", "fin", expense_id=f"E{n}", amount=amount,
                        invoice_no=f"I-{n}", paid_on=_day(day), **at(_day(day)))
            self.reversible.append((spend, day))
            return [cmd("SubmitExpense", "sa", expense_id=f"E{n}", budget_id="B1", amount=amount,
                        description="ads", planned_on=_day(day), **at(_day(day - 2))),
                    cmd("ApproveExpense", "mgr", expense_id=f"E{n}", **at(_day(day - 1))),
                    spend]
        body = self.body(op)
        if body is not None and body["command"] in ("RecordPayment", "FineRep", "PayCommission"):
            self.reversible.append((body, int(op[3])))  # its day: op[3] for all three
        return [] if body is None else [body]

    def body(self, op: tuple[Any, ...]) -> dict[str, Any] | None:
        self.n += 1
        n, kind, args = self.n, op[0], op[1:]
        if kind == "reverse":
            if not self.reversible:
                return None
            index, delay = args
            target, day = self.reversible[index % len(self.reversible)]
            return cmd("Reverse", "fin", reversal_id=f"V{n}",
                       target_command_id=target["command_id"], reason="recorded by mistake",
                       approved_by="mgr" if target["command"] == "FineRep" else "dir",
                       **at(_day(day + delay)))
        if kind == "sale":
            customer, rep, quantity, day = args
            self.sales[customer].append((f"S{n}", quantity * 10_000))
            self.all_sales.append((f"S{n}", quantity * 10_000))
            return sale(f"S{n}", quantity, customer=customer, rep=rep, day=_day(day))
        if kind == "payment":
            customer, amount, day, allocation = args
            extra: dict[str, Any] = {}
            mine = self.sales[customer]
            if allocation is not None and mine:
                sale_id, gross = mine[allocation[0] % len(mine)]
                extra["allocations"] = [{"sale_id": sale_id,
                                         "amount": min(amount, max(1, gross * allocation[1] // 1000))}]
            return cmd("RecordPayment", "fin", payment_id=f"P{n}", customer_id=customer,
                       amount=amount, received_on=_day(day), **extra, **at(_day(day)))
        if kind in ("return", "write_off"):
            if not self.all_sales:
                return None
            index, per_mille, day = args
            sale_id, gross = self.all_sales[index % len(self.all_sales)]
            amount = max(1, gross * per_mille // 1000)
            if kind == "return":
                return cmd("RecordReturn", "sa", return_id=f"RT{n}", sale_id=sale_id, amount=amount,
                           approved_by="mgr", reason="returned", **at(_day(day)))
            return cmd("WriteOffReceivable", "fin", writeoff_id=f"W{n}", sale_id=sale_id,
                       amount=amount, approved_by="dir", reason="uncollectable", **at(_day(day)))
        if kind == "fine":
            rep, amount, day = args
            return cmd("FineRep", "fin", fine_id=f"F{n}", rep_id=rep, amount=amount,
                       reason="rule broken", approved_by="mgr", **at(_day(day)))
        if kind == "payout":
            rep, amount, day = args
            return cmd("PayCommission", "fin", payout_id=f"PO{n}", rep_id=rep, period=PERIODS[0],
                       amount=amount, paid_on=_day(day), **at(_day(day)))
        if self.closed >= len(PERIODS):
            return None
        period = PERIODS[self.closed]
        self.closed += 1
        return cmd("CloseMonth", "fin", period=period,
                   **at((month(period).last + timedelta(days=1)).isoformat()))


def _check(projector: Projector, as_of: str | None) -> None:
    report = query_reconcile(projector, as_of)
    assert report["ok"], (as_of, report)
    tb = trial_balance(projector, as_of=as_of)
    assert tb["debit_total"] == tb["credit_total"], as_of
    balance = {a["account"]: a["debit"] - a["credit"] for a in tb["accounts"]}
    aging = query_aging(projector, as_of=as_of)
    assert balance.get("receivables", 0) == aging["total"], as_of
    assert aging == _aging_of_every_sale(projector, as_of), as_of
    if as_of is not None:  # the KPIs' open receivables as of D count as the receivables do
        assert query_kpis(projector, as_of=as_of)["total"]["open"] == balance.get("receivables", 0)
    assert balance.get("receivables", 0) >= 0, (as_of, balance)
    assert balance.get("customer_credit", 0) <= 0, (as_of, balance)
    for customer in CUSTOMERS:
        doc = query_receivables(projector, customer, as_of=as_of)
        assert doc["customer_credit"] >= 0, (as_of, doc)
        assert all(i["open"] >= 0 for i in doc["items"]), (as_of, doc)


def _aging_of_every_sale(projector: Projector, as_of: str | None) -> dict[str, Any]:
    """The aging report figured as it was before the ``balances`` rows: every sale
    invoiced by the date, with its movements dated by then (``sales_as_of``), classed and
    bucketed one by one."""
    p = next(x for x in projector.projections if isinstance(x, ReceivablesProjection))
    day, upto = report_date(projector, as_of)
    with projector.transaction(commit=False) as sql:
        sales = sales_as_of(sql, p, upto)
        at_risk = at_risk_customers(sql, p, upto)
        policy = aging_policy(sql, p, day)
    classes = dict.fromkeys(CLASSES, 0)
    buckets = dict.fromkeys(bucket_names(policy), 0)
    for s in sales:
        classes["bad_debt"] += s.written_off
        if s.open > 0:
            dpd = days_past_due(date.fromisoformat(s.due_on), day)
            classes[receivable_class(dpd, s.customer_id in at_risk, policy)] += s.open
            buckets[aging_bucket(dpd, policy)] += s.open
    return {"as_of": day.isoformat(), "total": sum(buckets.values()), "classes": classes,
            "buckets": buckets}


def _balances_add_up(projector: Projector) -> None:
    """Each sale's ``balances`` row holds the sums of its movements and their latest date."""
    p = next(x for x in projector.projections if isinstance(x, ReceivablesProjection))
    with projector.transaction(commit=False) as sql:
        kept = sql.all(f"SELECT sale_id, customer_id, due_on, invoice_date, open_amount, "
                       f"unrecovered, last_date FROM {p.t('balances')} ORDER BY sale_id")
        summed = sql.all(
            f"SELECT s.sale_id, s.customer_id, s.due_on, s.invoice_date, "
            f"{fen_sum('m.open_delta')} AS open_amount, "
            f"{fen_sum('m.unrecovered_delta')} AS unrecovered, MAX(m.business_date) AS last_date "
            f"FROM {p.t('sales')} s JOIN {p.t('movements')} m ON m.sale_id = s.sale_id "
            "GROUP BY s.sale_id, s.customer_id, s.due_on, s.invoice_date ORDER BY s.sale_id")
    assert [tuple(r.values()) for r in kept] == [tuple(r.values()) for r in summed]


def _run(backend: str, stream: list, dates: list[int], batch_size: int) -> None:
    with fresh_ledger(backend) as ledger:
        setup_company(ledger, credit_limit=10_000_000_000)
        maker = Stream()
        bodies = [cmd("AllocateBudget", "fin", budget_id="B1", department="mkt",
                      category="advertising", period="2024", amount=3_000_000,
                      approved_by="dir", **at("2023-12-01"))]
        bodies += [b for op in stream for b in maker.bodies(op)]
        answers = ledger.execute(bodies)
        assert len(answers) == len(bodies)
        projector = projector_over(ledger, [cls() for cls in (
            GeneralLedger, ReceivablesProjection, BudgetsProjection, CommissionsProjection,
            KpisProjection)])
        projector.catch_up(batch_size=batch_size)
        _balances_add_up(projector)
        checked = {_day(d) for d in dates if d >= 0} | {month(p).last.isoformat() for p in PERIODS}
        for as_of in [None, *sorted(checked)]:
            _check(projector, as_of)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**cases)
def test_every_date_reconciles_sqlite(stream, dates, batch_size):
    _run("sqlite", stream, dates, batch_size)


@pytest.mark.postgres
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**cases)
def test_every_date_reconciles_postgres(stream, dates, batch_size):
    require_postgres()
    _run("postgres", stream, dates, batch_size)
