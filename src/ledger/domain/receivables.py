"""Receivables: returns, payment allocation, write-offs, classes and aging buckets
(SPEC 2.2 returns, SPEC 2.3 payments and collections).

Plain functions over plain values; the Customer aggregate keeps the figures and the
projections use the same classification.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from ledger.domain.errors import Rejection
from ledger.domain.money import round_fen, vat_of_gross

CLASSES = ("receivable", "in_collection", "doubtful", "bad_debt")
BUCKETS = ("not_due", "1-30", "31-60", "61-90", "91-180", "181-365", "365+")


@dataclass
class Receivable:
    """One sale's receivable as the customer's sub-ledger knows it."""

    sale_id: str
    rep_id: str
    invoice_no: str
    invoice_date: date
    due_on: date
    gross: int
    vat: int
    lines: list[dict[str, Any]]
    returned: int = 0  # gross returned so far (SPEC 2.2: at most gross)
    settled: int = 0  # paid by payments or customer credit
    written_off: int = 0
    recovered: int = 0
    payments: dict[str, int] = field(default_factory=dict)
    # how returns split (``split_return``): the part that reduced the open amount and the
    # part that cancelled a written-off amount not yet recovered; the rest of ``returned``
    # was already paid and became customer credit
    returned_to_open: int = 0
    returned_written_off: int = 0
    returned_for_commission: int = 0  # what earlier returns counted for commissions
    # the date the open amount counts from, when a payment's reversal reopened it after
    # the invoice date (SPEC 1, 2.7: a fact taking from it joins the reopening)
    reopened_on: date | None = None

    @property
    def open_from(self) -> date:
        return self.invoice_date if self.reopened_on is None else max(self.invoice_date,
                                                                       self.reopened_on)

    @property
    def open(self) -> int:
        return self.gross - self.returned_to_open - self.settled - self.written_off

    @property
    def unrecovered(self) -> int:
        """Written off, not recovered by money, not cancelled by a return."""
        return self.written_off - self.recovered - self.returned_written_off

    @property
    def returnable(self) -> int:
        return self.gross - self.returned


# --- returns (SPEC 2.2) ---------------------------------------------------------------


def check_return(item: Receivable, amount: int) -> None:
    if amount > item.returnable:
        raise Rejection(
            "exceeds_open_amount",
            f"return of {amount} fen exceeds sale {item.sale_id!r}'s gross {item.gross} "
            f"less earlier returns {item.returned} (at most {item.returnable})",
            sale_id=item.sale_id, amount=amount, gross=item.gross,
            returned=item.returned, returnable=item.returnable,
        )


def return_commission_amount(item: Receivable, amount: int, to_written_off: int) -> int:
    """The gross of a return that counts for commissions (personal sales, clawback:
    SPEC 2.5), decided when the return is recorded and kept in its event.

    The part that cancels a written-off amount does not count (the write-off already
    clawed its commission back), and what a sale's returns count plus its write-offs
    never passes its gross: goods returned after a written-off amount was recovered
    are not taken back from the rep a second time."""
    room = item.gross - item.returned_for_commission - item.written_off
    return max(0, min(amount - to_written_off, room))


def split_return(item: Receivable, amount: int) -> tuple[int, int, int]:
    """(to_open, to_written_off, to_credit) of a return (SPEC 2.2, SPEC 3 return posting).

    A return reduces the sale's open amount first; then it cancels the written-off amount
    not yet recovered (goods back for a debt never paid: the bad debt goes, it is not
    credit); only the rest, the part of the sale already paid (settled or recovered),
    becomes customer credit. ``check_return`` keeps the rest within what was paid."""
    to_open = min(amount, max(0, item.open))
    to_written_off = min(amount - to_open, max(0, item.unrecovered))
    return to_open, to_written_off, amount - to_open - to_written_off


def return_vat(item: Receivable, amount: int) -> int:
    """VAT of a return, split across the sale's lines in proportion to their gross.

    Each line's cumulative returned VAT is rounded once; a return's VAT is the change in
    that cumulative figure, so returning the whole sale reverses exactly its VAT.
    """

    def cumulative(returned: int) -> int:
        total = 0
        for line in item.lines:
            share = Fraction(returned) * line["gross"] / item.gross if item.gross else 0
            total += round_fen(vat_of_gross(share, line["tax_rate"]))
        return total

    return cumulative(item.returned + amount) - cumulative(item.returned)


# --- payments (SPEC 2.3) --------------------------------------------------------------


def fifo_order(items: list[Receivable]) -> list[Receivable]:
    """Oldest first: by due date, then sale id in text order (default FIFO)."""
    return sorted(items, key=lambda r: (r.due_on, r.sale_id))


def allocate_payment(
    amount: int, receivables: dict[str, Receivable], allocations: list[tuple[str, int]] | None
) -> tuple[list[dict[str, Any]], int]:
    """Apply a payment. Returns the applications ``[{sale_id, amount, kind}]`` with kind
    ``allocation`` (settles open), ``recovery`` (money on a written-off amount) or ``fifo``,
    and the part left as customer credit.

    Explicit allocations go to the sale's open amount first, then to its written-off
    amount not yet recovered (a recovery); each must be at most that, and together at
    most the payment, else ``overpayment_allocation``. The rest settles the customer's
    open items FIFO (never written-off amounts); what is left becomes customer credit.
    """
    applied: list[dict[str, Any]] = []
    remaining = amount
    open_left = {sid: r.open for sid, r in receivables.items()}
    unrec_left = {sid: r.unrecovered for sid, r in receivables.items()}
    asked_total = sum(a for _, a in allocations or ())
    for sale_id, asked in allocations or ():
        capacity = open_left[sale_id] + unrec_left[sale_id]
        if asked > capacity:
            raise Rejection(
                "overpayment_allocation",
                f"allocation of {asked} fen to sale {sale_id!r} exceeds its open amount "
                f"{open_left[sale_id]}"
                + (f" plus unrecovered write-off {unrec_left[sale_id]}" if unrec_left[sale_id] else ""),
                sale_id=sale_id, open=open_left[sale_id], unrecovered=unrec_left[sale_id],
                asked=asked,
            )
        if asked_total > amount:
            raise Rejection(
                "overpayment_allocation",
                f"allocations total {asked_total} fen exceed the payment of {amount} fen",
                allocated=asked_total, payment=amount,
            )
        to_open = min(asked, open_left[sale_id])
        to_recovery = asked - to_open
        if to_open:
            applied.append({"sale_id": sale_id, "amount": to_open, "kind": "allocation"})
            open_left[sale_id] -= to_open
        if to_recovery:
            applied.append({"sale_id": sale_id, "amount": to_recovery, "kind": "recovery"})
            unrec_left[sale_id] -= to_recovery
        remaining -= asked
    for item in fifo_order(list(receivables.values())):
        if remaining <= 0:
            break
        take = min(remaining, open_left[item.sale_id])
        if take > 0:
            applied.append({"sale_id": item.sale_id, "amount": take, "kind": "fifo"})
            open_left[item.sale_id] -= take
            remaining -= take
    return applied, remaining


# --- write-offs (SPEC 2.3) --------------------------------------------------------------


def check_write_off(item: Receivable, amount: int) -> None:
    if amount > item.open:
        raise Rejection(
            "exceeds_open_amount",
            f"write-off of {amount} fen exceeds sale {item.sale_id!r}'s open amount {item.open}",
            sale_id=item.sale_id, amount=amount, open=item.open,
        )


# --- classes and buckets (SPEC 2.3) -----------------------------------------------------


def days_past_due(due_on: date, as_of: date) -> int:
    return max(0, (as_of - due_on).days)


def receivable_class(dpd: int, at_risk: bool, policy: dict[str, Any]) -> str:
    if at_risk and policy["at_risk_is_doubtful"]:
        return "doubtful"
    if dpd <= 0:
        return "receivable"
    if dpd <= policy["in_collection_max_days"]:
        return "in_collection"
    return "doubtful"


def bucket_names(policy: dict[str, Any]) -> tuple[str, ...]:
    """The aging buckets' names under the policy's ``bucket_limits`` L1 < ... < Ln
    (SPEC 2.3): ``not_due``, ``1-L1``, ``L1+1-L2``, ..., ``Ln+``; the default limits
    give ``BUCKETS``."""
    limits = [int(x) for x in policy["bucket_limits"]]
    names, low = ["not_due"], 1
    for limit in limits:
        names.append(f"{low}-{limit}")
        low = limit + 1
    names.append(f"{limits[-1]}+")
    return tuple(names)


def aging_bucket(dpd: int, policy: dict[str, Any]) -> str:
    names = bucket_names(policy)
    if dpd <= 0:
        return names[0]
    for name, limit in zip(names[1:], policy["bucket_limits"], strict=False):
        if dpd <= limit:
            return name
    return names[-1]


def doubtful_limit(as_of: date, policy: dict[str, Any]) -> date:
    """Items due before this date are more than ``in_collection_max_days`` past due."""
    return as_of - timedelta(days=policy["in_collection_max_days"])


def doubtful_total(items: list[Receivable], as_of: date, at_risk: bool, policy: dict[str, Any]) -> int:
    """Open amount classed doubtful on ``as_of``: everything open when the customer is at
    risk, else what is more than ``in_collection_max_days`` past due (the same test as
    ``receivable_class``, written as a due-date limit: this runs on every sale)."""
    if at_risk and policy["at_risk_is_doubtful"]:
        return sum(r.open for r in items if r.open > 0)
    limit = doubtful_limit(as_of, policy)
    return sum(r.open for r in items if r.due_on < limit and r.open > 0)


# --- joins: a fact that joins two dated facts counts from the later date (SPEC 1) ----------


def join_day(*days: str | None) -> str:
    """The business date from which a join counts: the latest of its facts' dates
    (ISO dates, so the text order is the date order); None is no date."""
    return max(d for d in days if d is not None)


def credit_pieces(lots: list[tuple[int, str, int]], used: dict[int, int], amount: int,
                  sale_day: str) -> list[tuple[int | None, str, int]]:
    """How customer credit applied to a new sale (``credit_applied``) is dated (SPEC 1,
    SPEC 2.3): the credit is taken from the customer's credit lots (the overpayments and
    the returns of paid sales, each with its business date and log position) oldest
    first, by date then position, each lot less what earlier sales took from it
    (``used``: lot position -> fen); each piece counts from the later of the lot's date
    and the sale's. Returns ``[(lot position, day, fen)]``; credit beyond the known lots
    (none in a consistent log) counts from the sale's date with lot None."""
    pieces: list[tuple[int | None, str, int]] = []
    left = amount
    for position, day, lot in sorted(lots, key=lambda x: (x[1], x[0])):
        if left <= 0:
            break
        take = min(left, lot - used.get(position, 0))
        if take > 0:
            pieces.append((position, join_day(day, sale_day), take))
            left -= take
    if left > 0:
        pieces.append((None, sale_day, left))
    return pieces


