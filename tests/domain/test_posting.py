"""The general ledger's posting rules as pure functions (SPEC 3; domain/posting.py): each
event's journal entries, dated by the business date each part counts from (SPEC 1),
balanced, to the fen, with no database."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from ledger.domain.posting import (
    UnbalancedEntry, balanced_rows, payment_entries, payment_reversal_entries, return_entries,
    sale_entries,
)


def _nonzero(entries):
    return [(day, [line for line in lines if line[1] or line[2]]) for day, lines in entries]


def test_a_sale_settled_by_older_and_later_credit_posts_each_part_on_its_day():
    sale = SimpleNamespace(invoice_date="2025-03-10", gross=11_300, vat=1_300, credit_applied=5_000)
    # credit lots: 2,000 dated before the sale (counts on the invoice date), 3,000 from a
    # lot dated after it (a later payment: counts from that lot's date)
    pieces = [(7, "2025-03-10", 2_000), (9, "2025-03-12", 3_000)]
    assert _nonzero(sale_entries(sale, pieces)) == [
        (date(2025, 3, 10), [("receivables", 11_300, 0), ("revenue", 0, 10_000),
                             ("vat_payable", 0, 1_300), ("customer_credit", 2_000, 0),
                             ("receivables", 0, 2_000)]),
        (date(2025, 3, 12), [("customer_credit", 3_000, 0), ("receivables", 0, 3_000)]),
    ]


def test_a_sale_without_credit_is_one_entry_on_its_invoice_date():
    sale = SimpleNamespace(invoice_date="2025-03-10", gross=11_300, vat=1_300, credit_applied=0)
    assert _nonzero(sale_entries(sale, [])) == [
        (date(2025, 3, 10), [("receivables", 11_300, 0), ("revenue", 0, 10_000),
                             ("vat_payable", 0, 1_300)]),
    ]


def test_a_return_cancelling_a_later_write_off_holds_it_as_credit_until_then():
    ret = SimpleNamespace(amount=11_300, vat=1_300, to_open=3_000, to_written_off=8_300, to_credit=0)
    assert _nonzero(return_entries(ret, "2025-04-01", "2025-04-20")) == [
        (date(2025, 4, 1), [("revenue", 10_000, 0), ("vat_payable", 1_300, 0),
                            ("receivables", 0, 3_000), ("customer_credit", 0, 8_300)]),
        (date(2025, 4, 20), [("customer_credit", 8_300, 0), ("bad_debt_expense", 0, 8_300)]),
    ]
    # written off earlier: the cancelling counts on the return's own date
    assert _nonzero(return_entries(ret, "2025-04-01", "2025-03-15")) == [
        (date(2025, 4, 1), [("revenue", 10_000, 0), ("vat_payable", 1_300, 0),
                            ("receivables", 0, 3_000), ("bad_debt_expense", 0, 8_300)]),
    ]


def test_a_payment_applied_to_a_later_sale_and_a_recovery_posts_the_joins_later():
    payment = SimpleNamespace(received_on="2025-05-02", amount=10_000, to_credit=1_000, applied=[
        {"sale_id": "S1", "kind": "fifo", "amount": 4_000},
        {"sale_id": "S2", "kind": "allocation", "amount": 2_000},
        {"sale_id": "S3", "kind": "recovery", "amount": 3_000},
    ])
    entries = payment_entries(payment, ["2025-05-02", "2025-05-06", "2025-05-09"])
    assert _nonzero(entries) == [
        (date(2025, 5, 2), [("cash", 10_000, 0), ("receivables", 0, 4_000),
                            ("customer_credit", 0, 6_000)]),
        (date(2025, 5, 6), [("customer_credit", 2_000, 0), ("receivables", 0, 2_000)]),
        (date(2025, 5, 9), [("customer_credit", 3_000, 0), ("bad_debt_recovery_income", 0, 3_000)]),
    ]
    with pytest.raises(ValueError):  # a day for every application, no fewer
        payment_entries(payment, ["2025-05-02"])


def test_a_payment_reversal_swaps_each_posted_line_on_the_later_of_its_day_and_the_reversal():
    posted = [("2025-05-02", "cash", 10_000, 0), ("2025-05-02", "customer_credit", 0, 10_000),
              ("2025-05-09", "customer_credit", 3_000, 0),
              ("2025-05-09", "bad_debt_recovery_income", 0, 3_000)]
    assert payment_reversal_entries(posted, "2025-05-05") == [
        (date(2025, 5, 5), [("cash", 0, 10_000), ("customer_credit", 10_000, 0)]),
        (date(2025, 5, 9), [("customer_credit", 0, 3_000), ("bad_debt_recovery_income", 3_000, 0)]),
    ]


def test_an_unbalanced_entry_is_refused_naming_what_and_the_totals():
    assert balanced_rows([("cash", 5, 0), ("revenue", 0, 5), ("vat_payable", 0, 0)], "x") == [
        ("cash", 5, 0), ("revenue", 0, 5)]
    with pytest.raises(UnbalancedEntry, match=r"Sale S1 at position 4: debits 5 != credits 4"):
        balanced_rows([("cash", 5, 0), ("revenue", 0, 4)], "Sale S1 at position 4")
