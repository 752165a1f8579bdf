"""The posting rules of the general ledger (SPEC 3, General ledger): pure functions from
an event's values to its journal entries. The general-ledger projection reads the dates
a join counts from, calls these and writes the rows; it decides nothing itself.

Chart of accounts (``CHART``; the code only orders the trial balance):

=====  ============================  =========  ===========================================
code   account                       kind       holds
=====  ============================  =========  ===========================================
1000   ``cash``                      asset      payments in; expense spends, payouts out
1100   ``receivables``               asset      control account of the per-sale open amounts
2100   ``customer_credit``           liability  control account of per-customer credit
2200   ``vat_payable``               liability  output VAT of sales less VAT of returns
2300   ``commission_payable``        liability  control account of the commission statements
4000   ``revenue``                   income     sales net of VAT, less returns net of VAT
4100   ``other_income``              income     fines of reps
4200   ``bad_debt_recovery_income``  income     money received on written-off amounts
5100   ``bad_debt_expense``          expense    write-offs, less the written-off amounts
                                                that returns cancelled
5200   ``commission_expense``        expense    commissions, bonuses, override, adjustments,
                                                less clawbacks
5300   ``marketing_expense:<cat>``   expense    expense spends, by budget category
=====  ============================  =========  ===========================================

A journal entry is a list of lines ``(account, debit, credit)`` in fen; an event's
postings are ``[(business date, entry)]`` (a fact that joins two dated facts counts from
the later date, customer credit until then: SPEC 1). ``balanced_rows`` drops zero lines
and refuses an entry whose debits and credits differ. The rules per event are listed in
``ledger.projections.general_ledger``'s docstring.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

CASH = "cash"
RECEIVABLES = "receivables"
CUSTOMER_CREDIT = "customer_credit"
VAT_PAYABLE = "vat_payable"
COMMISSION_PAYABLE = "commission_payable"
REVENUE = "revenue"
OTHER_INCOME = "other_income"
RECOVERY_INCOME = "bad_debt_recovery_income"
BAD_DEBT_EXPENSE = "bad_debt_expense"
COMMISSION_EXPENSE = "commission_expense"
MARKETING_EXPENSE = "marketing_expense"  # one account per budget category: "marketing_expense:<category>"

CHART: dict[str, tuple[int, str]] = {  # account -> (code, kind)
    CASH: (1000, "asset"),
    RECEIVABLES: (1100, "asset"),
    CUSTOMER_CREDIT: (2100, "liability"),
    VAT_PAYABLE: (2200, "liability"),
    COMMISSION_PAYABLE: (2300, "liability"),
    REVENUE: (4000, "income"),
    OTHER_INCOME: (4100, "income"),
    RECOVERY_INCOME: (4200, "income"),
    BAD_DEBT_EXPENSE: (5100, "expense"),
    COMMISSION_EXPENSE: (5200, "expense"),
    MARKETING_EXPENSE: (5300, "expense"),
}

# (account, debit, credit)
Line = tuple[str, int, int]
# an event's postings: each entry with the business date it counts from
Entries = list[tuple[date, list[Line]]]


class UnbalancedEntry(ValueError):
    """A posting rule produced debits and credits that differ: a bug, never skipped."""


def expense_account(category: str) -> str:
    return f"{MARKETING_EXPENSE}:{category}"


def account_code(account: str) -> int:
    return CHART[account.split(":", 1)[0]][0]


def account_kind(account: str) -> str:
    return CHART[account.split(":", 1)[0]][1]


def dr(account: str, amount: int) -> Line:
    return (account, amount, 0) if amount >= 0 else (account, 0, -amount)


def cr(account: str, amount: int) -> Line:
    return (account, 0, amount) if amount >= 0 else (account, -amount, 0)


def balanced_rows(lines: Iterable[Line], what: str) -> list[Line]:
    """The entry's non-zero lines; ``UnbalancedEntry`` (naming ``what``) when its debits
    and credits differ."""
    rows = [line for line in lines if line[1] or line[2]]
    debit, credit = sum(r[1] for r in rows), sum(r[2] for r in rows)
    if debit != credit:
        raise UnbalancedEntry(f"{what}: debits {debit} != credits {credit}: {rows}")
    return rows


# --- entries -------------------------------------------------------------------------------


def sale_entry(e: Any, credit_now: int | None = None) -> list[Line]:
    """The sale on its invoice date; ``credit_now`` is the part of ``credit_applied`` that
    counts on that date (all of it when None: the rest posts on its own dates,
    ``credit_settles_entry``)."""
    credit = e.credit_applied if credit_now is None else credit_now
    return [
        dr(RECEIVABLES, e.gross), cr(REVENUE, e.gross - e.vat), cr(VAT_PAYABLE, e.vat),
        dr(CUSTOMER_CREDIT, credit), cr(RECEIVABLES, credit),
    ]


def credit_settles_entry(amount: int) -> list[Line]:
    """Customer credit settling a sale, dated the later of the credit's and the sale's
    dates (SPEC 1, SPEC 3)."""
    return [dr(CUSTOMER_CREDIT, amount), cr(RECEIVABLES, amount)]


def sale_entries(e: Any, pieces: list[tuple[int | None, str, int]]) -> Entries:
    """A sale's postings: the sale on its invoice date and, when customer credit settles
    it, each piece of that credit (``receivables.credit_pieces``: (lot, day, fen), the
    day the later of the lot's and the sale's) on its own day, summed per day."""
    if not e.credit_applied:
        return [(date.fromisoformat(e.invoice_date), sale_entry(e))]
    now = sum(amount for _, day, amount in pieces if day == e.invoice_date)
    later: dict[str, int] = {}
    for _, day, amount in pieces:
        if day != e.invoice_date:
            later[day] = later.get(day, 0) + amount
    return [
        (date.fromisoformat(e.invoice_date), sale_entry(e, now)),
        *((date.fromisoformat(day), credit_settles_entry(amount))
          for day, amount in sorted(later.items())),
    ]


def return_entry(e: Any, held: int = 0) -> list[Line]:
    """``held``: the part of ``to_written_off`` that counts only from a later write-off's
    date, customer credit until then (``joined_entry``)."""
    return [
        dr(REVENUE, e.amount - e.vat), dr(VAT_PAYABLE, e.vat),
        cr(RECEIVABLES, e.to_open), cr(BAD_DEBT_EXPENSE, e.to_written_off - held),
        cr(CUSTOMER_CREDIT, e.to_credit + held),
    ]


def return_entries(e: Any, day: str, written_off_on: str | None) -> Entries:
    """A return's postings on ``day`` (its business date, not before the sale's); the
    written-off amount it cancels counts from the sale's latest write-off date when that
    is later (customer credit until then)."""
    later = max(day, written_off_on or day)
    held = e.to_written_off if later > day else 0
    entries = [(date.fromisoformat(day), return_entry(e, held))]
    if held:
        entries.append((date.fromisoformat(later), joined_entry("return", held)))
    return entries


def payment_entry(e: Any, held: dict[int, bool] | None = None) -> list[Line]:
    """The payment on its ``received_on``; ``held`` marks (by index in ``applied``) the
    applications that count only from a later date (a sale or write-off dated after the
    payment: SPEC 1): customer credit until then (``joined_entry``)."""
    held = held or {}
    now = [a for i, a in enumerate(e.applied) if not held.get(i)]
    settled = sum(a["amount"] for a in now if a["kind"] != "recovery")
    recovered = sum(a["amount"] for a in now if a["kind"] == "recovery")
    later = sum(a["amount"] for i, a in enumerate(e.applied) if held.get(i))
    return [
        dr(CASH, e.amount), cr(RECEIVABLES, settled), cr(RECOVERY_INCOME, recovered),
        cr(CUSTOMER_CREDIT, e.to_credit + later),
    ]


def payment_entries(e: Any, days: list[str]) -> Entries:
    """A payment's postings: on ``received_on``, and each application whose day (``days``,
    in ``applied`` order: the later of ``received_on`` and its sale's or write-off's
    date) is later on that day (customer credit until then)."""
    held: dict[int, bool] = {}
    later: Entries = []
    for i, (a, day) in enumerate(zip(e.applied, days, strict=True)):
        if day > e.received_on:
            held[i] = True
            later.append((date.fromisoformat(day), joined_entry(a["kind"], a["amount"])))
    return [(date.fromisoformat(e.received_on), payment_entry(e, held)), *later]


def joined_entry(kind: str, amount: int) -> list[Line]:
    """Money held as customer credit reaching its sale on the later date (SPEC 1): a
    settlement (``allocation``, ``fifo``), a ``recovery``, or a return's cancelling of a
    written-off amount (``return``)."""
    account = {"recovery": RECOVERY_INCOME, "return": BAD_DEBT_EXPENSE}.get(kind, RECEIVABLES)
    return [dr(CUSTOMER_CREDIT, amount), cr(account, amount)]


def write_off_entry(e: Any) -> list[Line]:
    return [dr(BAD_DEBT_EXPENSE, e.amount), cr(RECEIVABLES, e.amount)]


def spend_entry(e: Any, category: str) -> list[Line]:
    return [dr(expense_account(category), e.amount), cr(CASH, e.amount)]


def statement_fines(fines: int, lines: list[dict[str, Any]]) -> int:
    """The fines a statement counts: the month's own and the change in fines its late
    adjustment lines carry (a closed month's figures as booked and as revised)."""
    return fines + sum(
        (line.get("revised") or {}).get("fines", 0) - (line.get("booked") or {}).get("fines", 0)
        for line in lines if line.get("type") == "adjustment" and line.get("revised")
    )


def accrual_entry(e: Any) -> list[Line]:
    """A month's statement, dated the month's last day. Its fines were posted on their own
    dates (``fine_entry``), so the entry credits commission_payable by the statement's
    ``total`` less what it carried in from an earlier negative month (already booked by
    that month: a carry moves a debt inside commission_payable) plus the fines it counts:
    earned (commission, bonuses, override) Dr commission_expense, clawback back to
    commission_expense, and the rest (late adjustments other than fines) Dr
    commission_expense, Cr commission_payable (the reverse when negative)."""
    earned = e.commission + e.morning_star_bonus + e.opening_star_bonus + e.override
    payable = e.total - e.carried + statement_fines(e.fines, e.lines)
    rest = payable - earned + e.clawback
    return [
        dr(COMMISSION_EXPENSE, earned), cr(COMMISSION_PAYABLE, earned),
        dr(COMMISSION_PAYABLE, e.clawback), cr(COMMISSION_EXPENSE, e.clawback),
        dr(COMMISSION_EXPENSE, rest), cr(COMMISSION_PAYABLE, rest),
    ]


def fine_entry(e: Any) -> list[Line]:
    """A fine, on its own date (SPEC 3): Dr commission_payable, Cr other_income."""
    return [dr(COMMISSION_PAYABLE, e.amount), cr(OTHER_INCOME, e.amount)]


def payout_entry(e: Any) -> list[Line]:
    return [dr(COMMISSION_PAYABLE, e.amount), cr(CASH, e.amount)]


def reversed_entry(lines: list[Line]) -> list[Line]:
    """A reversal (SPEC 2.7): the entry of what it reverses with debits and credits swapped."""
    return [(account, credit, debit) for account, debit, credit in lines]


def fine_reversal_entry(e: Any) -> list[Line]:
    """A fine's reversal (SPEC 2.7): Dr other_income, Cr commission_payable."""
    return reversed_entry(fine_entry(e))


def payment_reversal_entries(posted: Iterable[tuple[str, str, int, int]], day: str) -> Entries:
    """A payment's reversal on ``day``: each line the payment posted (``(day, account,
    debit, credit)``, on ``received_on`` and on the later dates of its joins) with debits
    and credits swapped, on the later of its date and the reversal's, so the payment nets
    to nothing from the reversal on, whatever its joins' dates."""
    entries: dict[str, list[Line]] = {}
    for posted_on, account, debit, credit in posted:
        entries.setdefault(max(posted_on, day), []).append((account, credit, debit))
    return [(date.fromisoformat(d), lines) for d, lines in sorted(entries.items())]
