"""What projections keep in memory between events (``common.Kept``: a sale's dates, read
for a page at once, then kept as the page's events change them) stays true and lives one
page: when two projectors in turn apply the events of one log to the same tables (two
processes of ``ledger serve``, a CLI beside a server), and when a page's transaction fails
half way. Each case ends with tables equal, row for row, to those of one projector that
applied the whole log alone into another generation; and the page-wise INSERTs a catch-up
holds back (``Sql``) reach the tables it reads in the same page (both stores)."""

from __future__ import annotations

import pytest
from scenarios import dump

from ledger.bootstrap import projector_over
from ledger.domain.model import Customer
from ledger.projections import ALL_PROJECTIONS
from ledger.projections.engine import Projector
from ledger.projections.general_ledger import GeneralLedger
from ledger.projections.receivables import ReceivablesProjection, query_receivables
from support import all_applied, at, cmd, sale, setup_company


def _projector(ledger, generation: int = 1) -> Projector:
    return projector_over(ledger, [cls(generation) for cls in ALL_PROJECTIONS])


def _same_as_alone(ledger, projector: Projector) -> None:
    alone = _projector(ledger, generation=2)
    alone.catch_up()
    assert dump(projector) == dump(alone)


def _pay(payment_id: str, amount: int, day: str, sale_id: str | None = None) -> dict:
    allocations = [{"sale_id": sale_id, "amount": amount}] if sale_id else None
    return cmd("RecordPayment", "fin", payment_id=payment_id, customer_id="C1", amount=amount,
               received_on=day, **({"allocations": allocations} if allocations else {}),
               **at(day))


def _kept(projector: Projector, cls: type) -> dict:
    p = next(p for p in projector.projections if isinstance(p, cls))
    return dict(p.sale_dates._known)


def test_a_sale_written_off_by_another_projector_is_dated_from_its_write_off(ledger):
    """Projector A keeps S1's dates; projector B applies S1's write-off of 20 March; a
    recovery received on 1 March and applied by A then counts from 20 March (customer
    credit until then), as if A had seen the write-off itself."""
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1, day="2024-01-10"), sale("S2", 1, day="2024-01-12")])
    a, b = _projector(ledger), _projector(ledger)
    a.catch_up()
    assert _kept(a, ReceivablesProjection)["S1"][1:] == ["2024-01-10", None, None, None]
    all_applied(ledger, [
        cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1", amount=10_000,
            approved_by="dir", reason="uncollectable", **at("2024-03-20")),
    ])
    b.catch_up()
    all_applied(ledger, [_pay("P1", 4_000, "2024-03-01", "S1"), _pay("P2", 3_000, "2024-03-02")])
    assert a.catch_up() > 0  # applied by A
    figures = query_receivables(a, "C1", as_of="2024-03-05")
    assert (figures["customer_credit"], figures["recovered"]) == (4_000, 0)
    after = query_receivables(a, "C1", as_of="2024-03-25")
    assert (after["customer_credit"], after["recovered"], after["written_off"]) == (0, 4_000, 6_000)
    # A read the sales again for its next page (what it keeps lives one page)
    assert _kept(a, ReceivablesProjection)["S1"][2] == "2024-03-20"
    assert _kept(a, GeneralLedger)["S1"] == ["2024-01-10", "2024-03-20"]
    _same_as_alone(ledger, a)


def test_a_failed_page_leaves_nothing_kept(ledger, monkeypatch):
    """A page that fails after a write-off changed the kept dates rolls back; what was
    kept is dropped with it, and the retry reaches the tables of an undisturbed run."""
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1, day="2024-01-10")])
    projector = _projector(ledger)
    projector.catch_up()
    all_applied(ledger, [
        cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1", amount=10_000,
            approved_by="dir", reason="uncollectable", **at("2024-03-20")),
        _pay("P1", 4_000, "2024-03-01", "S1"),
    ])
    trips = type(next(p for p in projector.projections if p.name == "trips"))
    original, reads = trips.apply, trips.reads
    kept_when_failing = []

    def failing(self, sql, position, event):  # the payment, after the write-off was kept
        if isinstance(event, Customer.PaymentRecorded):
            kept_when_failing.append(_kept(projector, ReceivablesProjection)["S1"][2])
            raise RuntimeError("the server went away")
        if reads(self, event):
            original(self, sql, position, event)

    with monkeypatch.context() as m:
        m.setattr(trips, "apply", failing)
        m.setattr(trips, "reads", lambda self, event: True)
        with pytest.raises(RuntimeError, match="went away"):
            projector.catch_up()
    assert kept_when_failing == ["2024-03-20"]
    assert _kept(projector, ReceivablesProjection) == {}
    assert _kept(projector, GeneralLedger) == {}
    projector.catch_up()
    assert query_receivables(projector, "C1")["recovered"] == 4_000
    _same_as_alone(ledger, projector)


@pytest.mark.parametrize("page", [1, 3, 1000])
def test_rows_held_back_are_read_in_the_same_page(ledger, page):
    """A payment read back the sale and movements written earlier in the same page (the
    INSERTs a PostgreSQL catch-up sends as one statement per table); pages of 1, 3 and
    1,000 events give the same tables."""
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 2, day="2024-01-10"), sale("S2", 1, day="2024-01-11"),
        _pay("P1", 25_000, "2024-01-20"),
        cmd("RecordReturn", "sa", return_id="RT1", sale_id="S2", amount=2_000,
            approved_by="mgr", reason="damaged", **at("2024-01-25")),
        sale("S3", 1, day="2024-02-01"),
    ])
    projector = _projector(ledger)
    projector.catch_up(batch_size=page)
    figures = query_receivables(projector, "C1")
    # S2 had 5,000 open after the FIFO payment: the return takes 2,000 of it
    assert (figures["open_total"], figures["customer_credit"]) == (13_000, 0)
    if page == 1:  # what a projection keeps lives one page: at most the last page's sale
        assert len(_kept(projector, ReceivablesProjection)) <= 1
        assert len(_kept(projector, GeneralLedger)) <= 1
    _same_as_alone(ledger, projector)
