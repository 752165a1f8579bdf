"""Projections reach the same state whatever the batch sizes or restarts on the way, each
event applied exactly once (SPEC 3): one event per transaction, 500 per transaction and
odd sizes with a restart in between give identical tables over random command sequences
(both stores); the figures agree with the aggregates' own; and a catch-up killed with
SIGKILL in the middle of a transaction resumes to the tables of an uninterrupted run into
another schema holding the same log (PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.sql import SQL, Identifier
from scenarios import MINE, build_receivables, dump, projector
from stores import pg_execute, scratch_database

from ledger.application import Ledger
from ledger.domain.model import Budget
from ledger.projections.budgets import query_budget
from ledger.bootstrap import projector_over
from ledger.projections.engine import Projector
from ledger.projections.aging import query_aging
from ledger.projections.receivables import query_receivables
from support import all_applied, budget_state, cmd, customer_state, sale, setup_company

ROOT = Path(__file__).resolve().parents[2]

# --- random command sequences ------------------------------------------------------------------

days = st.integers(0, 180).map(lambda d: (date(2024, 1, 1) + timedelta(days=d)).isoformat())
customers = st.sampled_from(["C1", "C2"])
ops = st.one_of(
    st.tuples(st.just("sale"), customers, st.sampled_from(["R1", "R2"]), st.integers(1, 20),
              st.sampled_from([10_000, 9_500, 8_000]), days),
    st.tuples(st.just("pay"), customers, st.integers(1, 300_000), days,
              st.one_of(st.none(), st.tuples(st.integers(0, 30), st.integers(1, 200_000)))),
    st.tuples(st.just("return"), st.integers(0, 30), st.integers(1, 100_000), days),
    st.tuples(st.just("writeoff"), st.integers(0, 30), st.integers(1, 100_000), days),
    # a sale, part paid, part of the rest written off, then returned (the return may cancel
    # the written-off amount); payment, write-off and return per mille of what they can take
    st.tuples(st.just("writeoff_return"), customers, st.integers(1, 20),
              st.sampled_from([0, 300, 1000]), st.one_of(st.just(1000), st.integers(1, 1000)),
              st.one_of(st.sampled_from([800, 1000]), st.integers(1, 1000)), days,
              st.sampled_from([0, 40])),
    st.tuples(st.just("flag"), customers, st.booleans(), days),
    st.tuples(st.just("terms"), customers, st.integers(0, 500_000), days),
    st.tuples(st.just("submit"), st.integers(1, 300_000), days, st.booleans()),
    st.tuples(st.just("approve"), st.integers(0, 12), st.sampled_from(["mgr", "dir"]), days),
    st.tuples(st.just("reject"), st.integers(0, 12), days),
    st.tuples(st.just("spend"), st.integers(0, 12), st.integers(90, 115), days),
    st.tuples(st.just("adjust"), st.integers(-300_000, 300_000).filter(bool), days),
    st.tuples(st.just("policy"), st.integers(1, 8), days),
)


def _when(day: str, late_hours: int = 0) -> dict[str, str]:
    occurred = datetime.fromisoformat(f"{day}T10:00:00+08:00")
    return {"occurred_at": occurred.isoformat(),
            "reported_at": (occurred + timedelta(hours=late_hours)).isoformat()}


def commands_of(steps: list[tuple], late: list[int]) -> list[dict]:
    """Turn generated steps into commands; indexes pick among the sales and expenses made
    so far (commands that break a rule are simply rejected and record nothing)."""
    bodies: list[dict] = [cmd("AllocateBudget", "fin", budget_id="B1", department="marketing",
                              category="promotion", period="2024", amount=1_000_000,
                              approved_by="dir", **_when("2024-01-01"))]
    sales: list[str] = []
    expenses: list[str] = []
    for i, step in enumerate(steps):
        kind, lateness = step[0], late[i % len(late)]
        if kind == "sale":
            _, customer, rep, qty, price, day = step
            sales.append(f"S{i}")
            body = sale(f"S{i}", qty, price, customer=customer, rep=rep, day=day,
                        credit_approved_by="fin", **({"price_approved_by": "dir"} if price < 10_000 else {}))
            bodies.append({**body, **_when(day, lateness)})
        elif kind == "pay":
            _, customer, amount, day, alloc = step
            extra = {}
            if alloc and sales:
                extra["allocations"] = [{"sale_id": sales[alloc[0] % len(sales)], "amount": alloc[1]}]
            bodies.append(cmd("RecordPayment", "fin", payment_id=f"P{i}", customer_id=customer,
                              amount=amount, received_on=day, **extra, **_when(day, lateness)))
        elif kind in ("return", "writeoff") and sales:
            _, n, amount, day = step
            if kind == "return":
                bodies.append(cmd("RecordReturn", "sa", return_id=f"RT{i}", sale_id=sales[n % len(sales)],
                                  amount=amount, approved_by="mgr", reason="r", **_when(day, lateness)))
            else:
                bodies.append(cmd("WriteOffReceivable", "fin", writeoff_id=f"W{i}",
                                  sale_id=sales[n % len(sales)], amount=amount, approved_by="dir",
                                  reason="w", **_when(day, lateness)))
        elif kind == "writeoff_return":
            _, customer, qty, paid, written_off, returned, day, later = step
            sales.append(f"S{i}")
            gross = qty * 10_000
            paid = gross * paid // 1000
            then = (date.fromisoformat(day) + timedelta(days=later)).isoformat()
            bodies.append({**sale(f"S{i}", qty, customer=customer, day=day, credit_approved_by="fin"),
                           **_when(day, lateness)})
            if paid:
                bodies.append(cmd("RecordPayment", "fin", payment_id=f"P{i}", customer_id=customer,
                                  amount=paid, received_on=day,
                                  allocations=[{"sale_id": f"S{i}", "amount": paid}], **_when(day)))
            if paid < gross:
                bodies.append(cmd("WriteOffReceivable", "fin", writeoff_id=f"W{i}", sale_id=f"S{i}",
                                  amount=max(1, (gross - paid) * written_off // 1000),
                                  approved_by="dir", reason="w", **_when(then, lateness)))
            bodies.append(cmd("RecordReturn", "sa", return_id=f"RT{i}", sale_id=f"S{i}",
                              amount=max(1, gross * returned // 1000), approved_by="mgr",
                              reason="r", **_when(then, lateness)))
        elif kind == "flag":
            _, customer, risky, day = step
            bodies.append(cmd("FlagCustomerAtRisk", "mgr", customer_id=customer, at_risk=risky,
                              reason="f", **_when(day, lateness)))
        elif kind == "terms":
            _, customer, limit, day = step
            bodies.append(cmd("SetCreditTerms", "fin", customer_id=customer, credit_limit=limit,
                              payment_terms_days=30, approved_by="dir", **_when(day, lateness)))
        elif kind == "submit":
            _, amount, day, activity = step
            expenses.append(f"E{i}")
            planned = (date.fromisoformat(day) + timedelta(days=10)).isoformat()
            bodies.append(cmd("SubmitExpense", "sa", expense_id=f"E{i}", budget_id="B1",
                              amount=amount, description="d", planned_on=planned,
                              activity=activity, **_when(day, lateness)))
        elif kind in ("approve", "reject", "spend") and expenses:
            expense = expenses[step[1] % len(expenses)]
            if kind == "approve":
                bodies.append(cmd("ApproveExpense", step[2], expense_id=expense, **_when(step[3])))
            elif kind == "reject":
                bodies.append(cmd("RejectExpense", "fin", expense_id=expense, reason="no",
                                  **_when(step[2])))
            else:
                bodies.append({"_spend": (expense, step[2]), "day": step[3]})
        elif kind == "adjust":
            _, delta, day = step
            bodies.append(cmd("AdjustBudget", "fin", budget_id="B1", delta=delta, approved_by="dir",
                              reason="a", **_when(day)))
        elif kind == "policy":
            _, hours, day = step
            bodies.append(cmd("AdoptPolicy", "dir", policy="reporting", version=f"v{i}",
                              effective_from=day,
                              values={"late_after_hours": hours, "future_tolerance_minutes": 5}))
    return bodies


def run_commands(ledger: Ledger, bodies: list[dict]) -> None:
    """Apply the commands in order; a spend asks for a percentage of what was approved."""
    for body in bodies:
        if "_spend" in body:
            expense, percent = body["_spend"]
            budget = ledger.app.repository.get(Budget.create_id("B1"))
            approved = budget.expenses[expense].approved_amount
            if not approved:
                continue
            body = cmd("RecordExpenseSpend", "fin", expense_id=expense,
                       amount=max(1, approved * percent // 100), invoice_no="F",
                       paid_on=body["day"], **_when(body["day"]))
        ledger.execute_one(body)


def check_against_aggregates(ledger: Ledger, p: Projector, budget: str | None = "B1") -> None:
    opens = 0
    for customer_id in ("C1", "C2"):
        state = customer_state(ledger, customer_id)
        r = query_receivables(p, customer_id)
        assert r["open_total"] == state.open_total
        assert r["customer_credit"] == state.credit
        assert r["written_off"] == sum(x.unrecovered for x in state.receivables.values())
        assert {i["sale_id"]: (i["open"], i["written_off"]) for i in r["items"]} == {
            x.sale_id: (x.open, x.unrecovered) for x in state.receivables.values()
            if x.open or x.unrecovered
        }
        opens += r["open_total"]
    assert query_aging(p)["total"] == opens
    if budget is None:
        return
    figures = budget_state(ledger, budget).figures
    b = query_budget(p, budget)
    assert (b["allocated"], b["committed"], b["spent"], b["remaining"]) == (
        figures.allocated, figures.committed, figures.spent, figures.remaining)


def same_tables_whatever_the_batches(backend, steps, late, odd, split) -> None:
    with scratch_database(backend) as db, Ledger(db) as ledger:
        setup_company(ledger)
        run_commands(ledger, commands_of(steps, late))
        one_by_one = projector(ledger, generation=1, batch_size=1)
        batched = projector(ledger, generation=2, batch_size=500)
        # odd batches, stopped part-way and resumed by a new projector (a restart)
        end = ledger.max_position()
        projector_over(ledger, [cls(3) for cls in MINE]).catch_up(batch_size=odd, stop=int(end * split))
        restarted = projector(ledger, generation=3, batch_size=odd)
        expected = dump(one_by_one)
        assert dump(batched) == expected
        assert dump(restarted) == expected
        check_against_aggregates(ledger, one_by_one)


# few examples: each builds a store and three generations (one event per transaction is
# ~20 ms on PostgreSQL)
def _property(max_steps: int):  # noqa: ANN202
    return given(steps=st.lists(ops, min_size=3, max_size=max_steps),
                 late=st.lists(st.integers(0, 9), min_size=1), odd=st.integers(2, 17),
                 split=st.floats(0, 1))


_settings = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=10, **_settings)
@_property(30)
def test_batch_sizes_and_restarts_give_identical_tables_sqlite(steps, late, odd, split):
    same_tables_whatever_the_batches("sqlite", steps, late, odd, split)


@settings(max_examples=3, **_settings)
@_property(15)
def test_batch_sizes_and_restarts_give_identical_tables_postgres(steps, late, odd, split):
    same_tables_whatever_the_batches("postgres", steps, late, odd, split)


# --- SIGKILL in the middle of a catch-up (PostgreSQL) ---------------------------------------------

KILLED_RUN = textwrap.dedent("""
    import os, sys, time
    from ledger.application import Ledger
    from ledger.config import parse_database_url
    from ledger.bootstrap import projector_over
    from scenarios import MINE

    marker, slow_after = os.environ["KILL_MARKER"], int(os.environ["SLOW_AFTER"])
    applies = 0

    def slowed(apply):
        def wrapped(sql, position, event):
            global applies
            applies += 1
            if applies == slow_after:  # mid-transaction: tell the test, then hang
                with open(marker, "w") as f:
                    f.write(str(position))
                time.sleep(600)
            return apply(sql, position, event)
        return wrapped

    projections = [cls() for cls in MINE]
    for p in projections:
        p.apply = slowed(p.apply)
    with Ledger(parse_database_url(os.environ["DB_URL"])) as ledger:
        projector_over(ledger, projections).catch_up(batch_size=int(os.environ["BATCH"]))
