"""The customer aggregate decides its returns and write-offs (issue 9: handlers read load
-> decide -> record): ``return_goods`` checks, splits and records; ``write_off_open``
checks and records. A refused decision records nothing."""

from __future__ import annotations

import pytest

from ledger.domain.errors import Rejection
from ledger.domain.model import Customer


def _customer_with_a_half_paid_sale() -> Customer:
    c = Customer(customer_id="C", name="C", credit_limit=0, payment_terms_days=30, region="r",
                 meta={})
    c.record_sale(sale_id="S1", rep_id="R", invoice_no="I", invoice_date="2025-01-02",
                  due_on="2025-02-01", lines=[{"gross": 11_300, "tax_rate": "0.13"}], gross=11_300,
                  vat=1_300, credit_applied=0, price_approved_by=None, credit_approved_by=None,
                  checks={}, policy={}, meta={})
    c.record_payment(payment_id="P1", amount=5_000, received_on="2025-01-10",
                     applied=[{"sale_id": "S1", "kind": "allocation", "amount": 5_000}],
                     to_credit=0, meta={})
    c.collect_events()
    return c


def test_a_return_is_checked_split_and_recorded():
    c = _customer_with_a_half_paid_sale()
    figures = c.return_goods(return_id="RT1", sale_id="S1", amount=8_000, approved_by="m",
                             reason="damaged", meta={})
    # 6,300 still open is reduced first, the remaining 1,700 was paid: customer credit
    assert figures == {"vat": 920, "to_open": 6_300, "to_written_off": 0, "to_credit": 1_700,
                       "commission_amount": 8_000}
    (event,) = c.collect_events()
    assert isinstance(event, Customer.ReturnRecorded)
    assert (event.amount, event.to_open, event.to_credit, event.vat) == (8_000, 6_300, 1_700, 920)
    assert (c.receivables["S1"].open, c.credit) == (0, 1_700)


def test_a_return_beyond_the_returnable_gross_is_refused_and_records_nothing():
    c = _customer_with_a_half_paid_sale()
    with pytest.raises(Rejection) as refused:
        c.return_goods(return_id="RT1", sale_id="S1", amount=11_301, approved_by="m",
                       reason="r", meta={})
    assert refused.value.rule == "exceeds_open_amount"
    assert refused.value.details["returnable"] == 11_300
    assert c.collect_events() == []


def test_a_write_off_is_checked_against_the_open_amount_and_recorded():
    c = _customer_with_a_half_paid_sale()
    with pytest.raises(Rejection) as refused:
        c.write_off_open(writeoff_id="W1", sale_id="S1", amount=6_301, approved_by="d",
                         reason="r", meta={})
    assert (refused.value.rule, refused.value.details["open"]) == ("exceeds_open_amount", 6_300)
    assert c.collect_events() == []
    item = c.write_off_open(writeoff_id="W1", sale_id="S1", amount=6_300, approved_by="d",
                            reason="court", meta={})
    assert (item.open, item.written_off, item.unrecovered) == (0, 6_300, 6_300)
    assert [type(e) for e in c.collect_events()] == [Customer.ReceivableWrittenOff]
