"""Properties of CloseMonth over random months (hypothesis), on SQLite and PostgreSQL:

- commissions never depend on the order in which independent facts were recorded (sales
  among themselves, returns after their sale, late facts of a closed month among the next
  month's facts);
- closing a closed month again records nothing, and the same commands run again on a
  fresh ledger give the same events (the close is a function of the log).
"""

from __future__ import annotations

from random import Random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stores import fresh_ledger, require_postgres
from support import USERS, cmd

from ledger.application import Ledger
from ledger.domain.money import yuan

# reps: (rep_id, rank, trainer)
REPS = [("M", "SM", None), ("A", "SR", "M"), ("B", "SR", "M"), ("C", "SE", None),
        ("C1", "SR", "C"), ("C2", "SR", "C")]
REP_IDS = [r[0] for r in REPS]


@pytest.fixture
def postgres_ready(backend: str) -> None:
    """Skip (or, with CI=true, fail) the PostgreSQL variant when the server is not there."""
    if backend == "postgres":
        require_postgres()


def setup_bodies() -> list[dict[str, Any]]:
    bodies = [cmd("RegisterUser", "admin", user_id=u, name=u, roles=r) for u, r in USERS.items()]
    bodies.append(cmd("RegisterCustomer", "sa", customer_id="C", name="C", credit_limit=10**12,
                      payment_terms_days=30, region="east"))
    bodies.append(cmd("SetListPrice", "sa", sku="X", unit_price=1, effective_from="2024-01-01",
                      approved_by="dir"))
    bodies += [cmd("RegisterRep", "sa", rep_id=r, name=r, region="east", rank=rank,
                   **({"trainer_id": t} if t else {})) for r, rank, t in REPS]
    return bodies


def at(day: str) -> dict[str, str]:
    stamp = f"{day}T10:00:00+08:00"
    return {"occurred_at": stamp, "reported_at": stamp}


def sale_body(sale_id: str, rep: str, day: str, amount: int) -> dict[str, Any]:
    return cmd("RecordSale", "sa", sale_id=sale_id, customer_id="C", rep_id=rep,
               invoice_no=sale_id, lines=[{"sku": "X", "quantity": 1, "unit_price": amount}],
               **at(day))


def return_body(return_id: str, sale_id: str, day: str, amount: int) -> dict[str, Any]:
    return cmd("RecordReturn", "sa", return_id=return_id, sale_id=sale_id, amount=amount,
               approved_by="mgr", reason="r", **at(day))


def close_body(period: str, day: str) -> dict[str, Any]:
    return cmd("CloseMonth", "fin", period=period, **at(day))


AMOUNTS = st.one_of(st.integers(1, yuan(25_000)),
                    st.sampled_from([yuan(13_000), yuan(15_000), yuan(20_000), yuan(30_000)]))


@st.composite
def sales_of(draw: Any, prefix: str, month: str, last_day: int) -> list[tuple]:
    out = []
    for i in range(draw(st.integers(0, 7))):
        day = draw(st.integers(1, last_day))
        out.append((f"{prefix}{i}", draw(st.sampled_from(REP_IDS)), f"{month}-{day:02d}",
                    draw(AMOUNTS)))
    return out


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    """February's sales and returns, then March's: its sales, returns of its own and of
    February's sales (clawbacks), and late February sales recorded after February closed."""
    feb = draw(sales_of("f", "2024-02", 29))
    mar = draw(sales_of("m", "2024-03", 31))
    late = draw(sales_of("late", "2024-02", 29))
    feb_returns, mar_returns = [], []
    for sale_id, _, day, gross in feb + mar:
        left = gross
        months = ["2024-02", "2024-03"] if sale_id.startswith("f") else ["2024-03"]
        for month in months:
            if left == 0 or not draw(st.booleans()):
                continue
            first = int(day[8:]) if day.startswith(month) else 1
            amount = draw(st.integers(1, left))
            left -= amount
            ret = (f"r{month[-1]}-{sale_id}", sale_id,
                   f"{month}-{draw(st.integers(first, max(first, 29))):02d}", amount)
            (feb_returns if month == "2024-02" else mar_returns).append(ret)
    return {"feb": feb, "feb_returns": feb_returns, "mar": mar, "mar_returns": mar_returns,
            "late": late}


