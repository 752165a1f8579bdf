"""Rules the write side and the read side share, as pure functions (issue 9): terms and
policy versions in force on a date, DSO, business dates and lateness. The aggregates
apply them (``Customer.terms_on``, ``PolicyBook.in_force``) and the projections apply the
same functions over their rows, so the two cannot drift."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from types import SimpleNamespace

from ledger.domain.credit import terms_in_force
from ledger.domain.model import Customer, PolicyBook
from ledger.domain.policies import DEFAULT_VERSION, PolicyVersion, version_in_force
from ledger.domain.receivables import days_sales_outstanding, dso_window
from ledger.domain.reporting import event_date, event_day, is_late

HISTORY = [(date(1, 1, 1), 100_000, 30), (date(2025, 3, 1), 200_000, 45),
           (date(2025, 2, 1), 150_000, 60), (date(2025, 3, 1), 250_000, 15)]


def test_terms_in_force_are_the_latest_effective_by_the_day_the_last_set_on_a_tie():
    assert terms_in_force(HISTORY, date(2025, 1, 31)) == (100_000, 30)
    assert terms_in_force(HISTORY, date(2025, 2, 1)) == (150_000, 60)
    # set later in the log but effective earlier, then two on 1 March: the last one set
    assert terms_in_force(HISTORY, date(2025, 3, 1)) == (250_000, 15)
    assert terms_in_force(HISTORY[:1], date(1999, 1, 1)) == (100_000, 30)


def test_the_customer_aggregate_applies_the_same_rule():
    c = Customer(customer_id="C", name="C", credit_limit=100_000, payment_terms_days=30,
                 region="r", meta={})
    for effective_on, limit, days in HISTORY[1:]:
        c.set_credit_terms(credit_limit=limit, payment_terms_days=days,
                           effective_on=effective_on.isoformat(), approved_by="f", meta={})
    for day in (date(2025, 1, 31), date(2025, 2, 15), date(2025, 3, 1), date(2026, 1, 1)):
        assert c.terms_on(day) == terms_in_force(HISTORY, day)


def _pv(version: str, effective: date) -> PolicyVersion:
    return PolicyVersion("aging", version, effective, {"v": version})


def test_the_policy_version_in_force_is_the_latest_effective_by_the_day_or_the_default():
    adopted = [_pv("a", date(2025, 4, 1)), _pv("b", date(2025, 2, 1)), _pv("c", date(2025, 4, 1))]
    assert version_in_force("aging", adopted, date(2025, 1, 31)).version == DEFAULT_VERSION
    assert version_in_force("aging", adopted, date(2025, 3, 31)).version == "b"
    assert version_in_force("aging", adopted, date(2025, 4, 1)).version == "c"
    book = PolicyBook()
    for pv in adopted:
        book.adopt("aging", pv.version, pv.effective_from, {"v": pv.version}, meta={})
    for day in (date(2025, 1, 31), date(2025, 3, 31), date(2025, 4, 1)):
        assert book.in_force("aging", day) == version_in_force("aging", adopted, day)


def test_dso_is_exact_and_none_without_sales_in_the_window():
    assert days_sales_outstanding(45_000, 90_000, 91) == Fraction(91, 2)
    assert days_sales_outstanding(1, 3, 90) == 30
    assert days_sales_outstanding(12_345, 0, 90) is None
    assert dso_window(date(2025, 3, 31), 90) == (date(2025, 1, 1), date(2025, 3, 31))
    assert dso_window(date(2025, 3, 31), 1) == (date(2025, 3, 31), date(2025, 3, 31))


def test_an_event_is_dated_in_company_time_and_late_only_beyond_the_hours():
    # 23:30 UTC on 31 March is 1 April in Shanghai (the default company time zone)
    e = SimpleNamespace(meta={"occurred_at": "2025-03-31T23:30:00+00:00"})
    assert event_date(e) == date(2025, 4, 1) and event_day(e) == "2025-04-01"
    occurred = datetime(2025, 4, 1, 9, tzinfo=timezone.utc)
    assert not is_late(occurred, occurred + timedelta(hours=4), 4)
    assert is_late(occurred, occurred + timedelta(hours=4, seconds=1), 4)


def test_budget_utilisation_is_exact_and_zero_without_an_allocation():
    from ledger.domain.budgeting import Figures, utilisation

    assert utilisation(12_000_000, 1_500_000, 1_332_755) == Fraction(2_832_755, 12_000_000)
    assert utilisation(0, 0, 5_000) == 0
    assert Figures(12_000_000, 1_500_000, 1_332_755).utilisation == utilisation(
        12_000_000, 1_500_000, 1_332_755)
