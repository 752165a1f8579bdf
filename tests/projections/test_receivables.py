"""Receivables per customer and per sale (SPEC 2.3, SPEC 3, SPEC 5.3 ``receivables``):
open amounts, due dates, days past due, classes, buckets, credit used and available,
customer credit, write-offs and recoveries, as of business dates before and after due
dates and write-offs, on SQLite and PostgreSQL. Figures: ``scenarios.build_receivables``."""

from __future__ import annotations

import pytest
from scenarios import NOW, build_receivables, clocked, projector  # noqa: F401

from ledger.projections.errors import QueryError
from ledger.projections.receivables import ReceivablesProjection, query_customers, query_receivables
from support import customer_state


@pytest.fixture
def company(clocked):  # noqa: F811
    build_receivables(clocked)
    return projector(clocked, ReceivablesProjection)


def _items(answer: dict) -> list[tuple]:
    return [(i["sale_id"], i["open"], i["written_off"], i["due_on"], i["days_past_due"], i["class"],
             i["bucket"]) for i in answer["items"]]


def _head(answer: dict) -> tuple:
    return (answer["as_of"], answer["open_total"], answer["credit_limit"], answer["credit_available"])


def test_before_the_first_due_date_everything_is_receivable_and_not_due(company):
    r = query_receivables(company, "C1", as_of="2024-01-31")
    assert r == {
        "customer_id": "C1", "as_of": "2024-01-31", "open_total": 100_000,
        "credit_limit": 10_000_000, "credit_available": 9_900_000, "credit_used": 100_000,
        "payment_terms_days": 30,
        "at_risk": False, "customer_credit": 0, "written_off": 0, "recovered": 0,
        "items": [{"sale_id": "S1", "invoice_no": "INV-S1", "invoice_date": "2024-01-10",
                   "gross": 100_000, "open": 70_000 + 30_000, "written_off": 0,
                   "due_on": "2024-02-09", "days_past_due": 0, "class": "receivable",
                   "bucket": "not_due"}],
    }


def test_after_a_due_date_fifo_payment_and_a_return(company):
    # 29 Feb: P1 (20 Feb) took 30,000 off S1, the oldest; S1 is 20 days past due
    r = query_receivables(company, "C1", as_of="2024-02-29")
    assert _head(r) == ("2024-02-29", 120_000, 10_000_000, 9_880_000)
    assert _items(r) == [
        ("S1", 70_000, 0, "2024-02-09", 20, "in_collection", "1-30"),
        ("S2", 50_000, 0, "2024-03-02", 0, "receivable", "not_due"),
    ]
    # 31 Mar: RT1 (1 Mar) took 10,000 off S2; both past due
    r = query_receivables(company, "C1", as_of="2024-03-31")
    assert _head(r) == ("2024-03-31", 110_000, 10_000_000, 9_890_000)
    assert _items(r) == [
        ("S1", 70_000, 0, "2024-02-09", 51, "in_collection", "31-60"),
        ("S2", 40_000, 0, "2024-03-02", 29, "in_collection", "1-30"),
    ]


def test_a_write_off_leaves_the_rest_open_and_the_new_limit_can_be_exceeded(company):
    # 30 Apr: limit 50,000 since 1 Apr; W1 (15 Apr) wrote 20,000 of S1 off
    r = query_receivables(company, "C1", as_of="2024-04-30")
    assert _head(r) == ("2024-04-30", 90_000, 50_000, -40_000)
    assert (r["written_off"], r["recovered"]) == (20_000, 0)
    assert _items(r) == [
        ("S1", 50_000, 20_000, "2024-02-09", 81, "in_collection", "61-90"),
        ("S2", 40_000, 0, "2024-03-02", 59, "in_collection", "31-60"),
    ]


