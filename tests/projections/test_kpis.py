"""Sales KPIs per rep and per region (SPEC 3): sales, returns, collections, collection
rate, open receivables and DSO for a period, on SQLite and PostgreSQL. Figures:
``scenarios.build_receivables`` (R1 and R2 in region east, R3 in west)."""

from __future__ import annotations

import pytest
from scenarios import build_receivables, clocked, projector  # noqa: F401

from ledger.projections.errors import QueryError
from ledger.projections.kpis import KpisProjection, query_kpis


@pytest.fixture
def company(clocked):  # noqa: F811
    build_receivables(clocked)
    return projector(clocked, KpisProjection)


def _fig(sales=0, returns=0, collections=0, recoveries=0, written_off=0, rate=None, open=0,
         dso=None) -> dict:
    return {"sales": sales, "returns": returns, "net_sales": sales - returns,
            "collections": collections, "recoveries": recoveries, "written_off": written_off,
            "collection_rate": rate, "open": open, "dso": dso}


def test_second_quarter(company):
    k = query_kpis(company, "2024-Q2")
    assert (k["period"], k["from"], k["to"], k["window_days"]) == (
        "2024-Q2", "2024-04-01", "2024-06-30", 90)
    assert k["reps"] == [
        # R1: P3 (1 Jun) settled S3's 200,000; nothing sold in the quarter
        {"rep_id": "R1", "name": "Trainer", "region": "east", **_fig(collections=200_000)},
        # R2: S5 19,000; P2 settled 50,000 of S1 and 5,000 of S2 and recovered 10,000 of
        # W1 (20,000); open at 30 Jun: S2 35,000 + S5 19,000; DSO 54,000 / 19,000 x 90
        {"rep_id": "R2", "name": "Trainee", "region": "east",
         **_fig(sales=19_000, collections=55_000, recoveries=10_000, written_off=20_000,
                rate="2.8947", open=54_000, dso="255.79")},
        # R3: S4 30,000, all settled by customer credit: no collection, nothing open
        {"rep_id": "R3", "name": "West", "region": "west", **_fig(sales=30_000, rate="0", dso="0")},
    ]
    assert k["regions"] == [
        {"region": "east", "reps": 2,
         **_fig(sales=19_000, collections=255_000, recoveries=10_000, written_off=20_000,
                rate="13.4211", open=54_000, dso="255.79")},
        {"region": "west", "reps": 1, **_fig(sales=30_000, rate="0", dso="0")},
    ]
    assert k["total"] == _fig(sales=49_000, collections=255_000, recoveries=10_000,
                              written_off=20_000, rate="5.2041", open=54_000, dso="99.18")


def test_a_month_with_a_return_and_no_sales(company):
    k = query_kpis(company, "2024-03")
    r1, r2, r3 = k["reps"]
    # R2: RT1 returned 10,000 in March; open at 31 Mar S1 70,000 + S2 40,000;
    # sales 2 Jan - 31 Mar 150,000: DSO 110,000 / 150,000 x 90 = 66
    assert r2 == {"rep_id": "R2", "name": "Trainee", "region": "east",
                  **_fig(returns=10_000, open=110_000, dso="66")}
    assert r1 == {"rep_id": "R1", "name": "Trainer", "region": "east",
                  **_fig(open=200_000, dso="90")}
    assert r3 == {"rep_id": "R3", "name": "West", "region": "west", **_fig()}


def test_month_to_date_as_of_a_day(company):
    k = query_kpis(company, as_of="2024-02-20")
    assert (k["period"], k["from"], k["to"]) == ("2024-02", "2024-02-01", "2024-02-20")
    r1, r2 = k["reps"][0], k["reps"][1]
    # R2: S2 50,000 in February; P1 (20 Feb) settled 30,000 of S1: rate 0.6
    assert (r2["sales"], r2["collections"], r2["collection_rate"], r2["open"]) == (
        50_000, 30_000, "0.6", 120_000)
    assert (r1["sales"], r1["open"]) == (200_000, 200_000)
    # without a period or date: the month to date of today (1 July): nothing yet
    assert query_kpis(company)["total"] == _fig(open=54_000, dso="99.18")


def test_a_bad_period(company):
    with pytest.raises(QueryError) as e:
        query_kpis(company, "2024-13")
    assert e.value.rule == "invalid_field"