""")


def _more_facts(ledger: Ledger) -> None:
    """A few hundred more events on top of the receivables scenario."""
    bodies = []
    for i in range(60):
        day = (date(2024, 3, 1) + timedelta(days=i)).isoformat()
        bodies.append(sale(f"X{i}", 1 + i % 7, customer="C1" if i % 2 else "C2",
                           rep="R1" if i % 3 else "R2", day=day, credit_approved_by="fin"))
        if i % 3 == 0:
            bodies.append(cmd("RecordPayment", "fin", payment_id=f"XP{i}",
                              customer_id="C1" if i % 2 else "C2", amount=7_000 * (1 + i % 5),
                              received_on=day, **_when(day, i % 6)))
    all_applied(ledger, bodies)


def _copy_log(source: Ledger, target: Ledger) -> None:
    table = Identifier(source.app.recorder.events_table_name)
    pg_execute(SQL("INSERT INTO {}.{} SELECT * FROM {}.{}").format(
        Identifier(target.database.schema), table, Identifier(source.database.schema), table))


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_catch_up_killed_mid_transaction_resumes_exactly_once(backend, fresh_database, tmp_path):
    with Ledger(fresh_database) as ledger:
        build_receivables(ledger)
        _more_facts(ledger)
        end = ledger.max_position()
        marker = tmp_path / "killed-at"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                   [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "tests" / "projections")]),
               "DB_URL": fresh_database.url, "KILL_MARKER": str(marker), "SLOW_AFTER": "150",
               "BATCH": "40"}
        child = subprocess.Popen([sys.executable, "-c", KILLED_RUN], env=env, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while not marker.exists():
                assert child.poll() is None, "the catch-up ended before it was killed"
                assert time.monotonic() < deadline, "the catch-up never reached the hook"
                time.sleep(0.05)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        killed_at = int(marker.read_text())

        resumed = projector_over(ledger, [cls() for cls in MINE])
        positions = set(resumed.positions().values())
        # whole batches committed before the kill, the one in flight rolled back
        assert len(positions) == 1
        committed = positions.pop()
        assert 0 < committed < killed_at < end, (committed, killed_at, end)
        resumed.catch_up(batch_size=7)
        assert set(resumed.positions().values()) == {end}

        with scratch_database("postgres") as other_db, Ledger(other_db) as other:
            _copy_log(ledger, other)
            assert other.max_position() == end
            uninterrupted = projector(other, batch_size=1000)
            assert dump(resumed) == dump(uninterrupted)
        check_against_aggregates(ledger, resumed, budget=None)
