"""Receivables projection (SPEC 2.3, SPEC 3 Receivables, SPEC 5.3 ``receivables`` and
``aging``).

Tables (``receivables_<table>_g<n>``):

- ``customers``: one row per customer (id, its aggregate id, name, region);
- ``terms``: credit limit and payment terms, each with the date it takes effect;
- ``flags``: at-risk flags with their business dates;
- ``sales``: one row per sale (customer, rep, invoice, invoice and due dates, gross);
- ``movements``: every fact that changes a sale's open amount or its written-off amount
  not yet recovered, with its business date: the sale itself (+gross), customer credit
  settling it, returns (open - the part that reduced it, unrecovered - the part that
  cancelled a written-off amount), payments (allocation / fifo), write-offs (open -,
  unrecovered +) and recoveries (unrecovered -); a payment's reversal (SPEC 2.7) repeats
  each of the payment's rows with its kind and the amount negated, on the later of the
  row's date and the reversal's;
- ``credit``: customer-credit movements with their business dates: lots in (overpayments
  ``payment``, returns of paid sales ``return``), credit settling a new sale out
  (``sale@<lot position>``, one row per lot it takes), and money held as credit until a
  join counts (``held:...`` in, ``joined:...`` out on the later date); a payment's
  reversal negates its ``held:``/``joined:`` rows (``reversed:...``, on the later of the
  row's date and the reversal's) and takes the credit it created out of the lots on the
  reversal's date (``reversal@<lot position>``, its own lot first: ``credit_removal``);
- ``payments``: each payment's log position (what a reversal undoes);
- ``balances``: per sale, its customer, due and invoice dates, the sums of its movements'
  open and unrecovered amounts over every date, and the latest of their dates (so a
  report as of D reads the sales open now and those moved after D, never every sale);
- ``policies``: adopted policy versions (the ``aging`` policy in force on the report
  date classifies and buckets, and names the buckets).

Business dates (SPEC 1): a sale's is its invoice date; a payment's its ``received_on``;
the others' the date of their ``occurred_at`` in company time, never before the sale's.
A fact that joins two dated facts counts from the later of their dates: a payment's
allocation (FIFO included) from the later of ``received_on`` and the sale's date, a
recovery from the later of ``received_on`` and the sale's latest write-off, a return's
cancelling of a written-off amount from the later of its date and that write-off's,
customer credit settling a sale from the later of the sale's date and each credit lot's
(``ledger.domain.receivables.credit_pieces``); until then the money is customer credit.
An amount a payment's reversal reopened (SPEC 2.7) counts from the reversal's rows' date,
so a fact taking from it joins that date too (``_sales_dates``).
``--as-of D`` counts the sales invoiced on or before D and the movements dated on or
before D, so "what was owed on 30 June" is a sum over dated rows, never a replay. Classes
and buckets come from the domain's own functions (``ledger.domain.receivables``), under
the aging policy in force on the report date.

The join dates need what the projection already holds (a sale's invoice date, its
write-offs, the customer's credit lots), read in the same transaction as the INSERTs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from ledger.domain.credit import terms_in_force
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
from ledger.domain.receivables import (
    aging_bucket,
    credit_pieces,
    credit_removal,
    days_past_due,
    join_day,
    receivable_class,
)
from ledger.domain.reporting import event_day
from ledger.projections.common import (
    END_OF_TIME,
    POLICY_TABLE,
    Dispatching,
    Kept,
    Memo,
    MissingReference,
    SaleDatesForPage,
    expect_rows,
    fen_sum,
    policy_in_force,
    record_policy,
    report_date,
    to_json,
)
from ledger.projections.engine import Projection, Projector, Sql
from ledger.projections.errors import unknown

BEGINNING = "0001-01-01"




class ReceivablesProjection(SaleDatesForPage, Dispatching):
    name = "receivables"
    handlers: ClassVar[dict[type, str]] = {
        Customer.Registered: "_registered",
        Customer.CreditTermsSet: "_terms",
        Customer.AtRiskFlagged: "_at_risk",
        Customer.SaleRecorded: "_sale",
        Customer.ReturnRecorded: "_return",
        Customer.PaymentRecorded: "_payment",
        Customer.ReceivableWrittenOff: "_write_off",
        Customer.PaymentReversed: "_payment_reversed",
        PolicyBook.PolicyAdopted: "_policy",
    }
    # stored events it does not read (tests/projections/test_event_coverage.py)
    ignores: ClassVar[frozenset[type]] = frozenset({
        ApprovalGrants.Opened, ApprovalGrants.Granted, ApprovalGrants.Used,
        Budget.Allocated, Budget.Adjusted, Budget.ExpenseSubmitted, Budget.ExpenseApproved,
        Budget.ExpenseRejected, Budget.ExpenseSpent, Budget.SpendReversed, Claim.Claimed,
        Closings.Opened, Closings.MonthClosed, CommandRecord.Recorded,
        CommandRecord.RecordedFor, Dispute.Opened, Dispute.Resolved, PolicyBook.Opened,
        Rep.Registered, Rep.RankChanged, Rep.Fined, Rep.CommissionAccrued,
        Rep.CommissionPaid, Rep.FineReversed, Rep.PayoutReversed, Sku.Opened,
        Sku.ListPriceSet, User.Registered,
    })
    tables: ClassVar[dict[str, str]] = {
        "customers": "customer_id TEXT PRIMARY KEY, origin TEXT NOT NULL UNIQUE, "
                     "name TEXT NOT NULL, region TEXT NOT NULL, position BIGINT NOT NULL",
        "terms": "position BIGINT PRIMARY KEY, customer_id TEXT NOT NULL, "
                 "effective_on TEXT NOT NULL, credit_limit BIGINT NOT NULL, "
                 "payment_terms_days INTEGER NOT NULL",
        "flags": "position BIGINT PRIMARY KEY, customer_id TEXT NOT NULL, "
                 "business_date TEXT NOT NULL, at_risk INTEGER NOT NULL, reason TEXT NOT NULL",
        "sales": "sale_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, rep_id TEXT NOT NULL, "
                 "invoice_no TEXT NOT NULL, invoice_date TEXT NOT NULL, due_on TEXT NOT NULL, "
                 "gross BIGINT NOT NULL, position BIGINT NOT NULL",
        "movements": "position BIGINT NOT NULL, sale_id TEXT NOT NULL, kind TEXT NOT NULL, "
                     "business_date TEXT NOT NULL, amount BIGINT NOT NULL, "
                     "open_delta BIGINT NOT NULL, unrecovered_delta BIGINT NOT NULL, "
                     "PRIMARY KEY (position, sale_id, kind)",
        "credit": "position BIGINT NOT NULL, kind TEXT NOT NULL, customer_id TEXT NOT NULL, "
                  "business_date TEXT NOT NULL, amount BIGINT NOT NULL, "
                  "PRIMARY KEY (position, kind)",
        "payments": "payment_id TEXT PRIMARY KEY, position BIGINT NOT NULL",
        # per sale, the sums of its movements of every date and the latest of their dates:
        # the sales open now, and those with a movement after a report date, are all an
        # as-of report needs to read (aging.py); the others hold nothing on any later date
        "balances": "sale_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, "
                    "due_on TEXT NOT NULL, invoice_date TEXT NOT NULL, "
                    "open_amount BIGINT NOT NULL, unrecovered BIGINT NOT NULL, "
                    "last_date TEXT NOT NULL",
        **POLICY_TABLE,
    }
    indexes: ClassVar[dict[str, str]] = {
        "sales_customer": "sales(customer_id, invoice_date)",
        "sales_invoice": "sales(invoice_date)",
        "movements_sale": "movements(sale_id, business_date)",
        "terms_customer": "terms(customer_id)",
        "flags_customer": "flags(customer_id)",
        "credit_customer": "credit(customer_id, business_date)",
        "balances_last": "balances(last_date)",
        # a partial index: the sales with something open or written off now (the aging
        # report's reads, whatever the number of sales settled before)
        "balances_open": "balances(last_date) WHERE open_amount > 0 OR unrecovered > 0",
    }

    def __init__(self, generation: int = 1) -> None:
        super().__init__(generation)
        # aggregate id -> (customer id,): a registration never changes
        self.customers = Memo(f"SELECT customer_id FROM {self.t('customers')} WHERE origin = ?")
        # sale id -> [customer, invoice date, latest write-off date, latest date a reversal
        # reopened a settlement, latest date a reversal took back a recovery]: what
        # ``_sales_dates`` reads, for one page (``prepare``), kept as ``_sale`` and
        # ``_movements`` write it
        self.sale_dates = Kept()
        # sale id -> [open, unrecovered, latest date]: the page's movements of sales
        # recorded before it, added to their ``balances`` rows by ``finish``
        self.balance_moves = Kept()

    # --- applying events ------------------------------------------------------------------

    def _registered(self, sql: Sql, position: int, e: Any) -> None:
        self.customers.put(e.originator_id.hex, (e.customer_id,))
        sql.execute(
            f"INSERT INTO {self.t('customers')} (customer_id, origin, name, region, position) "
            "VALUES (?, ?, ?, ?, ?)",
            (e.customer_id, e.originator_id.hex, e.name, e.region, position),
        )
        sql.execute(
            f"INSERT INTO {self.t('terms')} (position, customer_id, effective_on, credit_limit, "
            "payment_terms_days) VALUES (?, ?, ?, ?, ?)",
            (position, e.customer_id, BEGINNING, e.credit_limit, e.payment_terms_days),
        )

    def _terms(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('terms')} (position, customer_id, effective_on, credit_limit, "
            f"payment_terms_days) SELECT ?, customer_id, ?, ?, ? FROM {self.t('customers')} "
            "WHERE origin = ?",
            (position, e.effective_on, e.credit_limit, e.payment_terms_days, e.originator_id.hex),
        )
        expect_rows(sql, 1, f"credit terms of customer {e.originator_id}")

    def _at_risk(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('flags')} (position, customer_id, business_date, at_risk, reason) "
            f"SELECT ?, customer_id, ?, ?, ? FROM {self.t('customers')} WHERE origin = ?",
            (position, event_day(e), int(bool(e.at_risk)), e.reason, e.originator_id.hex),
        )
        expect_rows(sql, 1, f"at-risk flag of customer {e.originator_id}")

    def _sale(self, sql: Sql, position: int, e: Any) -> None:
        customer_id = self._customer_of(sql, e)
        sql.execute(
            f"INSERT INTO {self.t('sales')} (sale_id, customer_id, rep_id, invoice_no, "
            "invoice_date, due_on, gross, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (e.sale_id, customer_id, e.rep_id, e.invoice_no, e.invoice_date, e.due_on, e.gross,
             position),
        )
        self.sale_dates.put(e.sale_id, [customer_id, e.invoice_date, None, None, None])
        rows = [(position, e.sale_id, "sale", e.invoice_date, e.gross, e.gross, 0)]
        if e.credit_applied:
            # the credit counts against the sale from the later of its lot's date and the
            # sale's (SPEC 1): one movement per date, one credit row per lot
            pieces = credit_pieces(*self._credit_lots(sql, customer_id), e.credit_applied,
                                   e.invoice_date)
            by_day: dict[str, int] = {}
            for lot, day, amount in pieces:
                by_day[day] = by_day.get(day, 0) + amount
                self._credit_row(sql, position, "sale" if lot is None else f"sale@{lot}",
                                 customer_id, day, -amount)
            for day, amount in sorted(by_day.items()):
                kind = "credit" if day == e.invoice_date else f"credit@{day}"
                rows.append((position, e.sale_id, kind, day, amount, -amount, 0))
        self._movements(sql, rows, (customer_id, e.due_on, e.invoice_date))

    def _return(self, sql: Sql, position: int, e: Any) -> None:
        customer_id, invoice_date, written_off_on = self._sale_dates(sql, e.sale_id)
        day = join_day(event_day(e), invoice_date)
        rows = [(position, e.sale_id, "return", day, e.amount, -e.to_open, 0)]
        if e.to_written_off:
            # cancelling a written-off amount joins the return and the write-off (SPEC 1)
            later = join_day(day, written_off_on)
            rows.append((position, e.sale_id, "return_written_off", later, e.to_written_off, 0,
                         -e.to_written_off))
            self._held(sql, position, f"{e.sale_id}:return", customer_id, day, later,
                       e.to_written_off)
        self._movements(sql, rows)
        if e.to_credit:
            self._credit_row(sql, position, "return", customer_id, day, e.to_credit)

    def _payment(self, sql: Sql, position: int, e: Any) -> None:
        customer_id = self._customer_of(sql, e)
        dates = self._sales_dates(sql, [a["sale_id"] for a in e.applied])
        rows = []
        for a in e.applied:
            _, invoice_date, written_off_on = dates[a["sale_id"]]
            # an allocation (FIFO included) counts from the later of the payment's and the
            # sale's dates, a recovery from the later of the payment's and the write-off's
            # (SPEC 1): until then the money is customer credit
            if a["kind"] == "recovery":
                day = join_day(e.received_on, invoice_date, written_off_on)
                rows.append((position, a["sale_id"], "recovery", day, a["amount"], 0,
                             -a["amount"]))
            else:  # allocation or fifo: settles open
                day = join_day(e.received_on, invoice_date)
                rows.append((position, a["sale_id"], a["kind"], day, a["amount"],
                             -a["amount"], 0))
            self._held(sql, position, f"{a['sale_id']}:{a['kind']}", customer_id, e.received_on,
                       day, a["amount"])
        self._movements(sql, rows)
        if e.to_credit:
            self._credit_row(sql, position, "payment", customer_id, e.received_on, e.to_credit)
        sql.execute(f"INSERT INTO {self.t('payments')} (payment_id, position) VALUES (?, ?)",
                    (e.payment_id, position))

    def _write_off(self, sql: Sql, position: int, e: Any) -> None:
        _, invoice_date, _ = self._sale_dates(sql, e.sale_id)
        self._movements(sql, [(position, e.sale_id, "writeoff",
                               join_day(event_day(e), invoice_date), e.amount, -e.amount,
                               e.amount)])

    def _payment_reversed(self, sql: Sql, position: int, e: Any) -> None:
        """A payment's reversal (SPEC 2.7) undoes exactly the rows the payment wrote, from
        the reversal's business date R on (the day before, the payment still stands): each
        movement and each ``held:``/``joined:`` credit row again with its amounts negated,
        on the later of its date and R (a join still to count nets to nothing when it
        does), and the credit the payment created taken out of the lots on R."""
        day = event_day(e)
        paid_at = sql.scalar(f"SELECT position FROM {self.t('payments')} WHERE payment_id = ?",
                             (e.payment_id,))
        if paid_at is None:
            raise MissingReference(f"receivables: payment {e.payment_id} is not recorded")
        self._movements(sql, [
            (position, r["sale_id"], r["kind"], max(r["business_date"], day), -int(r["amount"]),
             -int(r["open_delta"]), -int(r["unrecovered_delta"]))
            for r in sql.all(f"SELECT sale_id, kind, business_date, amount, open_delta, "
                             f"unrecovered_delta FROM {self.t('movements')} WHERE position = ? "
                             "ORDER BY sale_id, kind", (paid_at,))
        ])
        customer_id = self._customer_of(sql, e)
        for r in sql.all(f"SELECT kind, business_date, amount FROM {self.t('credit')} "
                         "WHERE position = ? ORDER BY kind", (paid_at,)):
            if r["kind"] != "payment":  # held:... and joined:...
                self._credit_row(sql, position, f"reversed:{r['kind']}", customer_id,
                                 max(r["business_date"], day), -int(r["amount"]))
        if e.credit_removed:
            lots, used = self._credit_lots(sql, customer_id)
            for lot, amount in credit_removal(lots, used, int(paid_at), e.credit_removed):
                self._credit_row(sql, position, "reversal" if lot is None else f"reversal@{lot}",
                                 customer_id, day, -amount)

    def _policy(self, sql: Sql, position: int, e: Any) -> None:
        record_policy(sql, self.t("policies"), position, e)

    def _movements(self, sql: Sql, rows: list[tuple[Any, ...]],
                   sale: tuple[str, str, str] | None = None) -> None:
        """Movement rows, and each sale's running ``balances`` row: a new one for the sale
        event's own rows (``sale``: its customer, due date and invoice date), else the
        rows' amounts added to the sale's and its latest date moved on."""
        sql.executemany(
            f"INSERT INTO {self.t('movements')} (position, sale_id, kind, business_date, amount, "
            "open_delta, unrecovered_delta) VALUES (?, ?, ?, ?, ?, ?, ?)", rows,
        )
        for _, sale_id, kind, day, amount, _, _ in rows:  # the dates ``_sales_dates`` reads
            kept = self.sale_dates.get(sale_id)
            if kept is None:
                continue
            if kind == "writeoff":
                kept[2] = join_day(kept[2], day)
            elif kind in ("allocation", "fifo") and amount < 0:
                kept[3] = join_day(kept[3], day)
            elif kind == "recovery" and amount < 0:
                kept[4] = join_day(kept[4], day)
        if sale is not None:  # the sale's own rows: its balances row starts from them
            customer_id, due_on, invoice_date = sale
            sql.execute(
                f"INSERT INTO {self.t('balances')} (sale_id, customer_id, due_on, invoice_date, "
                "open_amount, unrecovered, last_date) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rows[0][1], customer_id, due_on, invoice_date, sum(r[5] for r in rows),
                 sum(r[6] for r in rows), max(r[3] for r in rows)),
            )
            return
        for _, sale_id, _, day, _, open_delta, unrecovered_delta in rows:  # for ``finish``
            moved = self.balance_moves.get(sale_id)
            if moved is None:
                self.balance_moves.put(sale_id, [open_delta, unrecovered_delta, day])
            else:
                moved[0] += open_delta
                moved[1] += unrecovered_delta
                moved[2] = max(moved[2], day)

    def finish(self, sql: Sql) -> None:
        """The page's movements added to their sales' ``balances`` rows: one statement on
        PostgreSQL (the sums as one JSON parameter), one per sale on SQLite."""
        moved = sorted(self.balance_moves.items())
        self.balance_moves.clear()
        if not moved:
            return
        table = self.t("balances")
        if sql.is_postgres:
            sql.execute(
                f"UPDATE {table} AS b SET open_amount = b.open_amount + v.o, "
                "unrecovered = b.unrecovered + v.u, "
                "last_date = CASE WHEN b.last_date < v.last THEN v.last ELSE b.last_date END "
                "FROM json_to_recordset(?::json) AS v(sale_id TEXT, o BIGINT, u BIGINT, last TEXT) "
                "WHERE b.sale_id = v.sale_id",
                (to_json([{"sale_id": k, "o": o, "u": u, "last": last}
                          for k, (o, u, last) in moved]),),
            )
        else:
            sql.executemany(
                f"UPDATE {table} SET open_amount = open_amount + ?, unrecovered = unrecovered + ?, "
                "last_date = CASE WHEN last_date < ? THEN ? ELSE last_date END WHERE sale_id = ?",
                [(o, u, last, last, k) for k, (o, u, last) in moved],
            )
        expect_rows(sql, len(moved), f"balances of sales {moved[0][0]}..{moved[-1][0]}")

    def _credit_row(self, sql: Sql, position: int, kind: str, customer_id: str, day: str,
                    amount: int) -> None:
        sql.execute(
            f"INSERT INTO {self.t('credit')} (position, kind, customer_id, business_date, amount) "
            "VALUES (?, ?, ?, ?, ?)", (position, kind, customer_id, day, amount),
        )

    def _held(self, sql: Sql, position: int, ref: str, customer_id: str, first: str, later: str,
              amount: int) -> None:
        """Money of a join that counts only from ``later`` is customer credit from
        ``first`` until then (SPEC 1)."""
        if later > first:
            self._credit_row(sql, position, f"held:{ref}", customer_id, first, amount)
            self._credit_row(sql, position, f"joined:{ref}", customer_id, later, -amount)

    def _customer_of(self, sql: Sql, e: Any) -> str:
        found = self.customers.get(sql, e.originator_id.hex)
        if found is None:
            raise MissingReference(f"receivables: customer {e.originator_id} is not registered")
        return str(found[0])

    def _sale_dates(self, sql: Sql, sale_id: str) -> tuple[str, str, str | None]:
        """(customer, the date the sale's open amount counts from, the date its written-off
        amount counts from) of a recorded sale."""
        return self._sales_dates(sql, [sale_id])[sale_id]

    def _sales_dates(self, sql: Sql, sale_ids: list[str]) -> dict[str, tuple[str, str, str | None]]:
        """Per sale: its customer; its invoice date, or the date a payment's reversal last
        reopened a settlement of it when later; its latest write-off date, or the date a
        payment's reversal last took back a recovery of it when later. A fact that takes
        from the open (the written-off) amount joins the fact that made it and counts from
        the later date (SPEC 1): so a fact dated before a reversal that reopened the amount
        it takes counts from the reversal's date, and no amount goes negative on any date.
        (A reversal's rows are the payment's kinds with a negative amount.)"""
        found = {}
        for sale_id, kept in self.known_sales_dates(sql, sale_ids).items():
            if kept is None:
                raise MissingReference(f"receivables: sale {sale_id} is not recorded")
            customer_id, invoice_date, wo, reopened, unrecovered_again = kept
            found[sale_id] = (customer_id, join_day(invoice_date, reopened),
                              None if wo is None else join_day(wo, unrecovered_again))
        return found

    def _load_sales_dates(self, sql: Sql, sale_ids: Sequence[str]) -> dict[str, list[Any]]:
        """Read the dates of the recorded ones of ``sale_ids`` into ``sale_dates``; return
        them too."""
        loaded: dict[str, list[Any]] = {}
        if not sale_ids:
            return loaded
        marks = ", ".join("?" * len(sale_ids))
        movements = self.t("movements")
        for r in sql.all(
            f"SELECT s.sale_id, s.customer_id, s.invoice_date, (SELECT MAX(m.business_date) "
            f"FROM {movements} m WHERE m.sale_id = s.sale_id AND m.kind = ?) AS wo, "
            f"(SELECT MAX(m.business_date) FROM {movements} m WHERE m.sale_id = s.sale_id "
            "AND m.kind IN (?, ?) AND m.amount < 0) AS reopened, "
            f"(SELECT MAX(m.business_date) FROM {movements} m WHERE m.sale_id = s.sale_id "
            "AND m.kind = ? AND m.amount < 0) AS unrecovered_again "
            f"FROM {self.t('sales')} s WHERE s.sale_id IN ({marks})",
            ("writeoff", "allocation", "fifo", "recovery", *sale_ids),
        ):
            loaded[r["sale_id"]] = [r["customer_id"], r["invoice_date"], r["wo"], r["reopened"],
                                    r["unrecovered_again"]]
            self.sale_dates.put(r["sale_id"], loaded[r["sale_id"]])
        return loaded

    def _credit_lots(self, sql: Sql, customer_id: str) -> tuple[list[tuple[int, str, int]],
                                                                  dict[int, int]]:
        """The customer's credit lots (overpayments, returns of paid sales) and what the
        sales took from each so far."""
        lots: list[Any] = []
        used: dict[Any, Any] = {}
        for r in sql.all(f"SELECT position, kind, business_date, amount FROM {self.t('credit')} "
                         "WHERE customer_id = ? AND (kind IN (?, ?) OR kind LIKE ? OR kind LIKE ?)",
                         (customer_id, "payment", "return", "sale@%", "reversal@%")):
            if "@" in r["kind"]:  # taken by a sale, or by a payment's reversal
                lot = int(r["kind"].split("@", 1)[1])
                used[lot] = used.get(lot, 0) - int(r["amount"])
            else:
                lots.append((int(r["position"]), r["business_date"], int(r["amount"])))
        return lots, used


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaleFigures:
    """One sale as of a report date."""

    sale_id: str
    customer_id: str
    rep_id: str
    invoice_no: str
    invoice_date: str
    due_on: str
    gross: int
    open: int
    written_off: int  # written off, not yet recovered nor cancelled by a return
    recovered: int


def projection_of(projector: Projector, cls: type[Projection]) -> Any:
    for p in projector.projections:
        if isinstance(p, cls):
            return p
    raise LookupError(f"the projector does not keep {cls.name}")


def sales_as_of(sql: Sql, p: ReceivablesProjection, upto: str,
                customer_id: str | None = None) -> list[SaleFigures]:
    """Every sale invoiced on or before ``upto`` with its open, unrecovered and recovered
    amounts from the movements dated on or before ``upto``, in FIFO order (due date,
    then sale id)."""
    where = "s.invoice_date <= ?"
    params: list[Any] = [upto, upto, upto, "recovery", upto]
    if customer_id is not None:
        where += " AND s.customer_id = ?"
        params.append(customer_id)
    rows = sql.all(
        "SELECT s.sale_id, s.customer_id, s.rep_id, s.invoice_no, s.invoice_date, s.due_on, "
        "s.gross, "
        f"{fen_sum('CASE WHEN m.business_date <= ? THEN m.open_delta ELSE 0 END')} AS open_amount, "
        f"{fen_sum('CASE WHEN m.business_date <= ? THEN m.unrecovered_delta ELSE 0 END')} "
        "AS unrecovered, "
        f"{fen_sum('CASE WHEN m.business_date <= ? AND m.kind = ? THEN m.amount ELSE 0 END')} "
        "AS recovered "
        f"FROM {p.t('sales')} s JOIN {p.t('movements')} m ON m.sale_id = s.sale_id "
        f"WHERE {where} "
        "GROUP BY s.sale_id, s.customer_id, s.rep_id, s.invoice_no, s.invoice_date, s.due_on, "
        "s.gross ORDER BY s.due_on, s.sale_id",
        params,
    )
    return [
        SaleFigures(
            sale_id=r["sale_id"], customer_id=r["customer_id"], rep_id=r["rep_id"],
            invoice_no=r["invoice_no"], invoice_date=r["invoice_date"], due_on=r["due_on"],
            gross=int(r["gross"]), open=int(r["open_amount"]),
            # a recovery or return dated before its write-off can make the dated difference negative
            written_off=max(0, int(r["unrecovered"])), recovered=int(r["recovered"]),
        )
        for r in rows
    ]


def at_risk_customers(sql: Sql, p: ReceivablesProjection, upto: str,
                      customer_id: str | None = None) -> set[str]:
    """Customers at risk as of ``upto``: the flag with the latest business date on or
    before it (ties: the later in the log); for every fact, the latest flag recorded.
    ``customer_id``: only that customer's flags are read (one customer's receivables)."""
    where, params = "business_date <= ?", [upto]
    if customer_id is not None:
        where += " AND customer_id = ?"
        params.append(customer_id)
    rows = sql.all(
        f"SELECT customer_id, business_date, position, at_risk FROM {p.t('flags')} "
        f"WHERE {where}", params,
    )
    key = (lambda r: r["position"]) if upto == END_OF_TIME else (
        lambda r: (r["business_date"], r["position"]))
    latest: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=key):
        latest[r["customer_id"]] = r
    return {c for c, r in latest.items() if r["at_risk"]}


def _terms_rows(sql: Sql, p: ReceivablesProjection,
                customer_id: str | None = None) -> list[dict[str, Any]]:
    """The ``terms`` rows of one customer (or of all), in log order. Every registered
    customer has one at least: its registration's (``_registered``)."""
    where, params = ("WHERE customer_id = ? ", (customer_id,)) if customer_id else ("", ())
    return sql.all(
        f"SELECT customer_id, effective_on, credit_limit, payment_terms_days "
        f"FROM {p.t('terms')} {where}ORDER BY position", params,
    )


