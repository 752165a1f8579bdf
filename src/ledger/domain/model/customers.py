"""Customers and their receivables sub-ledger (SPEC 2.1, 2.2, 2.3).

The customer is the consistency boundary for credit exposure and for every sale's open
amount: a sale, return, payment or write-off loads the customer and saves it with the
new fact, so two writers cannot both pass a credit or open-amount check.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.calendar import business_date, parse_instant
from ledger.domain.credit import terms_in_force
from ledger.domain.ids import aggregate_id
from ledger.domain.receivables import (
    Receivable,
    check_return,
    check_write_off,
    credit_pieces,
    credit_removal,
    doubtful_limit,
    doubtful_total,
    join_day,
    return_commission_amount,
    return_vat,
    split_return,
)


class Customer(Aggregate):
    TOPIC = "ledger:Customer"
    KIND = "customer"

    class Created(Aggregate.Created):
        TOPIC = "ledger:Customer.Created"

    @staticmethod
    def create_id(customer_id: str) -> UUID:
        return aggregate_id(Customer.KIND, customer_id)

    class Registered(Aggregate.Created):
        TOPIC = "ledger:Customer.Registered"
        customer_id: str
        name: str
        credit_limit: int
        payment_terms_days: int
        region: str
        meta: dict[str, Any]

    @event(Registered)
    def __init__(self, customer_id: str, name: str, credit_limit: int, payment_terms_days: int,
                 region: str, meta: dict[str, Any]) -> None:
        self.customer_id = customer_id
        self.name = name
        self.region = region
        # terms history: (effective_on, credit_limit, payment_terms_days); the first
        # entry is in force from the beginning.
        self.terms: list[tuple[date, int, int]] = [(date(1, 1, 1), credit_limit, payment_terms_days)]
        self.at_risk = False
        self.credit = 0  # customer credit (overpayments, returns of paid sales)
        self.receivables: dict[str, Receivable] = {}
        # sales with an open or unrecovered written-off amount, and their open total,
        # kept as facts apply so that a customer with a long history stays cheap
        self.active: dict[str, Receivable] = {}
        self.open_sum = 0
        self._by_due: list[tuple[date, str]] = []  # (due_on, sale_id), sorted; lazily pruned
        # payment_id -> what the payment did (``received_on``, ``applied``, ``to_credit``),
        # and ``reversed`` once a ``Reverse`` undid it (SPEC 2.7)
        self.payments: dict[str, dict[str, Any]] = {}
        # the credit lots (overpayments, returns of paid sales) as the projections date
        # them: (number in the customer's order, business date, fen), and what sales and
        # payments' reversals took from each (``credit_pieces``, ``credit_removal``), so a
        # reversal knows whether the credit its payment created was used since (SPEC 2.7)
        self.credit_lots: list[tuple[int, str, int]] = []
        self.credit_used: dict[int, int] = {}

    # --- reading ---------------------------------------------------------------------

    def terms_on(self, day: date) -> tuple[int, int]:
        """(credit_limit, payment_terms_days) in force on ``day`` (``terms_in_force``)."""
        return terms_in_force(self.terms, day)

    @property
    def open_total(self) -> int:
        return self.open_sum

    def due_before(self, limit: date) -> list[Receivable]:
        """Open items due before ``limit``, oldest first, found without scanning the
        customer's whole history (settled items are pruned from the front)."""
        while self._by_due and self._by_due[0][1] not in self.active:
            self._by_due.pop(0)
        end = bisect_left(self._by_due, (limit, ""))
        return [self.active[sid] for _, sid in self._by_due[:end] if sid in self.active]

    def doubtful(self, as_of: date, policy: dict[str, Any]) -> int:
        """Open amount classed doubtful on ``as_of`` (SPEC 2.3), for credit control."""
        candidates = (list(self.active.values()) if self.at_risk
                      else self.due_before(doubtful_limit(as_of, policy)))
        return doubtful_total(candidates, as_of, self.at_risk, policy)

    def _changed(self, item: Receivable, open_before: int) -> None:
        self.open_sum += item.open - open_before
        if item.open > 0 or item.unrecovered > 0:
            self.active[item.sale_id] = item
        else:
            self.active.pop(item.sale_id, None)

    # --- facts -----------------------------------------------------------------------

    class CreditTermsSet(Aggregate.Event):
        TOPIC = "ledger:Customer.CreditTermsSet"
        credit_limit: int
        payment_terms_days: int
        effective_on: str
        approved_by: str
        meta: dict[str, Any]

    @event(CreditTermsSet)
    def set_credit_terms(self, credit_limit: int, payment_terms_days: int, effective_on: str,
                         approved_by: str, meta: dict[str, Any]) -> None:
        self.terms.append((date.fromisoformat(effective_on), credit_limit, payment_terms_days))

    class AtRiskFlagged(Aggregate.Event):
        TOPIC = "ledger:Customer.AtRiskFlagged"
        at_risk: bool
        reason: str
        meta: dict[str, Any]

    @event(AtRiskFlagged)
    def flag_at_risk(self, at_risk: bool, reason: str, meta: dict[str, Any]) -> None:
        self.at_risk = at_risk

    class SaleRecorded(Aggregate.Event):
        TOPIC = "ledger:Customer.SaleRecorded"
        sale_id: str
        rep_id: str
        invoice_no: str
        invoice_date: str
        due_on: str
        lines: list[dict[str, Any]]
        gross: int
        vat: int
        credit_applied: int
        price_approved_by: str | None
        credit_approved_by: str | None
        checks: dict[str, Any]
        policy: dict[str, str]
        meta: dict[str, Any]

    @event(SaleRecorded)
    def record_sale(self, sale_id: str, rep_id: str, invoice_no: str, invoice_date: str,
                    due_on: str, lines: list[dict[str, Any]], gross: int, vat: int,
                    credit_applied: int, price_approved_by: str | None,
                    credit_approved_by: str | None, checks: dict[str, Any],
                    policy: dict[str, str], meta: dict[str, Any]) -> None:
        self.receivables[sale_id] = Receivable(
            sale_id=sale_id, rep_id=rep_id, invoice_no=invoice_no,
            invoice_date=date.fromisoformat(invoice_date), due_on=date.fromisoformat(due_on),
            gross=gross, vat=vat, lines=lines, settled=credit_applied,
        )
        self._changed(self.receivables[sale_id], 0)
        insort(self._by_due, (date.fromisoformat(due_on), sale_id))
        self.credit -= credit_applied
        if credit_applied:
            for lot, _day, amount in credit_pieces(self.credit_lots, self.credit_used,
                                                   credit_applied, invoice_date):
                if lot is not None:
                    self.credit_used[lot] = self.credit_used.get(lot, 0) + amount

    def _credit_lot(self, day: str, amount: int) -> int:
        number = len(self.credit_lots)
        self.credit_lots.append((number, day, amount))
        return number

    def credit_lot_used(self, payment_id: str) -> int:
        """How much of the credit lot payment ``payment_id`` created was taken since."""
        lot = self.payments[payment_id].get("lot")
        return 0 if lot is None else self.credit_used.get(lot, 0)

    # --- deciding ----------------------------------------------------------------------

    def return_goods(self, return_id: str, sale_id: str, amount: int, approved_by: str,
                     reason: str, meta: dict[str, Any]) -> dict[str, int]:
        """Decide a return of (part of) a sale and record it (SPEC 2.2): at most the sale's
        gross less earlier returns (``check_return``), split into what reduces the open
        amount, what cancels a written-off amount and what becomes customer credit
        (``split_return``), with its VAT and the gross it counts for commissions. Returns
        those figures (``vat``, ``to_open``, ``to_written_off``, ``to_credit``,
        ``commission_amount``)."""
        item = self.receivables[sale_id]
        check_return(item, amount)
        to_open, to_written_off, to_credit = split_return(item, amount)
        figures = {"vat": return_vat(item, amount), "to_open": to_open,
                   "to_written_off": to_written_off, "to_credit": to_credit,
                   "commission_amount": return_commission_amount(item, amount, to_written_off)}
        self.record_return(return_id=return_id, sale_id=sale_id, amount=amount, **figures,
                           approved_by=approved_by, reason=reason, meta=meta)
        return figures

    def write_off_open(self, writeoff_id: str, sale_id: str, amount: int, approved_by: str,
                       reason: str, meta: dict[str, Any]) -> Receivable:
        """Decide a write-off of (part of) a sale's open amount and record it (SPEC 2.3):
        at most what is open (``check_write_off``). Returns the sale's receivable after."""
        item = self.receivables[sale_id]
        check_write_off(item, amount)
        self.write_off(writeoff_id=writeoff_id, sale_id=sale_id, amount=amount,
                       approved_by=approved_by, reason=reason, meta=meta)
        return item

    # --- recording ---------------------------------------------------------------------

    class ReturnRecorded(Aggregate.Event):
        """A return of (part of) a sale, split by ``split_return``: ``to_open`` reduced
        the open amount, ``to_written_off`` cancelled a written-off amount not yet
        recovered, ``to_credit`` (the part already paid) became customer credit;
        amount = to_open + to_written_off + to_credit. ``commission_amount`` is the gross
        the return counts for commissions (``return_commission_amount``).

        Version 2 added ``to_written_off`` and ``commission_amount``. A version-1 event
        predates them: its return cancelled no written-off amount (whatever was not open
        went to customer credit, as it was then recorded and posted) and counted in full
        for commissions, so it is upcast with 0 and its amount."""

        TOPIC = "ledger:Customer.ReturnRecorded"
        class_version = 2

        return_id: str
        sale_id: str
        amount: int
        vat: int
        to_open: int
        to_written_off: int
        to_credit: int
        commission_amount: int
        approved_by: str
        reason: str
        meta: dict[str, Any]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["to_written_off"] = 0
            state["commission_amount"] = state["amount"]

    @event(ReturnRecorded)
    def record_return(self, return_id: str, sale_id: str, amount: int, vat: int, to_open: int,
                      to_written_off: int, to_credit: int, commission_amount: int,
                      approved_by: str, reason: str, meta: dict[str, Any]) -> None:
        item = self.receivables[sale_id]
        before = item.open
        item.returned += amount
        item.returned_for_commission += commission_amount
        item.returned_to_open += to_open
        item.returned_written_off += to_written_off
        self._changed(item, before)  # the unrecovered amount may have gone to 0 too
        self.credit += to_credit
        if to_credit:
            # an old event without occurred_at in its meta: the sale's date
            occurred = meta.get("occurred_at")
            day = business_date(parse_instant(occurred)).isoformat() if occurred else None
            self._credit_lot(join_day(day, item.open_from.isoformat()), to_credit)

    class PaymentRecorded(Aggregate.Event):
        TOPIC = "ledger:Customer.PaymentRecorded"
        payment_id: str
        amount: int
        received_on: str
        applied: list[dict[str, Any]]
        to_credit: int
        meta: dict[str, Any]

    @event(PaymentRecorded)
    def record_payment(self, payment_id: str, amount: int, received_on: str,
                       applied: list[dict[str, Any]], to_credit: int, meta: dict[str, Any]) -> None:
        for a in applied:
            item = self.receivables[a["sale_id"]]
            before = item.open
            if a["kind"] == "recovery":
                item.recovered += a["amount"]
            else:
                item.settled += a["amount"]
            self._changed(item, before)
        self.credit += to_credit
        self.payments[payment_id] = {"amount": amount, "received_on": received_on,
                                     "applied": applied, "to_credit": to_credit,
                                     "reversed": False,
                                     # the date each settlement counts from (SPEC 1)
                                     "joins": {a["sale_id"]: join_day(
                                         received_on,
                                         self.receivables[a["sale_id"]].open_from.isoformat())
                                         for a in applied if a["kind"] != "recovery"},
                                     "lot": self._credit_lot(received_on, to_credit)
                                     if to_credit else None}

    class PaymentReversed(Aggregate.Event):
        TOPIC = "ledger:Customer.PaymentReversed"
        reversal_id: str
        payment_id: str
        target_command_id: str
        amount: int
        received_on: str
        reopened: list[dict[str, Any]]
        credit_removed: int
        reason: str
        approved_by: str
        policy: dict[str, str]
        meta: dict[str, Any]

    @event(PaymentReversed)
    def reverse_payment(self, reversal_id: str, payment_id: str, target_command_id: str,
                        amount: int, received_on: str, reopened: list[dict[str, Any]],
                        credit_removed: int, reason: str, approved_by: str,
                        policy: dict[str, str], meta: dict[str, Any]) -> None:
        """A payment undone (SPEC 2.7): each application it made is taken back (a
        settlement reopens the sale with its original due date, a recovery is unrecovered
        again) and the customer credit it created is removed."""
        day = business_date(parse_instant(meta["occurred_at"])).isoformat() \
            if meta.get("occurred_at") else received_on
        joins = self.payments.get(payment_id, {}).get("joins", {})
        for a in reopened:
            item = self.receivables[a["sale_id"]]
            before = item.open
            if a["kind"] == "recovery":
                item.recovered -= a["amount"]
            else:
                item.settled -= a["amount"]
                # the reopened amount counts from the reversal's date (or the settlement's,
                # when later): a fact taking from it joins the reopening (SPEC 1)
                reopened_on = date.fromisoformat(join_day(day, joins.get(a["sale_id"])))
                if item.reopened_on is None or item.reopened_on < reopened_on:
                    item.reopened_on = reopened_on
            self._changed(item, before)
            key = (item.due_on, item.sale_id)
            i = bisect_left(self._by_due, key)
            if item.sale_id in self.active and (i == len(self._by_due) or self._by_due[i] != key):
                self._by_due.insert(i, key)
        self.credit -= credit_removed
        own = self.payments.get(payment_id, {}).get("lot")
        for lot, amount in credit_removal(self.credit_lots, self.credit_used, own, credit_removed):
            if lot is not None:
                self.credit_used[lot] = self.credit_used.get(lot, 0) + amount
        if payment_id in self.payments:
            self.payments[payment_id]["reversed"] = True

    class ReceivableWrittenOff(Aggregate.Event):
        TOPIC = "ledger:Customer.ReceivableWrittenOff"
        writeoff_id: str
        sale_id: str
        amount: int
        approved_by: str
        reason: str
        meta: dict[str, Any]

    @event(ReceivableWrittenOff)
    def write_off(self, writeoff_id: str, sale_id: str, amount: int, approved_by: str,
                  reason: str, meta: dict[str, Any]) -> None:
        item = self.receivables[sale_id]
        before = item.open
        item.written_off += amount
        self._changed(item, before)