def ordered(sales: list[tuple], returns: list[tuple], rnd: Random,
            recorded: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Sales and returns in a random order that keeps each return after its sale (unless
    its sale is among the ``recorded`` ones already)."""
    items = [("sale", s) for s in sales] + [("return", r) for r in returns]
    rnd.shuffle(items)
    out: list[dict[str, Any]] = []
    done, waiting = set(recorded), []
    for kind, item in items:
        if kind == "return" and item[1] not in done:
            waiting.append(item)
            continue
        out.append(sale_body(*item) if kind == "sale" else return_body(*item))
        if kind == "sale":
            done.add(item[0])
            for r in [w for w in waiting if w[1] == item[0]]:
                waiting.remove(r)
                out.append(return_body(*r))
    assert not waiting
    return out


def commands(sc: dict[str, Any], rnd: Random) -> list[dict[str, Any]]:
    bodies = ordered(sc["feb"], sc["feb_returns"], rnd)
    bodies.append(close_body("2024-02", "2024-03-01"))
    bodies += ordered(sc["mar"] + sc["late"], sc["mar_returns"], rnd,
                      recorded=frozenset(s[0] for s in sc["feb"]))
    bodies.append(close_body("2024-03", "2024-04-01"))
    return bodies


def run(ledger: Ledger, bodies: list[dict[str, Any]]) -> None:
    for answer in ledger.execute(setup_bodies()):
        assert answer["status"] == "applied", answer
    for answer in ledger.execute(bodies):  # one batch: each CloseMonth runs on its own
        assert answer["status"] == "applied", answer


DECISIONS = ("ledger:Rep.CommissionAccrued", "ledger:Rep.RankChanged", "ledger:Closings.MonthClosed")


def decisions(ledger: Ledger, *, positions: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """(topic, aggregate, payload) of every close decision, in log order; without
    ``positions`` the payload leaves out what only says where facts sit in the log."""
    out = []
    for n in ledger.app.recorder.select_notifications(start=1, limit=100_000, topics=list(DECISIONS)):
        event = ledger.app.mapper.to_domain_event(n)
        body = {k: v for k, v in vars(event).items()
                if k not in ("originator_version", "timestamp", "meta", "originator_id")}
        if not positions:
            body.pop("as_of_position", None)
            body.pop("log_position", None)
            body.pop("summary", None)
            for line in body.get("lines", ()):
                for fact in line.get("facts", ()):
                    fact.pop("position", None)
        out.append((n.topic, str(n.originator_id), body))
    return out


SETTINGS = {"sqlite": 15, "postgres": 8}


def test_close_does_not_depend_on_the_order_of_independent_facts(backend, postgres_ready):
    @settings(max_examples=SETTINGS[backend], deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(scenarios(), st.randoms(use_true_random=False))
    def check(sc: dict[str, Any], rnd: Random) -> None:
        first, second = commands(sc, Random(0)), commands(sc, rnd)
        with fresh_ledger(backend) as a, fresh_ledger(backend) as b:
            run(a, first)
            run(b, second)
            assert decisions(a, positions=False) == decisions(b, positions=False)

    check()


def test_closing_again_and_rerunning_the_close_give_the_same_events(backend, postgres_ready):
    @settings(max_examples=SETTINGS[backend] // 2, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(scenarios(), st.randoms(use_true_random=False))
    def check(sc: dict[str, Any], rnd: Random) -> None:
        bodies = commands(sc, rnd)
        with fresh_ledger(backend) as a, fresh_ledger(backend) as b:
            run(a, bodies)
            before = decisions(a, positions=True)
            position = a.max_position()
            for period, day in (("2024-02", "2024-04-02"), ("2024-03", "2024-04-02")):
                again = a.execute_one(close_body(period, day))
                assert again["result"] == {"period": period, "already_closed": True}
            assert decisions(a, positions=True) == before
            assert a.max_position() == position + 2  # the two command records, nothing else
            run(b, bodies)  # the same commands on a fresh ledger
            assert decisions(b, positions=True) == before

    check()
