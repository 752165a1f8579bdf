"""Pure receivable rules (SPEC 2.3): the fast doubtful test agrees with the classes."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.policies import DEFAULT_POLICIES
from ledger.domain.receivables import Receivable, days_past_due, doubtful_total, receivable_class

AGING = DEFAULT_POLICIES["aging"]
DAY = date(2025, 6, 30)


def item(i: int, due_offset: int, gross: int, settled: int) -> Receivable:
    due = DAY + timedelta(days=due_offset)
    return Receivable(sale_id=f"S{i}", rep_id="R", invoice_no="I", invoice_date=due - timedelta(days=30),
                      due_on=due, gross=gross, vat=0, lines=[], settled=min(settled, gross))


@given(st.lists(st.tuples(st.integers(-400, 60), st.integers(1, 10**7), st.integers(0, 10**7)),
                max_size=30), st.booleans())
def test_doubtful_total_is_the_open_amount_classed_doubtful(rows, at_risk):
    items = [item(i, *row) for i, row in enumerate(rows)]
    expected = sum(r.open for r in items if r.open > 0 and receivable_class(
        days_past_due(r.due_on, DAY), at_risk, AGING) == "doubtful")
    assert doubtful_total(items, DAY, at_risk, AGING) == expected


def test_ninety_days_is_in_collection_ninety_one_is_doubtful():
    assert doubtful_total([item(1, -90, 1000, 0)], DAY, False, AGING) == 0
    assert doubtful_total([item(1, -91, 1000, 0)], DAY, False, AGING) == 1000


@given(st.lists(st.tuples(st.integers(-400, 60), st.integers(1, 10**6), st.integers(0, 10**6)),
                max_size=25), st.booleans(), st.integers(0, 200))
def test_customer_doubtful_matches_the_rule_over_every_item(rows, at_risk, settle_every):
    """The customer's indexed doubtful lookup gives what the rule gives over all items."""
    from ledger.domain.model import Customer

    c = Customer(customer_id="C", name="C", credit_limit=0, payment_terms_days=30, region="r", meta={})
    for i, (offset, gross, pay) in enumerate(rows):
        due = DAY + timedelta(days=offset)
        c.record_sale(sale_id=f"S{i:03d}", rep_id="R", invoice_no="I", invoice_date=(due - timedelta(days=30)).isoformat(),
                      due_on=due.isoformat(), lines=[], gross=gross, vat=0, credit_applied=0,
                      price_approved_by=None, credit_approved_by=None, checks={}, policy={}, meta={})
        if settle_every and i % (settle_every % 5 + 1) == 0:
            c.record_payment(payment_id=f"P{i}", amount=min(pay, gross), received_on="2025-01-01",
                             applied=[{"sale_id": f"S{i:03d}", "amount": min(pay, gross), "kind": "fifo"}],
                             to_credit=0, meta={})
    if at_risk:
        c.flag_at_risk(at_risk=True, reason="r", meta={})
    every = list(c.receivables.values())
    assert c.doubtful(DAY, AGING) == doubtful_total(every, DAY, at_risk, AGING)
    assert c.open_total == sum(r.open for r in every)
