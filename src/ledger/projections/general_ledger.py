"""General ledger: double-entry postings for every money event (SPEC 3, General ledger).

Each money event becomes a balanced journal entry (more than one when parts of it count from
later dates, below): a few posting rows, each dated by the business date it counts from
(SPEC 1, Time) and keyed by the event's log position, so the trial balance can be taken
as of any business date and every row points back to the event that caused it.

The chart and the posting rules below are pure functions in ``ledger.domain.posting``;
this projection keeps the dates a join counts from (each sale's invoice and write-off
dates, each customer's credit lots), calls the rules with them and writes the rows.

The chart of accounts is ``ledger.domain.posting.CHART`` (documented there).

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

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, ClassVar

from ledger.domain.calendar import month
from ledger.domain.model import (
    ApprovalGrants,
    Budget,
    Claim,
    Closings,
    CommandRecord,
    Customer,
    Dispute,
    PolicyBook,
    Rep,
    Sku,
    User,
)
from ledger.domain.posting import (
    Line,
    account_code,
    account_kind,
    accrual_entry,
    balanced_rows,
    fine_entry,
    fine_reversal_entry,
    payment_entries,
    payment_reversal_entries,
    payout_entry,
    return_entries,
    reversed_entry,
    sale_entries,
    spend_entry,
    write_off_entry,
)
from ledger.domain.receivables import credit_pieces, credit_removal, join_day
from ledger.domain.reporting import event_date
from ledger.projections.common import Dispatching, Kept, MissingReference, SaleDatesForPage
from ledger.projections.engine import Projection, Projector, Sql


class GeneralLedger(SaleDatesForPage, Dispatching):
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
        # sale id -> [invoice date, written_off_on]: the ``sales`` row, for one page
        # (``prepare``), kept as it is written
        self.sale_dates = Kept()

    def _sale(self, sql: Sql, position: int, e: Any) -> None:
        party = str(e.originator_id)
        sql.execute(f"INSERT INTO {self.t('sales')} (sale_id, party, invoice_date, written_off_on) "
                    "VALUES (?, ?, ?, ?)", (e.sale_id, party, e.invoice_date, None))
        self.sale_dates.put(e.sale_id, [e.invoice_date, None])
        if not e.credit_applied:
            self._post_many(sql, position, e, e.sale_id, sale_entries(e, []))
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
        self._post_many(sql, position, e, e.sale_id, sale_entries(e, pieces))

    def _return(self, sql: Sql, position: int, e: Any) -> None:
        invoice_date, written_off_on = self._sale_dates(sql, e.sale_id)
        day = join_day(event_date(e).isoformat(), invoice_date)
        self._post_many(sql, position, e, e.return_id, return_entries(e, day, written_off_on))
        if e.to_credit:
            self._lot(sql, position, "return", e, day, e.to_credit)

    def _payment(self, sql: Sql, position: int, e: Any) -> None:
        dates = self._sales_dates(sql, [a["sale_id"] for a in e.applied])
        days = []
        for a in e.applied:
            invoice_date, written_off_on = dates[a["sale_id"]]
            day = join_day(e.received_on, invoice_date,
                           written_off_on if a["kind"] == "recovery" else None)
            days.append(day)
            sql.execute(f"INSERT INTO {self.t('applications')} (position, sale_id, kind, day) "
                        "VALUES (?, ?, ?, ?)", (position, a["sale_id"], a["kind"], day))
        self._post_many(sql, position, e, e.payment_id, payment_entries(e, days))
        if e.to_credit:
            self._lot(sql, position, "payment", e, e.received_on, e.to_credit)

    def _write_off(self, sql: Sql, position: int, e: Any) -> None:
        invoice_date, written_off_on = self._sale_dates(sql, e.sale_id)
        day = join_day(event_date(e).isoformat(), invoice_date)
        sql.execute(f"UPDATE {self.t('sales')} SET written_off_on = ? WHERE sale_id = ?",
                    (join_day(day, written_off_on), e.sale_id))
        kept = self.sale_dates.get(e.sale_id)
        if kept is not None:
            kept[1] = join_day(day, written_off_on)
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
        found = {}
        for sale_id, kept in self.known_sales_dates(sql, sale_ids).items():
            if kept is None:
                raise MissingReference(f"general ledger: a fact about sale {sale_id} before the sale")
            found[sale_id] = (kept[0], kept[1])
        return found

    def _load_sales_dates(self, sql: Sql, sale_ids: Sequence[str]) -> dict[str, list[Any]]:
        """Read the dates of the recorded ones of ``sale_ids`` into ``sale_dates``; return
        them too."""
        loaded: dict[str, list[Any]] = {}
        if sale_ids:
            for r in sql.all(f"SELECT sale_id, invoice_date, written_off_on FROM {self.t('sales')} "
                             f"WHERE sale_id IN ({', '.join('?' * len(sale_ids))})", list(sale_ids)):
                loaded[r["sale_id"]] = [r["invoice_date"], r["written_off_on"]]
                self.sale_dates.put(r["sale_id"], loaded[r["sale_id"]])
        return loaded

    def _credit_lots(self, sql: Sql, party: str) -> tuple[list[tuple[int, str, int]],
                                                          dict[int, int]]:
        lots: list[Any] = []
        used: dict[Any, Any] = {}
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
        day = event_date(e).isoformat()
        rows = sql.all(f"SELECT position, day, account, debit, credit FROM {self.t('postings')} "
                       "WHERE ref = ? AND event = ? ORDER BY position, seq",
                       (e.payment_id, "PaymentRecorded"))
        if not rows:
            raise MissingReference(f"general ledger: payment {e.payment_id} is not recorded")
        self._post_many(sql, position, e, e.payment_id, payment_reversal_entries(
            ((r["day"], r["account"], int(r["debit"]), int(r["credit"])) for r in rows), day))
        # a sale's reopened amount counts from the reversal's date: a fact taking from it
        # later joins the reversal (``_sales_dates``, as the receivables projection dates it)
        for r in sql.all(f"SELECT sale_id, kind, day FROM {self.t('applications')} "
                         "WHERE position = ?", (rows[0]["position"],)):
            column = "written_off_on" if r["kind"] == "recovery" else "invoice_date"
            later = max(r["day"], day)
            sql.execute(f"UPDATE {self.t('sales')} SET {column} = ? WHERE sale_id = ? "
                        f"AND {column} < ?", (later, r["sale_id"], later))
            kept = self.sale_dates.get(r["sale_id"])
            index = 1 if column == "written_off_on" else 0
            if kept is not None and kept[index] is not None and kept[index] < later:
                kept[index] = later  # as the UPDATE (a NULL date stays NULL)
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
        self._post(sql, position, event_date(e), e, e.expense_id,
                   reversed_entry(spend_entry(e, category)))

    def _fine_reversed(self, sql: Sql, position: int, e: Any) -> None:
        """On the fine's own date, as the commissions sub-ledger counts a reversed fine
        (out of its month, or a late fact of it when the month is closed): the fine and
        its reversal net to nothing on every date."""
        self._post(sql, position, date.fromisoformat(e.fined_on), e, e.fine_id,
                   fine_reversal_entry(e))

    def _payout_reversed(self, sql: Sql, position: int, e: Any) -> None:
        self._post(sql, position, event_date(e), e, e.payout_id, reversed_entry(payout_entry(e)))

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
            rows = balanced_rows(lines, f"{event} {ref} at position {position}")
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
    kind = account_kind(account)
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
