"""A bounded ``Kept`` (``common.Kept``: a sale's dates, 50,000 sales by default) forgets
its older half when it is full; a payment that reads several sales' dates at once must
still find every one of them, including those it held when it began and those it read
from the table meanwhile (both stores). The bound is lowered here so that a FIFO payment
over three sales crosses it, as a FIFO payment over thousands of a big customer's
invoices crosses the real bound in a long catch-up or a rebuild."""

from __future__ import annotations

from scenarios import dump

from ledger.bootstrap import projector_over
from ledger.projections import ALL_PROJECTIONS
from ledger.projections.common import Kept
from ledger.projections.engine import Projector
from ledger.projections.receivables import query_receivables
from support import all_applied, at, cmd, sale, setup_company


def _projector(ledger, generation: int = 1, bound: int | None = None) -> Projector:
    projector = projector_over(ledger, [cls(generation) for cls in ALL_PROJECTIONS])
    if bound is not None:
        for p in projector.projections:
            for value in vars(p).values():
                if isinstance(value, Kept):
                    value.size = bound
    return projector


def test_a_payment_over_more_sales_than_the_bound_finds_each_sale(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1, day="2024-01-10"), sale("S2", 1, day="2024-01-11"),
                         sale("S3", 1, day="2024-01-12")])
    # FIFO: 30,000 settles S1, S2 and S3 (10,000 each), the oldest first
    all_applied(ledger, [cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1",
                             amount=30_000, received_on="2024-02-01", **at("2024-02-01"))])
    bounded = _projector(ledger, bound=2)
    bounded.catch_up()  # one page: S1 was forgotten when S3 came, S2 when S1 was read again
    assert query_receivables(bounded, "C1")["open_total"] == 0
    alone = _projector(ledger, generation=2)
    alone.catch_up()
    assert dump(bounded) == dump(alone)
