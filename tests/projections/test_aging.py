"""The company aging report and DSO (SPEC 2.3 classes and buckets, SPEC 3, SPEC 5.3
``aging``), as of business dates, under the aging policy in force on the report date, on
SQLite and PostgreSQL. Figures: ``scenarios.build_receivables``."""

from __future__ import annotations

import pytest
from scenarios import build_receivables, clocked, projector  # noqa: F401

from ledger.domain.receivables import BUCKETS, CLASSES
from ledger.projections.aging import query_aging, query_dso
from ledger.projections.receivables import ReceivablesProjection
from support import applied, cmd


@pytest.fixture
def company(clocked):  # noqa: F811
    build_receivables(clocked)
    return projector(clocked, ReceivablesProjection)


def _aging(total: int, classes: dict, buckets: dict, as_of: str) -> dict:
    return {"as_of": as_of, "total": total,
            "classes": {c: classes.get(c, 0) for c in CLASSES},
            "buckets": {b: buckets.get(b, 0) for b in BUCKETS}}


def test_every_class_and_bucket_is_present_when_nothing_is_owed(company):
    assert query_aging(company, "2023-12-31") == _aging(0, {}, {}, "2023-12-31")


def test_aging_one_day_after_the_first_due_date(company):
    # S1 100,000 is 1 day past due (P1 comes on 20 Feb); S2 50,000 not due
    assert query_aging(company, "2024-02-10") == _aging(
        150_000, {"receivable": 50_000, "in_collection": 100_000},
        {"not_due": 50_000, "1-30": 100_000}, "2024-02-10")


def test_aging_at_the_end_of_march(company):
    # C1: S1 70,000 (51 days), S2 40,000 (29 days); C2: S3 200,000 (15 days)
    assert query_aging(company, "2024-03-31") == _aging(
        310_000, {"in_collection": 310_000}, {"1-30": 240_000, "31-60": 70_000}, "2024-03-31")


def test_bad_debt_is_what_is_written_off_and_not_recovered(company):
    # 30 Apr: W1 wrote 20,000 of S1 off; open: S1 50,000 (81 d), S2 40,000 (59 d), S3 (45 d)
    assert query_aging(company, "2024-04-30") == _aging(
        290_000, {"in_collection": 290_000, "bad_debt": 20_000},
        {"31-60": 240_000, "61-90": 50_000}, "2024-04-30")
    # 15 May: P2 recovered 10,000 of it; S2 35,000 (74 d), S3 200,000 (60 d)
    assert query_aging(company, "2024-05-15") == _aging(
        235_000, {"in_collection": 235_000, "bad_debt": 10_000},
        {"31-60": 200_000, "61-90": 35_000}, "2024-05-15")


def test_an_at_risk_customer_s_open_amounts_are_doubtful(company):
    # C2 flagged on 20 May: S3's 200,000 (76 days) is doubtful, S2 (90 days) still in collection
    assert query_aging(company, "2024-05-31") == _aging(
        235_000, {"in_collection": 35_000, "doubtful": 200_000, "bad_debt": 10_000},
        {"61-90": 235_000}, "2024-05-31")


def test_aging_at_the_end_of_june_and_today(company):
    june = _aging(54_000, {"receivable": 19_000, "doubtful": 35_000, "bad_debt": 10_000},
                  {"not_due": 19_000, "91-180": 35_000}, "2024-06-30")
    assert query_aging(company, "2024-06-30") == june
    assert query_aging(company) == {**june, "as_of": "2024-07-01"}


def test_dso_over_the_ninety_days_up_to_the_report_date(company):
    # 31 Mar: open 310,000; sales 2 Jan - 31 Mar: 100,000 + 50,000 + 200,000
    assert query_dso(company, "2024-03-31") == {
        "as_of": "2024-03-31", "open_total": 310_000, "gross_sales": 350_000, "window_days": 90,
        "window_from": "2024-01-02", "dso": "79.71",  # 310,000 / 350,000 x 90 = 79.714...
    }
    # 30 Jun: open 54,000; sales 2 Apr - 30 Jun: S4 30,000 + S5 19,000
    dso = query_dso(company, "2024-06-30")
    assert (dso["open_total"], dso["gross_sales"], dso["dso"]) == (54_000, 49_000, "99.18")
    assert query_dso(company, "2023-12-31")["dso"] is None  # no sales in the window


def test_the_aging_policy_in_force_on_the_report_date_decides(clocked, company):  # noqa: F811
    applied(clocked, cmd("AdoptPolicy", "dir", policy="aging", version="lenient",
                         effective_from="2024-06-15", values={
                             "in_collection_max_days": 150, "at_risk_is_doubtful": False,
                             "bucket_limits": [30, 60, 90, 180, 365], "dso_window_days": 30}))
    company.catch_up()
    # before the version's date: the default (S2 at 90 days in collection, C2 at risk)
    assert query_aging(company, "2024-05-31")["classes"]["doubtful"] == 200_000
    # after it: S2 (120 days) is still in collection
    assert query_aging(company, "2024-06-30")["classes"] == {
        "receivable": 19_000, "in_collection": 35_000, "doubtful": 0, "bad_debt": 10_000}
    # and DSO looks back 30 days: 54,000 / 49,000 x 30 = 33.06...
    dso = query_dso(company, "2024-06-30")
    assert (dso["window_days"], dso["window_from"], dso["dso"]) == (30, "2024-06-01", "33.06")
