"""General ledger: double-entry postings for every money event (SPEC 3, General ledger).

Each money event becomes a balanced journal entry (more than one when parts of it count from
later dates, below): a few posting rows, each dated by the business date it counts from
(SPEC 1, Time) and keyed by the event's log position, so the trial balance can be taken
as of any business date and every row points back to the event that caused it.

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

Posting rules (amounts in fen; a zero line is not written). Each entry is dated on its
fact's business date; a fact that joins two dated facts (a payment's allocation to a sale,
FIFO included; a recovery on a written-off amount; customer credit applied to a sale; a
return cancelling a written-off amount) counts only from the later of their dates, and the
money is customer credit until then (SPEC 1), so such an event may post a second entry on
that later date:

- ``Customer.SaleRecorded`` (invoice date): Dr receivables gross; Cr revenue gross - VAT;
  Cr vat_payable VAT; and when customer credit settles the new sale (``credit_applied``):
  Dr customer_credit, Cr receivables, on the later of the sale's date and the date of
  each credit lot it takes (the customer's lots, oldest first: ``credit_pieces``).
- ``Customer.ReturnRecorded`` (business date, not before the sale's): Dr revenue amount -
  VAT; Dr vat_payable VAT; Cr receivables ``to_open``; Cr bad_debt_expense
  ``to_written_off`` (the part that cancelled a written-off amount not yet recovered: it
  reverses that write-off's expense; on the sale's latest write-off date when later, Cr
  customer_credit until then); Cr customer_credit ``to_credit`` (the part of the sale
  already paid).
- ``Customer.PaymentRecorded`` (``received_on``): Dr cash amount; Cr receivables the
  ``allocation`` and ``fifo`` applications; Cr bad_debt_recovery_income the ``recovery``
  applications; Cr customer_credit ``to_credit`` (beyond all open items). An application
  to a sale dated later (a recovery: a write-off dated later) is Cr customer_credit on
  ``received_on`` and Dr customer_credit, Cr receivables (recovery income) on that date.
- ``Customer.ReceivableWrittenOff`` (business date, not before the sale's): Dr
  bad_debt_expense, Cr receivables.
- ``Budget.ExpenseSpent`` (``paid_on``): Dr marketing_expense:<the budget's category>,
  Cr cash. The category comes from ``Budget.Allocated`` (kept in the ``budgets`` table).
- ``Rep.Fined`` (``fined_on``): Dr commission_payable, Cr other_income, on the fine's own
  date (SPEC 3), not with the month's accrual.
- ``Rep.CommissionAccrued`` (the month's last day): Dr commission_expense, Cr
  commission_payable: commission + morning_star_bonus + opening_star_bonus + override;
  clawback: Dr commission_payable, Cr commission_expense; the rest of the statement's
  total (late adjustments other than fines) Dr commission_expense, Cr commission_payable
  when positive, the reverse when negative. The entry credits commission_payable by the
  statement's ``total`` plus the fines it counts (its month's and the late ones its
  adjustment lines carry), since those were posted on their own dates.
- ``Rep.CommissionPaid`` (``paid_on``): Dr commission_payable, Cr cash.
- Reversals (SPEC 2.7), ``ref`` the reversed fact's id, dated on the reversal's business
  date R (its ``occurred_at`` in company time: as of the day before, the fact stands):
  ``Customer.PaymentReversed``, each entry the payment posted (on ``received_on`` and
  on the later dates of its joins) with debits and credits swapped, on the later of its
  date and R, so the payment nets to nothing from R on, whatever its joins' dates;
  ``Budget.SpendReversed``, Dr cash, Cr marketing_expense:<category>;
  ``Rep.PayoutReversed``, Dr cash, Cr commission_payable. ``Rep.FineReversed``: Dr
  other_income, Cr commission_payable on the fine's own date (``fined_on``), the date
  the commissions sub-ledger counts a reversed fine on (it leaves its month, or is a late
  fact of it when the month is closed; the accruals are neutral to fines, above), so the
  fine and its reversal net to nothing on every date.

So commission_payable as of D = the totals plus fines of the statements of the months
ended by D, less the fines dated by D not reversed, less the payouts dated by D plus the
payouts reversed by D: what the commissions sub-ledger shows as of D (``reconcile``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, ClassVar

from ledger.domain.calendar import business_date, month, parse_instant
from ledger.domain.receivables import credit_pieces, credit_removal, join_day
from ledger.domain.model import (
    ApprovalGrants, Budget, Claim, Closings, CommandRecord, Customer, Dispute, PolicyBook, Rep, Sku,
    User,
)
from ledger.projections.common import Dispatching, MissingReference
from ledger.projections.engine import Projection, Projector, Sql


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


def expense_account(category: str) -> str:
    return f"{MARKETING_EXPENSE}:{category}"


def account_code(account: str) -> int:
    return CHART[account.split(":", 1)[0]][0]


def event_day(event: Any) -> date:
    """The business date of an event: its ``occurred_at`` in company time (SPEC 1)."""
    return business_date(parse_instant(event.meta["occurred_at"]))


def dr(account: str, amount: int) -> Line:
    return (account, amount, 0) if amount >= 0 else (account, 0, -amount)


def cr(account: str, amount: int) -> Line:
    return (account, 0, amount) if amount >= 0 else (account, -amount, 0)


# --- the posting rules: pure functions from an event to its journal entry ----------------


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


def return_entry(e: Any, held: int = 0) -> list[Line]:
    """``held``: the part of ``to_written_off`` that counts only from a later write-off's
    date, customer credit until then (``joined_entry``)."""
    return [
        dr(REVENUE, e.amount - e.vat), dr(VAT_PAYABLE, e.vat),
        cr(RECEIVABLES, e.to_open), cr(BAD_DEBT_EXPENSE, e.to_written_off - held),
        cr(CUSTOMER_CREDIT, e.to_credit + held),
    ]


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


class UnbalancedEntry(ValueError):
    """A posting rule produced debits and credits that differ: a bug, never skipped."""


class GeneralLedger(Dispatching):
    name = "gl"
    handlers: ClassVar[dict[type, str]] = {
        Customer.SaleRecorded: "_sale",
        Customer.ReturnRecorded: "_return",
        Customer.PaymentRecorded: "_payment",
        Customer.ReceivableWrittenOff: "_write_off",
        Budget.Allocated: "_allocated",
        Budget.ExpenseSpent: "_spent",
        Rep.CommissionAccrued: "_accrued",
        Rep.CommissionPaid: "_paid",
        Rep.Fined: "_fined",
        Customer.PaymentReversed: "_payment_reversed",
        Budget.SpendReversed: "_spend_reversed",
        Rep.PayoutReversed: "_payout_reversed",
        Rep.FineReversed: "_fine_reversed",
    }
    # stored events it does not read (tests/projections/test_event_coverage.py)
    ignores: ClassVar[frozenset[type]] = frozenset({
        ApprovalGrants.Opened, ApprovalGrants.Granted, ApprovalGrants.Used,
        Budget.Adjusted, Budget.ExpenseSubmitted, Budget.ExpenseApproved,
        Budget.ExpenseRejected, Claim.Claimed, Closings.Opened, Closings.MonthClosed,
        CommandRecord.Recorded, CommandRecord.RecordedFor, Customer.Registered,
        Customer.CreditTermsSet, Customer.AtRiskFlagged, Dispute.Opened, Dispute.Resolved,
        PolicyBook.Opened, PolicyBook.PolicyAdopted, Rep.Registered, Rep.RankChanged,
        Sku.Opened, Sku.ListPriceSet, User.Registered,
    })
    tables: ClassVar[dict[str, str]] = {
        # one row per posting line; (position, seq) names the event and the line
        "postings": (
            "position BIGINT NOT NULL, seq INTEGER NOT NULL, day TEXT NOT NULL, "
            "account TEXT NOT NULL, debit BIGINT NOT NULL, credit BIGINT NOT NULL, "
            "event TEXT NOT NULL, ref TEXT NOT NULL, party TEXT NOT NULL, "
            "PRIMARY KEY (position, seq)"
        ),
        # a budget's category, for the expense account of its spends
        "budgets": "budget_key TEXT PRIMARY KEY, budget_id TEXT NOT NULL, category TEXT NOT NULL",
        # the dates a join counts from (SPEC 1): each sale's invoice date and latest
        # write-off date (or, when later, the date a payment's reversal reopened its open,
        # its written-off amount), and each customer's credit lots and what sales took
        "sales": "sale_id TEXT PRIMARY KEY, party TEXT NOT NULL, invoice_date TEXT NOT NULL, "
                 "written_off_on TEXT",
        "credit": "position BIGINT NOT NULL, kind TEXT NOT NULL, party TEXT NOT NULL, "
                  "day TEXT NOT NULL, amount BIGINT NOT NULL, PRIMARY KEY (position, kind)",
        # each payment's applications with the date each counts from, so that its reversal
        # moves the date its sales' open (written-off) amounts count from (``sales``)
        "applications": "position BIGINT NOT NULL, sale_id TEXT NOT NULL, kind TEXT NOT NULL, "
                        "day TEXT NOT NULL, PRIMARY KEY (position, sale_id, kind)",
    }
    indexes: ClassVar[dict[str, str]] = {
        "postings_day": "postings(day)", "postings_account": "postings(account, day)",
        "credit_party": "credit(party)", "postings_ref": "postings(ref)",
    }

    def __init__(self, generation: int = 1) -> None:
        super().__init__(generation)
        # budget -> category: facts that never change, so a cache stays right whatever
        # transaction first saw them; a miss reads the table (one SELECT per budget)
        self._categories: dict[str, str] = {}

    def _sale(self, sql: Sql, position: int, e: Any) -> None:
        party = str(e.originator_id)
        sql.execute(f"INSERT INTO {self.t('sales')} (sale_id, party, invoice_date, written_off_on) "
                    "VALUES (?, ?, ?, NULL)", (e.sale_id, party, e.invoice_date))
        if not e.credit_applied:
            self._post(sql, position, date.fromisoformat(e.invoice_date), e, e.sale_id, sale_entry(e))
            return
        # customer credit settles the sale from the later of each credit lot's date and
        # the sale's (SPEC 1)
        pieces = credit_pieces(*self._credit_lots(sql, party), e.credit_applied, e.invoice_date)
        sql.executemany(
            f"INSERT INTO {self.t('credit')} (position, kind, party, day, amount) "
            "VALUES (?, ?, ?, ?, ?)",
            [(position, "sale" if lot is None else f"sale@{lot}", party, day, -amount)
             for lot, day, amount in pieces],
        )
        now = sum(amount for _, day, amount in pieces if day == e.invoice_date)
        later: dict[str, int] = {}
        for _, day, amount in pieces:
            if day != e.invoice_date:
                later[day] = later.get(day, 0) + amount
        self._post_many(sql, position, e, e.sale_id, [
            (date.fromisoformat(e.invoice_date), sale_entry(e, now)),
            *((date.fromisoformat(day), credit_settles_entry(amount))
              for day, amount in sorted(later.items())),
        ])

    def _return(self, sql: Sql, position: int, e: Any) -> None:
        invoice_date, written_off_on = self._sale_dates(sql, e.sale_id)
        day = join_day(event_day(e).isoformat(), invoice_date)
        later = join_day(day, written_off_on)
        held = e.to_written_off if later > day else 0
        entries = [(date.fromisoformat(day), return_entry(e, held))]
        if held:
            entries.append((date.fromisoformat(later), joined_entry("return", held)))
        self._post_many(sql, position, e, e.return_id, entries)
        if e.to_credit:
            self._lot(sql, position, "return", e, day, e.to_credit)

    def _payment(self, sql: Sql, position: int, e: Any) -> None:
        held: dict[int, bool] = {}
        later: list[tuple[date, list[Line]]] = []
        dates = self._sales_dates(sql, [a["sale_id"] for a in e.applied])
        for i, a in enumerate(e.applied):
            invoice_date, written_off_on = dates[a["sale_id"]]
            day = join_day(e.received_on, invoice_date,
                           written_off_on if a["kind"] == "recovery" else None)
            if day > e.received_on:
                held[i] = True
                later.append((date.fromisoformat(day), joined_entry(a["kind"], a["amount"])))
            sql.execute(f"INSERT INTO {self.t('applications')} (position, sale_id, kind, day) "
                        "VALUES (?, ?, ?, ?)", (position, a["sale_id"], a["kind"], day))
        self._post_many(sql, position, e, e.payment_id,
                        [(date.fromisoformat(e.received_on), payment_entry(e, held)), *later])
        if e.to_credit:
            self._lot(sql, position, "payment", e, e.received_on, e.to_credit)

    def _write_off(self, sql: Sql, position: int, e: Any) -> None:
        invoice_date, written_off_on = self._sale_dates(sql, e.sale_id)
        day = join_day(event_day(e).isoformat(), invoice_date)
        sql.execute(f"UPDATE {self.t('sales')} SET written_off_on = ? WHERE sale_id = ?",
                    (join_day(day, written_off_on), e.sale_id))
        self._post(sql, position, date.fromisoformat(day), e, e.writeoff_id, write_off_entry(e))

    def _fined(self, sql: Sql, position: int, e: Any) -> None:
        self._post(sql, position, date.fromisoformat(e.fined_on), e, e.fine_id, fine_entry(e))

    def _lot(self, sql: Sql, position: int, kind: str, e: Any, day: str, amount: int) -> None:
        sql.execute(f"INSERT INTO {self.t('credit')} (position, kind, party, day, amount) "
                    "VALUES (?, ?, ?, ?, ?)", (position, kind, str(e.originator_id), day, amount))

    def _sale_dates(self, sql: Sql, sale_id: str) -> tuple[str, str | None]:
        """(invoice date, latest write-off date) of a sale."""
        return self._sales_dates(sql, [sale_id])[sale_id]

    def _sales_dates(self, sql: Sql, sale_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        wanted = sorted(set(sale_ids))
        if not wanted:
            return {}
        rows = sql.all(f"SELECT sale_id, invoice_date, written_off_on FROM {self.t('sales')} "
                       f"WHERE sale_id IN ({', '.join('?' * len(wanted))})", wanted)
        found = {r["sale_id"]: (r["invoice_date"], r["written_off_on"]) for r in rows}
        for sale_id in wanted:
            if sale_id not in found:
                raise MissingReference(f"general ledger: a fact about sale {sale_id} before the sale")
        return found

    def _credit_lots(self, sql: Sql, party: str) -> tuple[list[tuple[int, str, int]],
                                                          dict[int, int]]:
        lots, used = [], {}
        for r in sql.all(f"SELECT position, kind, day, amount FROM {self.t('credit')} "
                         "WHERE party = ?", (party,)):
            if r["kind"].startswith(("sale@", "reversal@")):  # taken by a sale or a reversal
                lot = int(r["kind"].split("@", 1)[1])
                used[lot] = used.get(lot, 0) - int(r["amount"])
            elif r["kind"] in ("payment", "return"):
                lots.append((int(r["position"]), r["day"], int(r["amount"])))
        return lots, used

    def _allocated(self, sql: Sql, position: int, e: Any) -> None:
        key = str(e.originator_id)
        sql.execute(
            f"INSERT INTO {self.t('budgets')} (budget_key, budget_id, category) VALUES (?, ?, ?)",
            (key, e.budget_id, e.category),
        )
        self._categories[key] = e.category

    def _spent(self, sql: Sql, position: int, e: Any) -> None:
        category = self._category(sql, str(e.originator_id))
        self._post(sql, position, date.fromisoformat(e.paid_on), e, e.expense_id, spend_entry(e, category))

    def _accrued(self, sql: Sql, position: int, e: Any) -> None:
        self._post(sql, position, month(e.period).last, e, e.period, accrual_entry(e))

    def _paid(self, sql: Sql, position: int, e: Any) -> None:
        self._post(sql, position, date.fromisoformat(e.paid_on), e, e.payout_id, payout_entry(e))

    # --- reversals (SPEC 2.7), dated on the reversal's business date; ``ref`` is the
    # reversed fact's id, so its entry and its reversal read together

    def _payment_reversed(self, sql: Sql, position: int, e: Any) -> None:
        """The payment's own postings (its entry on ``received_on`` and the joins it
        posted on later dates) with debits and credits swapped, each entry on the later of
        its date and the reversal's (from then on the payment nets to nothing; a join
        still to come nets to nothing when it comes); the credit it created leaves the
        customer's lots on the reversal's date (its own lot first: ``credit_removal``)."""
        day = event_day(e).isoformat()
        rows = sql.all(f"SELECT position, day, account, debit, credit FROM {self.t('postings')} "
                       "WHERE ref = ? AND event = ? ORDER BY position, seq",
                       (e.payment_id, "PaymentRecorded"))
        if not rows:
            raise MissingReference(f"general ledger: payment {e.payment_id} is not recorded")
        entries: dict[str, list[Line]] = {}
        for r in rows:
            entries.setdefault(max(r["day"], day), []).append(
                (r["account"], int(r["credit"]), int(r["debit"])))
        self._post_many(sql, position, e, e.payment_id,
                        [(date.fromisoformat(d), lines) for d, lines in sorted(entries.items())])
        # a sale's reopened amount counts from the reversal's date: a fact taking from it
        # later joins the reversal (``_sales_dates``, as the receivables projection dates it)
        for r in sql.all(f"SELECT sale_id, kind, day FROM {self.t('applications')} "
                         "WHERE position = ?", (rows[0]["position"],)):
            column = "written_off_on" if r["kind"] == "recovery" else "invoice_date"
            sql.execute(f"UPDATE {self.t('sales')} SET {column} = ? WHERE sale_id = ? "
                        f"AND {column} < ?", (max(r["day"], day), r["sale_id"], max(r["day"], day)))
        if e.credit_removed:
            party = str(e.originator_id)
            lots, used = self._credit_lots(sql, party)
            sql.executemany(
                f"INSERT INTO {self.t('credit')} (position, kind, party, day, amount) "
                "VALUES (?, ?, ?, ?, ?)",
                [(position, "reversal" if lot is None else f"reversal@{lot}", party, day, -amount)
                 for lot, amount in credit_removal(lots, used, int(rows[0]["position"]),
                                                   e.credit_removed)],
            )

    def _spend_reversed(self, sql: Sql, position: int, e: Any) -> None:
        category = self._category(sql, str(e.originator_id))
        self._post(sql, position, event_day(e), e, e.expense_id,
                   reversed_entry(spend_entry(e, category)))

    def _fine_reversed(self, sql: Sql, position: int, e: Any) -> None:
        """On the fine's own date, as the commissions sub-ledger counts a reversed fine
        (out of its month, or a late fact of it when the month is closed): the fine and
        its reversal net to nothing on every date."""
        self._post(sql, position, date.fromisoformat(e.fined_on), e, e.fine_id,
                   fine_reversal_entry(e))

    def _payout_reversed(self, sql: Sql, position: int, e: Any) -> None:
        self._post(sql, position, event_day(e), e, e.payout_id, reversed_entry(payout_entry(e)))

    def _category(self, sql: Sql, budget_key: str) -> str:
        if budget_key not in self._categories:
            category = sql.scalar(
                f"SELECT category FROM {self.t('budgets')} WHERE budget_key = ?", (budget_key,)
            )
            if category is None:
                raise ValueError(f"general ledger: spend on budget {budget_key} before its allocation")
            self._categories[budget_key] = category
        return self._categories[budget_key]

    def _post(self, sql: Sql, position: int, day: date, e: Any, ref: str,
              lines: Iterable[Line]) -> None:
        """One balanced entry, dated ``day``; ``party`` is the event's aggregate (the
        customer, budget or rep)."""
        self._post_many(sql, position, e, ref, [(day, lines)])

    def _post_many(self, sql: Sql, position: int, e: Any, ref: str,
                   entries: Iterable[tuple[date, Iterable[Line]]]) -> None:
        """The event's balanced entries, each on its own date (a join counts from the
        later date: SPEC 1); the lines of all of them numbered in one sequence."""
        event, party = type(e).__name__, str(e.originator_id)
        out = []
        for day, lines in entries:
            rows = [line for line in lines if line[1] or line[2]]
            debit, credit = sum(r[1] for r in rows), sum(r[2] for r in rows)
            if debit != credit:
                raise UnbalancedEntry(
                    f"{event} {ref} at position {position}: debits {debit} != credits {credit}: {rows}"
                )
            out += [(day.isoformat(), *row) for row in rows]
        sql.executemany(
            f"INSERT INTO {self.t('postings')} "
            "(position, seq, day, account, debit, credit, event, ref, party) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(position, seq, day, account, d, c, event, ref, party)
             for seq, (day, account, d, c) in enumerate(out)],
        )


# --- queries ---------------------------------------------------------------------------


def projection_of(projector: Projector, cls: type[Projection]) -> Any:
    for p in projector.projections:
        if isinstance(p, cls):
            return p
    raise LookupError(f"the projector does not keep {cls.__name__}")


def _as_of(value: date | str | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else date.fromisoformat(value).isoformat()


def account_balances(sql: Sql, gl: GeneralLedger, as_of: date | str | None = None) -> dict[str, tuple[int, int]]:
    """account -> (sum of debits, sum of credits) of the postings dated on or before
    ``as_of`` (every posting when None)."""
    day = _as_of(as_of)
    where, params = ("WHERE day <= ?", (day,)) if day else ("", ())
    rows = sql.all(
        f"SELECT account, SUM(debit) AS debit, SUM(credit) AS credit "
        f"FROM {gl.t('postings')} {where} GROUP BY account",
        params,
    )
    return {r["account"]: (int(r["debit"]), int(r["credit"])) for r in rows}


def trial_balance(projector: Projector, as_of: date | str | None = None) -> dict[str, Any]:
    """SPEC 5.3 ``trial-balance [--as-of D]``: each account's balance on its side as of the
    business date ``as_of`` (every posting when None); the totals are always equal."""
    gl = projection_of(projector, GeneralLedger)
    with projector.transaction(commit=False) as sql:
        sums = account_balances(sql, gl, as_of)
    accounts = []
    for account in sorted(sums, key=lambda a: (account_code(a), a)):
        d, c = sums[account]
        net = d - c
        accounts.append({"account": account, "debit": max(net, 0), "credit": max(-net, 0)})
    return {
        "accounts": accounts,
        "debit_total": sum(a["debit"] for a in accounts),
        "credit_total": sum(a["credit"] for a in accounts),
    }


def control_balance(sql: Sql, gl: GeneralLedger, account: str) -> int:
    """An account's balance on its normal side (debit for assets and expenses, credit for
    liabilities and income), over every posting."""
    d, c = account_balances(sql, gl).get(account, (0, 0))
    kind = CHART[account.split(":", 1)[0]][1]
    return d - c if kind in ("asset", "expense") else c - d


def postings(projector: Projector, *, account: str | None = None, ref: str | None = None,
             as_of: date | str | None = None) -> list[dict[str, Any]]:
    """The posting rows, in log order (for explain and for tests)."""
    gl = projection_of(projector, GeneralLedger)
    clauses, params = [], []
    for column, value in (("account", account), ("ref", ref)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if (day := _as_of(as_of)) is not None:
        clauses.append("day <= ?")
        params.append(day)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with projector.transaction(commit=False) as sql:
        rows = sql.all(
            f"SELECT position, seq, day, account, debit, credit, event, ref, party "
            f"FROM {gl.t('postings')} {where} ORDER BY position, seq",
            params,
        )
    for r in rows:
        r["position"], r["debit"], r["credit"] = int(r["position"]), int(r["debit"]), int(r["credit"])
    return rows