def _terms_in_force(rows: list[dict[str, Any]], day: date) -> tuple[int, int]:
    """(credit_limit, payment_terms_days) in force on ``day``: the domain's rule
    (``credit.terms_in_force``, as ``Customer.terms_on`` applies it) over the dated rows."""
    return terms_in_force([
        (date.fromisoformat(r["effective_on"]), int(r["credit_limit"]), int(r["payment_terms_days"]))
        for r in rows
    ], day)


def aging_policy(sql: Sql, p: ReceivablesProjection, day: date) -> dict[str, Any]:
    return policy_in_force(sql, p.t("policies"), "aging", day).values


def classify(item: SaleFigures, day: date, at_risk: bool, policy: dict[str, Any]) -> dict[str, Any]:
    dpd = days_past_due(date.fromisoformat(item.due_on), day)
    cls = receivable_class(dpd, at_risk, policy) if item.open > 0 or not item.written_off else "bad_debt"
    return {"days_past_due": dpd, "class": cls, "bucket": aging_bucket(dpd, policy)}


def query_receivables(projector: Projector, customer_id: str,
                      as_of: date | str | None = None) -> dict[str, Any]:
    """``ledger query receivables --customer C [--as-of D]`` (SPEC 5.3).

    ``{customer_id, as_of, open_total, credit_limit, credit_available, items}`` where items
    are the sales with an open amount or a written-off amount not yet recovered:
    ``{sale_id, invoice_no, invoice_date, gross, open, written_off, due_on, days_past_due,
    class, bucket}`` (a sale with nothing open but an unrecovered write-off is
    ``bad_debt``). ``credit_limit`` and ``payment_terms_days`` are those in force on the
    report date; credit used is the open total (also given as ``credit_used``) and
    ``credit_available`` = limit - open total, negative after an override. Also ``at_risk``, ``customer_credit`` (the customer's credit balance),
    ``written_off`` (not recovered) and ``recovered`` totals.
    """
    p = projection_of(projector, ReceivablesProjection)
    day, upto = report_date(projector, as_of)
    with projector.transaction(commit=False) as sql:
        terms = _terms_rows(sql, p, customer_id)
        if not terms:  # every registered customer has its registration's terms
            raise unknown("customer", customer_id, "customer")
        sales = sales_as_of(sql, p, upto, customer_id)
        at_risk = customer_id in at_risk_customers(sql, p, upto, customer_id)
        limit, terms_days = _terms_in_force(terms, day)
        policy = aging_policy(sql, p, day)
        credit = int(sql.scalar(
            f"SELECT {fen_sum('amount')} AS credit FROM {p.t('credit')} "
            "WHERE customer_id = ? AND business_date <= ?", (customer_id, upto),
        ))
    items = []
    for s in sales:
        if s.open <= 0 and s.written_off <= 0:
            continue
        items.append({
            "sale_id": s.sale_id, "invoice_no": s.invoice_no, "invoice_date": s.invoice_date,
            "gross": s.gross, "open": s.open, "written_off": s.written_off, "due_on": s.due_on,
            **classify(s, day, at_risk, policy),
        })
    open_total = sum(s.open for s in sales)
    return {
        "customer_id": customer_id,
        "as_of": day.isoformat(),
        "open_total": open_total,
        "credit_limit": limit,
        "credit_available": limit - open_total,
        "credit_used": open_total,
        "payment_terms_days": terms_days,
        "at_risk": at_risk,
        "customer_credit": credit,
        "written_off": sum(s.written_off for s in sales),
        "recovered": sum(s.recovered for s in sales),
        "items": items,
    }


