"""Sales KPIs per rep and per region (SPEC 3; 回款 [003 第二十一条]).

Tables (``kpis_<table>_g<n>``):

- ``reps``: each rep with its region (a rep's sales and collections count in its region);
- ``sales``: each sale with its rep, region, invoice and due dates and gross;
- ``flows``: every dated fact about a sale, tagged with the sale's rep and region:
  ``sale`` (gross, invoice date), ``credit`` (customer credit settling it, from the later
  of the sale's date and each credit lot's, as the receivables projection dates it: the
  ``credit`` table keeps the customer's lots), ``return``
  (gross returned, whether it reduced the open amount, cancelled a written-off amount or
  became credit; ``open_delta`` the part that reduced the open amount), ``allocation``
  and ``fifo`` (payments settling it, ``received_on``), ``writeoff`` and ``recovery``;
  a payment's reversal (SPEC 2.7) repeats the payment's flows negated on its own date
  (and takes the credit the payment created out of the ``credit`` lots);
- ``payments``: each payment's log position;
- ``policies``: the ``aging`` policy gives DSO's window.

Definitions (``query_kpis``), for a period [from, to] and the report date ``to``:

- ``sales``: gross invoiced in the period; ``returns``: gross returned in the period
  (whatever month the sale was in, including a part that cancelled a written-off
  amount: the goods came back); ``net_sales`` = sales - returns;
- ``collections``: payments received in the period that settled the rep's sales
  (allocations and FIFO; not recoveries of written-off amounts, not overpayments left
  as customer credit); ``recoveries`` and ``written_off`` in the period separately
  (``written_off``: the write-offs dated in the period, as decided; a later return that
  cancels one counts in ``returns`` of its own period, not as a negative write-off);
- ``collection_rate`` = collections / net_sales, a decimal string rounded half away
  from zero to 4 decimals (null when net_sales <= 0); it can pass 1 when earlier
  months' sales are collected;
- ``open``: the rep's open receivables as of ``to`` (as the receivables projection counts
  them); ``dso`` = open / gross sales of the ``aging.dso_window_days`` days up to ``to`` x
  those days (SPEC 3), in days, rounded to 0.01 (null without sales in the window).
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from ledger.domain.calendar import Period, parse_period
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
from ledger.domain.receivables import credit_pieces, credit_removal, join_day
from ledger.domain.reporting import event_day
from ledger.projections.aging import dso_text, dso_window
from ledger.projections.common import (
    POLICY_TABLE,
    Dispatching,
    MissingReference,
    expect_rows,
    fen_sum,
    parse_as_of,
    policy_in_force,
    ratio_text,
    record_policy,
    today,
)
from ledger.projections.engine import Projector, Sql
from ledger.projections.errors import invalid
from ledger.projections.receivables import projection_of

SUMS = ("sales", "returns", "collections", "recoveries", "written_off", "open", "window_sales")


class KpisProjection(Dispatching):
    name = "kpis"
    handlers: ClassVar[dict[type, str]] = {
        Rep.Registered: "_rep",
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
        CommandRecord.RecordedFor, Customer.Registered, Customer.CreditTermsSet,
        Customer.AtRiskFlagged, Dispute.Opened, Dispute.Resolved, PolicyBook.Opened,
        Rep.RankChanged, Rep.Fined, Rep.CommissionAccrued, Rep.CommissionPaid,
        Rep.FineReversed, Rep.PayoutReversed, Sku.Opened, Sku.ListPriceSet,
        User.Registered,
    })
    tables: ClassVar[dict[str, str]] = {
        "reps": "rep_id TEXT PRIMARY KEY, name TEXT NOT NULL, region TEXT NOT NULL, "
                "trainer_id TEXT, position BIGINT NOT NULL",
        "sales": "sale_id TEXT PRIMARY KEY, rep_id TEXT NOT NULL, region TEXT, "
                 "invoice_date TEXT NOT NULL, due_on TEXT NOT NULL, gross BIGINT NOT NULL",
        "flows": "position BIGINT NOT NULL, sale_id TEXT NOT NULL, kind TEXT NOT NULL, "
                 "rep_id TEXT NOT NULL, region TEXT, invoice_date TEXT NOT NULL, "
                 "business_date TEXT NOT NULL, amount BIGINT NOT NULL, open_delta BIGINT NOT NULL, "
                 "PRIMARY KEY (position, sale_id, kind)",
        # each customer's credit lots and what sales took from them, so that credit
        # settling a sale counts from the later of the lot's and the sale's dates (SPEC 1),
        # as the receivables projection counts it
        "credit": "position BIGINT NOT NULL, kind TEXT NOT NULL, party TEXT NOT NULL, "
                  "day TEXT NOT NULL, amount BIGINT NOT NULL, PRIMARY KEY (position, kind)",
        # each payment's log position (what its reversal undoes)
        "payments": "payment_id TEXT PRIMARY KEY, position BIGINT NOT NULL",
        **POLICY_TABLE,
    }
    indexes: ClassVar[dict[str, str]] = {
        "flows_rep": "flows(rep_id, business_date)",
        "credit_party": "credit(party)",
    }

    def _rep(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('reps')} (rep_id, name, region, trainer_id, position) "
            "VALUES (?, ?, ?, ?, ?)", (e.rep_id, e.name, e.region, e.trainer_id, position),
        )

    def _sale(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('sales')} (sale_id, rep_id, region, invoice_date, due_on, gross) "
            f"VALUES (?, ?, (SELECT region FROM {self.t('reps')} WHERE rep_id = ?), ?, ?, ?)",
            (e.sale_id, e.rep_id, e.rep_id, e.invoice_date, e.due_on, e.gross),
        )
        rows = [(position, e.sale_id, "sale", e.invoice_date, e.gross, e.gross)]
        if e.credit_applied:
            lots, used = self._credit_lots(sql, str(e.originator_id))
            by_day: dict[str, int] = {}
            for lot, day, amount in credit_pieces(lots, used, e.credit_applied, e.invoice_date):
                by_day[day] = by_day.get(day, 0) + amount
                self._lot(sql, position, "sale" if lot is None else f"sale@{lot}", e, day, -amount)
            rows += [(position, e.sale_id, "credit" if day == e.invoice_date else f"credit@{day}",
                      day, amount, -amount) for day, amount in sorted(by_day.items())]
        self._flows(sql, rows)

    def _return(self, sql: Sql, position: int, e: Any) -> None:
        self._flows(sql, [(position, e.sale_id, "return", event_day(e), e.amount, -e.to_open)])
        if e.to_credit:
            invoice_date = sql.scalar(f"SELECT invoice_date FROM {self.t('sales')} "
                                      "WHERE sale_id = ?", (e.sale_id,))
            self._lot(sql, position, "return", e, join_day(event_day(e), invoice_date), e.to_credit)

    def _payment(self, sql: Sql, position: int, e: Any) -> None:
        self._flows(sql, [
            (position, a["sale_id"], a["kind"], e.received_on, a["amount"],
             0 if a["kind"] == "recovery" else -a["amount"])
            for a in e.applied
        ])
        if e.to_credit:
            self._lot(sql, position, "payment", e, e.received_on, e.to_credit)
        sql.execute(f"INSERT INTO {self.t('payments')} (payment_id, position) VALUES (?, ?)",
                    (e.payment_id, position))

    def _credit_lots(self, sql: Sql, party: str) -> tuple[list[tuple[int, str, int]],
                                                          dict[int, int]]:
        """The customer's credit lots and what sales (``sale@``) and payments' reversals
        (``reversal@``) took from each so far."""
        lots: list[Any] = []
        used: dict[Any, Any] = {}
        for r in sql.all(f"SELECT position, kind, day, amount FROM {self.t('credit')} "
                         "WHERE party = ?", (party,)):
            if "@" in r["kind"]:
                lot = int(r["kind"].split("@", 1)[1])
                used[lot] = used.get(lot, 0) - int(r["amount"])
            elif r["kind"] in ("payment", "return"):
                lots.append((int(r["position"]), r["day"], int(r["amount"])))
        return lots, used

    def _lot(self, sql: Sql, position: int, kind: str, e: Any, day: str, amount: int) -> None:
        sql.execute(f"INSERT INTO {self.t('credit')} (position, kind, party, day, amount) "
                    "VALUES (?, ?, ?, ?, ?)", (position, kind, str(e.originator_id), day, amount))

    def _write_off(self, sql: Sql, position: int, e: Any) -> None:
        self._flows(sql, [(position, e.sale_id, "writeoff", event_day(e), e.amount, -e.amount)])

    def _payment_reversed(self, sql: Sql, position: int, e: Any) -> None:
        """A payment's reversal (SPEC 2.7): the payment's flows negated, on the later of
        their date and the reversal's (so collections and recoveries of the reversal's
        period drop by what the payment counted, and its sales are open again from then
        on), and the credit it created taken out of the lots on the reversal's date (its
        own lot first, as the receivables projection takes it)."""
        day = event_day(e)
        paid_at = sql.scalar(f"SELECT position FROM {self.t('payments')} WHERE payment_id = ?",
                             (e.payment_id,))
        if paid_at is None:
            raise MissingReference(f"kpis: payment {e.payment_id} is not recorded")
        flows = sql.all(f"SELECT sale_id, kind, rep_id, region, invoice_date, business_date, "
                        f"amount, open_delta FROM {self.t('flows')} WHERE position = ? "
                        "ORDER BY sale_id, kind", (paid_at,))
        # each flow negated with the date its sale's open amount counted from then (so it
        # counts from the later of the reversal's date and the payment's join, as the
        # receivables projection dates it)
        sql.executemany(
            f"INSERT INTO {self.t('flows')} (position, sale_id, kind, rep_id, region, "
            "invoice_date, business_date, amount, open_delta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(position, r["sale_id"], r["kind"], r["rep_id"], r["region"], r["invoice_date"],
              max(r["business_date"], day), -int(r["amount"]), -int(r["open_delta"]))
             for r in flows])
        # the reopened amount counts from the reversal's date: a fact taking from it later
        # joins the reversal (the flows take their sale's date from ``sales``)
        for r in flows:
            if r["kind"] != "recovery":
                reopened = max(r["business_date"], r["invoice_date"], day)
                sql.execute(f"UPDATE {self.t('sales')} SET invoice_date = ? WHERE sale_id = ? "
                            "AND invoice_date < ?", (reopened, r["sale_id"], reopened))
        if e.credit_removed:
            lots, used = self._credit_lots(sql, str(e.originator_id))
            for lot, amount in credit_removal(lots, used, int(paid_at), e.credit_removed):
                self._lot(sql, position, "reversal" if lot is None else f"reversal@{lot}", e,
                          day, -amount)

    def _policy(self, sql: Sql, position: int, e: Any) -> None:
        record_policy(sql, self.t("policies"), position, e)

    def _flows(self, sql: Sql, rows: list[tuple[Any, ...]]) -> None:
        """Each row tagged with its sale's rep, region and invoice date (one statement)."""
        sales = self.t("sales")
        sql.executemany(
            f"INSERT INTO {self.t('flows')} (position, sale_id, kind, rep_id, region, invoice_date, "
            "business_date, amount, open_delta) "
            f"SELECT ?, sale_id, ?, rep_id, region, invoice_date, ?, ?, ? FROM {sales} "
            "WHERE sale_id = ?",
            [(pos, kind, day, amount, delta, sale_id) for pos, sale_id, kind, day, amount, delta in rows],
        )
        if rows:
            expect_rows(sql, len(rows), f"flows of sales {sorted({r[1] for r in rows})}")