def test_a_recovery_reduces_the_written_off_amount_and_never_reopens_the_sale(company):
    # 31 May: P2 (10 May) settled S1's 50,000, recovered 10,000 of W1, 5,000 FIFO to S2
    r = query_receivables(company, "C1", as_of="2024-05-31")
    assert _head(r) == ("2024-05-31", 35_000, 50_000, 15_000)
    assert (r["written_off"], r["recovered"], r["customer_credit"]) == (10_000, 10_000, 0)
    assert _items(r) == [
        ("S1", 0, 10_000, "2024-02-09", 112, "bad_debt", "91-180"),
        ("S2", 35_000, 0, "2024-03-02", 90, "in_collection", "61-90"),
    ]
    # 30 Jun: S2 is 120 days past due, doubtful; S5 (20 Jun) not due yet
    r = query_receivables(company, "C1", as_of="2024-06-30")
    assert _head(r) == ("2024-06-30", 54_000, 50_000, -4_000)
    assert _items(r) == [
        ("S1", 0, 10_000, "2024-02-09", 142, "bad_debt", "91-180"),
        ("S2", 35_000, 0, "2024-03-02", 120, "doubtful", "91-180"),
        ("S5", 19_000, 0, "2024-07-20", 0, "receivable", "not_due"),
    ]


def test_an_at_risk_customer_is_doubtful_from_the_flag_s_date(company):
    before = query_receivables(company, "C2", as_of="2024-05-15")
    assert before["at_risk"] is False
    assert _items(before) == [("S3", 200_000, 0, "2024-03-16", 60, "in_collection", "31-60")]
    after = query_receivables(company, "C2", as_of="2024-05-31")
    assert after["at_risk"] is True
    assert _items(after) == [("S3", 200_000, 0, "2024-03-16", 76, "doubtful", "61-90")]


def test_customer_credit_from_an_overpayment_settles_the_next_sale(company):
    # P3 (1 Jun) paid S3's 200,000 and left 50,000 of credit
    r = query_receivables(company, "C2", as_of="2024-06-05")
    assert (r["open_total"], r["customer_credit"], r["items"]) == (0, 50_000, [])
    # S4 (10 Jun, 30,000) was settled by that credit when it was recorded
    r = query_receivables(company, "C2", as_of="2024-06-30")
    assert (r["open_total"], r["customer_credit"], r["items"]) == (0, 20_000, [])
    assert r["credit_available"] == 10_000_000


def test_without_as_of_every_fact_counts_aged_as_of_today(company, clocked):  # noqa: F811
    r = query_receivables(company, "C1")
    assert _head(r) == ("2024-07-01", 54_000, 50_000, -4_000)
    assert _items(r) == [
        ("S1", 0, 10_000, "2024-02-09", 143, "bad_debt", "91-180"),
        ("S2", 35_000, 0, "2024-03-02", 121, "doubtful", "91-180"),
        ("S5", 19_000, 0, "2024-07-20", 0, "receivable", "not_due"),
    ]
    # the projection agrees with the customer's own sub-ledger
    for customer_id in ("C1", "C2"):
        state = customer_state(clocked, customer_id)
        r = query_receivables(company, customer_id)
        assert r["open_total"] == state.open_total
        assert r["customer_credit"] == state.credit
        assert r["written_off"] == sum(x.unrecovered for x in state.receivables.values())
        assert {i["sale_id"]: i["open"] for i in r["items"]} == {
            x.sale_id: x.open for x in state.receivables.values() if x.open or x.unrecovered
        }


def test_every_customer_at_once(company):
    summary = query_customers(company, as_of="2024-06-30")
    assert summary == {"as_of": "2024-06-30", "customers": [
        {"customer_id": "C1", "name": "Acme", "region": "east", "open_total": 54_000,
         "credit_limit": 50_000, "credit_available": -4_000, "credit_used": 54_000,
         "customer_credit": 0,
         "written_off": 10_000, "recovered": 10_000, "at_risk": False},
        {"customer_id": "C2", "name": "Beta", "region": "west", "open_total": 0,
         "credit_limit": 10_000_000, "credit_available": 10_000_000, "credit_used": 0,
         "customer_credit": 20_000,
         "written_off": 0, "recovered": 0, "at_risk": True},
    ]}


def test_unknown_customer_and_bad_dates_are_query_errors(company):
    with pytest.raises(QueryError) as e:
        query_receivables(company, "NOPE")
    assert (e.value.rule, e.value.details["ref"]) == ("unknown_reference", "NOPE")
    with pytest.raises(QueryError) as e:
        query_receivables(company, "C1", as_of="2024-13-01")
    assert e.value.rule == "invalid_field"


def test_before_any_sale_a_customer_owes_nothing(company):
    r = query_receivables(company, "C1", as_of="2023-12-31")
    assert (r["open_total"], r["credit_available"], r["items"]) == (0, 10_000_000, [])