def query_customers(projector: Projector, as_of: date | str | None = None) -> dict[str, Any]:
    """Every customer's receivables summary as of a date (finance's first look):
    ``{as_of, customers: [{customer_id, name, region, open_total, credit_limit,
    credit_available, credit_used, customer_credit, written_off, recovered, at_risk}]}``."""
    p = projection_of(projector, ReceivablesProjection)
    day, upto = report_date(projector, as_of)
    with projector.transaction(commit=False) as sql:
        customers = sql.all(f"SELECT customer_id, name, region FROM {p.t('customers')} "
                            "ORDER BY customer_id")
        sales = sales_as_of(sql, p, upto)
        at_risk = at_risk_customers(sql, p, upto)
        credit = {r["customer_id"]: int(r["credit"]) for r in sql.all(
            f"SELECT customer_id, {fen_sum('amount')} AS credit FROM {p.t('credit')} "
            "WHERE business_date <= ? GROUP BY customer_id", (upto,))}
        terms: dict[str, list[dict[str, Any]]] = {}
        for r in _terms_rows(sql, p):  # one read, not one per customer
            terms.setdefault(r["customer_id"], []).append(r)
        limits = {c["customer_id"]: _terms_in_force(terms.get(c["customer_id"], []), day)[0]
                  for c in customers}
    per: dict[str, list[SaleFigures]] = {}
    for s in sales:
        per.setdefault(s.customer_id, []).append(s)
    out = []
    for c in customers:
        cid = c["customer_id"]
        mine = per.get(cid, [])
        open_total = sum(s.open for s in mine)
        out.append({
            "customer_id": cid, "name": c["name"], "region": c["region"],
            "open_total": open_total, "credit_limit": limits[cid],
            "credit_available": limits[cid] - open_total, "credit_used": open_total, "customer_credit": credit.get(cid, 0),
            "written_off": sum(s.written_off for s in mine),
            "recovered": sum(s.recovered for s in mine), "at_risk": cid in at_risk,
        })
    return {"as_of": day.isoformat(), "customers": out}