# --- reading ---------------------------------------------------------------------------------


def kpi_range(projector: Projector, period: str | None, as_of: date | str | None) -> Period:
    """The period asked for; or, with only ``as_of`` D (default today), the month of D up
    to D."""
    if period is not None:
        try:
            return parse_period(period)
        except ValueError as e:
            raise invalid("period", str(e)) from None
    day = parse_as_of(as_of) or today(projector)
    return Period(day.replace(day=1), day, f"{day.year:04d}-{day.month:02d}")


def _figures(row: dict[str, Any], window: int) -> dict[str, Any]:
    net = int(row["sales"]) - int(row["returns"])
    return {
        "sales": int(row["sales"]), "returns": int(row["returns"]), "net_sales": net,
        "collections": int(row["collections"]), "recoveries": int(row["recoveries"]),
        "written_off": int(row["written_off"]),
        "collection_rate": ratio_text(int(row["collections"]), net) if net > 0 else None,
        "open": int(row["open"]), "dso": dso_text(int(row["open"]), int(row["window_sales"]), window),
    }


def query_kpis(projector: Projector, period: str | None = None, *,
               as_of: date | str | None = None) -> dict[str, Any]:
    """Sales KPIs per rep, per region and for the company.

    ``period`` is ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY``; without it, ``as_of`` D (default
    today) asks for the month of D up to D. Figures are defined in the module docstring.
    Answer: ``{period, from, to, window_days, reps: [{rep_id, name, region, sales,
    returns, net_sales, collections, recoveries, written_off, collection_rate, open,
    dso}], regions: [{region, reps, ...same figures}], total: {...same figures}}``;
    every registered rep and region is listed, with zeros where nothing happened.
    """
    p = projection_of(projector, KpisProjection)
    rng = kpi_range(projector, period, as_of)
    first, last = rng.first.isoformat(), rng.last.isoformat()
    with projector.transaction(commit=False) as sql:
        window = int(policy_in_force(sql, p.t("policies"), "aging", rng.last).values["dso_window_days"])
        w_first, w_last = dso_window(rng.last, window)
        in_period = "f.business_date >= ? AND f.business_date <= ?"
        rows = sql.all(
            "SELECT r.rep_id, r.name, r.region, "
            f"{fen_sum(f'CASE WHEN f.kind = ? AND {in_period} THEN f.amount ELSE 0 END')} AS sales, "
            f"{fen_sum(f'CASE WHEN f.kind = ? AND {in_period} THEN f.amount ELSE 0 END')} AS returns, "
            f"{fen_sum(f'CASE WHEN f.kind IN (?, ?) AND {in_period} THEN f.amount ELSE 0 END')} "
            "AS collections, "
            f"{fen_sum(f'CASE WHEN f.kind = ? AND {in_period} THEN f.amount ELSE 0 END')} "
            "AS recoveries, "
            f"{fen_sum(f'CASE WHEN f.kind = ? AND {in_period} THEN f.amount ELSE 0 END')} "
            "AS written_off, "
            f"{fen_sum('CASE WHEN f.invoice_date <= ? AND f.business_date <= ? THEN f.open_delta ELSE 0 END')} "
            "AS open, "
            f"{fen_sum(f'CASE WHEN f.kind = ? AND {in_period} THEN f.amount ELSE 0 END')} "
            "AS window_sales "
            f"FROM {p.t('reps')} r LEFT JOIN {p.t('flows')} f ON f.rep_id = r.rep_id "
            "GROUP BY r.rep_id, r.name, r.region ORDER BY r.rep_id",
            ("sale", first, last, "return", first, last, "allocation", "fifo", first, last,
             "recovery", first, last, "writeoff", first, last, last, last, "sale", w_first, w_last),
        )
    reps = [{"rep_id": r["rep_id"], "name": r["name"], "region": r["region"], **_figures(r, window)}
            for r in rows]
    regions: dict[str, dict[str, Any]] = {}
    for r in rows:
        acc = regions.setdefault(r["region"], {"region": r["region"], "reps": 0,
                                               **dict.fromkeys(SUMS, 0)})
        acc["reps"] += 1
        for k in SUMS:
            acc[k] += int(r[k])
    total = {k: sum(int(r[k]) for r in rows) for k in SUMS}
    return {
        "period": rng.name, "from": first, "to": last, "window_days": window,
        "reps": reps,
        "regions": [{"region": name, "reps": acc["reps"], **_figures(acc, window)}
                    for name, acc in sorted(regions.items())],
        "total": _figures(total, window),
    }