def credit_removal(lots: list[tuple[int, str, int]], used: dict[int, int], own: int | None,
                   amount: int) -> list[tuple[int | None, int]]:
    """Which credit lots a payment's reversal (SPEC 2.7) takes its ``credit_removed`` from:
    first what is left of the payment's own lot (``own``, its log position), then, if
    sales have taken from it since, the other lots in the order ``credit_pieces`` takes
    them (date, then position), so that later sales take credit only from what is left.
    ``used``: lot position -> fen taken so far. Returns ``[(lot position, fen)]``; an
    amount beyond the known lots (none in a consistent log) has lot None."""
    pieces: list[tuple[int | None, int]] = []
    left = amount
    ordered = sorted(lots, key=lambda x: (x[0] != own, x[1], x[0]))
    for position, _day, lot in ordered:
        if left <= 0:
            break
        take = min(left, lot - used.get(position, 0))
        if take > 0:
            pieces.append((position, take))
            left -= take
    if left > 0:
        pieces.append((None, left))
    return pieces


def days_sales_outstanding(open_total: int, gross_sales: int, window_days: int) -> Fraction | None:
    """DSO (SPEC 3) = open receivables / gross sales invoiced in the window x the window's
    days, exactly; None when the window holds no sales."""
    if not gross_sales:
        return None
    return Fraction(open_total * window_days, gross_sales)


def dso_window(day: date, window_days: int) -> tuple[date, date]:
    """The ``window_days`` days up to and including ``day`` (first, last)."""
    return day - timedelta(days=window_days - 1), day
