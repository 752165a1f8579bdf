"""General ledger: double-entry postings for every money event (SPEC 3, General ledger).

Each money event becomes one balanced journal entry: a few posting rows, each dated by
the event's business date (SPEC 1, Time) and keyed by the event's log position, so the
trial balance can be taken as of any business date and every row points back to the
event that caused it.

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

Posting rules, one entry per event (amounts in fen; a zero line is not written):

- ``Customer.SaleRecorded`` (invoice date): Dr receivables gross; Cr revenue gross - VAT;
  Cr vat_payable VAT; and when customer credit settles the new sale (``credit_applied``):
  Dr customer_credit, Cr receivables.
- ``Customer.ReturnRecorded`` (business date): Dr revenue amount - VAT; Dr vat_payable
  VAT; Cr receivables ``to_open``; Cr bad_debt_expense ``to_written_off`` (the part that
  cancelled a written-off amount not yet recovered: it reverses that write-off's
  expense); Cr customer_credit ``to_credit`` (the part of the sale already paid).
- ``Customer.PaymentRecorded`` (``received_on``): Dr cash amount; Cr receivables the
  ``allocation`` and ``fifo`` applications; Cr bad_debt_recovery_income the ``recovery``
  applications; Cr customer_credit ``to_credit`` (beyond all open items).
- ``Customer.ReceivableWrittenOff`` (business date): Dr bad_debt_expense, Cr receivables.
- ``Budget.ExpenseSpent`` (``paid_on``): Dr marketing_expense:<the budget's category>,
  Cr cash. The category comes from ``Budget.Allocated`` (kept in the ``budgets`` table).
- ``Rep.CommissionAccrued`` (the month's last day): Dr commission_expense, Cr
  commission_payable: commission + morning_star_bonus + opening_star_bonus + override;
  clawback: Dr commission_payable, Cr commission_expense; fines: Dr commission_payable,
  Cr other_income; late adjustments (facts of closed months, SPEC 5.3): their change in
  fines as fines, the rest Dr commission_expense, Cr commission_payable when positive, the
  reverse when negative. The entry credits commission_payable by exactly the statement's
  ``total``.
- ``Rep.CommissionPaid`` (``paid_on``): Dr commission_payable, Cr cash.
- Reversals (SPEC 2.7), dated on the reversal's business date (its ``occurred_at`` in
  company time: the correction is booked when it is made, so a closed period's postings
  never change), ``ref`` the reversed fact's id: ``Customer.PaymentReversed``, the
  payment's entry reversed (Cr cash; Dr receivables, bad_debt_recovery_income,
  customer_credit); ``Budget.SpendReversed``, Dr cash, Cr marketing_expense:<category>;
  ``Rep.PayoutReversed``, Dr cash, Cr commission_payable. ``Rep.FineReversed`` posts
  nothing itself: like the fine, it reaches the ledger with the accrual of the fine's
  month (the fine is no longer in it) or, when that month is closed, as the next close's
  late adjustment (Dr other_income, Cr commission_payable).

**Fines post with the accrual** of the statement that carries them (the month of the
fine's business date, SPEC 2.5), dated that month's last day, not on the fine's own date.
So commission_payable always equals the sum of the closed statements' totals less the
payouts, which is what the commissions sub-ledger shows (``reconcile``); a fine in a month
not yet closed shows in that month's open statement ("figures so far") and reaches the
general ledger when the month closes, together with the commission it reduces.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, ClassVar

from ledger.domain.calendar import business_date, month, parse_instant
from ledger.projections.common import Dispatching
from ledger.projections.engine import Projection, Projector, Sql

SALE = "ledger:Customer.SaleRecorded"
RETURN = "ledger:Customer.ReturnRecorded"
PAYMENT = "ledger:Customer.PaymentRecorded"
WRITE_OFF = "ledger:Customer.ReceivableWrittenOff"
BUDGET_ALLOCATED = "ledger:Budget.Allocated"
EXPENSE_SPENT = "ledger:Budget.ExpenseSpent"
COMMISSION_ACCRUED = "ledger:Rep.CommissionAccrued"
COMMISSION_PAID = "ledger:Rep.CommissionPaid"
PAYMENT_REVERSED = "ledger:Customer.PaymentReversed"
SPEND_REVERSED = "ledger:Budget.SpendReversed"
PAYOUT_REVERSED = "ledger:Rep.PayoutReversed"

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


def sale_entry(e: Any) -> list[Line]:
    return [
        dr(RECEIVABLES, e.gross), cr(REVENUE, e.gross - e.vat), cr(VAT_PAYABLE, e.vat),
        dr(CUSTOMER_CREDIT, e.credit_applied), cr(RECEIVABLES, e.credit_applied),
    ]


def return_entry(e: Any) -> list[Line]:
    return [
        dr(REVENUE, e.amount - e.vat), dr(VAT_PAYABLE, e.vat),
        cr(RECEIVABLES, e.to_open), cr(BAD_DEBT_EXPENSE, e.to_written_off),
        cr(CUSTOMER_CREDIT, e.to_credit),
    ]


def payment_entry(e: Any) -> list[Line]:
    settled = sum(a["amount"] for a in e.applied if a["kind"] != "recovery")
    recovered = sum(a["amount"] for a in e.applied if a["kind"] == "recovery")
    return [
        dr(CASH, e.amount), cr(RECEIVABLES, settled), cr(RECOVERY_INCOME, recovered),
        cr(CUSTOMER_CREDIT, e.to_credit),
    ]


def write_off_entry(e: Any) -> list[Line]:
    return [dr(BAD_DEBT_EXPENSE, e.amount), cr(RECEIVABLES, e.amount)]


def spend_entry(e: Any, category: str) -> list[Line]:
    return [dr(expense_account(category), e.amount), cr(CASH, e.amount)]


def accrual_entry(e: Any) -> list[Line]:
    """A month's statement: the entry credits commission_payable by exactly its total.

    A late adjustment line carries the closed month's figures as booked and as revised;
    the part of it that is a change in fines goes to other_income like the month's own
    fines, the rest (commission, bonuses, override, clawback) to commission_expense."""
    earned = e.commission + e.morning_star_bonus + e.opening_star_bonus + e.override
    late_fines = sum(
        (line["revised"] or {}).get("fines", 0) - (line["booked"] or {}).get("fines", 0)
        for line in e.lines if line.get("type") == "adjustment" and line.get("revised")
    )
    fines = e.fines + late_fines
    adjusted = e.adjustments + late_fines
    return [
        dr(COMMISSION_EXPENSE, earned), cr(COMMISSION_PAYABLE, earned),
        dr(COMMISSION_PAYABLE, e.clawback), cr(COMMISSION_EXPENSE, e.clawback),
        dr(COMMISSION_PAYABLE, fines), cr(OTHER_INCOME, fines),
        dr(COMMISSION_EXPENSE, adjusted), cr(COMMISSION_PAYABLE, adjusted),
    ]


def payout_entry(e: Any) -> list[Line]:
    return [dr(COMMISSION_PAYABLE, e.amount), cr(CASH, e.amount)]


def reversed_entry(lines: list[Line]) -> list[Line]:
    """A reversal (SPEC 2.7): the entry of what it reverses with debits and credits swapped."""
    return [(account, credit, debit) for account, debit, credit in lines]


def payment_reversal_entry(e: Any) -> list[Line]:
    """The reverse of the payment's entry: Cr cash; Dr receivables (the settlements it
    reopens), Dr bad_debt_recovery_income (its recoveries), Dr customer_credit (the credit
    it created)."""
    settled = sum(a["amount"] for a in e.reopened if a["kind"] != "recovery")
    recovered = sum(a["amount"] for a in e.reopened if a["kind"] == "recovery")
    return reversed_entry([
        dr(CASH, e.amount), cr(RECEIVABLES, settled), cr(RECOVERY_INCOME, recovered),
        cr(CUSTOMER_CREDIT, e.credit_removed),
    ])


class UnbalancedEntry(ValueError):
    """A posting rule produced debits and credits that differ: a bug, never skipped."""


class GeneralLedger(Dispatching):
    name = "gl"
    handlers: ClassVar[dict[str, str]] = {
        SALE: "_sale",
        RETURN: "_return",
        PAYMENT: "_payment",
        WRITE_OFF: "_write_off",
        BUDGET_ALLOCATED: "_allocated",
        EXPENSE_SPENT: "_spent",
        COMMISSION_ACCRUED: "_accrued",
        COMMISSION_PAID: "_paid",
        PAYMENT_REVERSED: "_payment_reversed",
        SPEND_REVERSED: "_spend_reversed",
        PAYOUT_REVERSED: "_payout_reversed",
    }
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
    }
    indexes: ClassVar[dict[str, str]] = {
        "postings_day": "postings(day)", "postings_account": "postings(account, day)",
    }

    def __init__(self, generation: int = 1) -> None:
        super().__init__(generation)
        # budget -> category: facts that never change, so a cache stays right whatever
        # transaction first saw them; a miss reads the table (one SELECT per budget)
        self._categories: dict[str, str] = {}

    def _sale(self, sql: Sql, position: int, e: Any) -> None:
        self._post(sql, position, date.fromisoformat(e.invoice_date), e, e.sale_id, sale_entry(e))

    def _return(self, sql: Sql, position: int, e: Any) -> None:
        self._post(sql, position, event_day(e), e, e.return_id, return_entry(e))

    def _payment(self, sql: Sql, position: int, e: Any) -> None:
        self._post(sql, position, date.fromisoformat(e.received_on), e, e.payment_id, payment_entry(e))

    def _write_off(self, sql: Sql, position: int, e: Any) -> None:
        self._post(sql, position, event_day(e), e, e.writeoff_id, write_off_entry(e))

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
        self._post(sql, position, event_day(e), e, e.payment_id, payment_reversal_entry(e))

    def _spend_reversed(self, sql: Sql, position: int, e: Any) -> None:
        category = self._category(sql, str(e.originator_id))
        self._post(sql, position, event_day(e), e, e.expense_id,
                   reversed_entry(spend_entry(e, category)))

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
        event, party = type(e).__name__, str(e.originator_id)
        rows = [line for line in lines if line[1] or line[2]]
        debit, credit = sum(r[1] for r in rows), sum(r[2] for r in rows)
        if debit != credit:
            raise UnbalancedEntry(
                f"{event} {ref} at position {position}: debits {debit} != credits {credit}: {rows}"
            )
        sql.executemany(
            f"INSERT INTO {self.t('postings')} "
            "(position, seq, day, account, debit, credit, event, ref, party) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(position, seq, day.isoformat(), account, d, c, event, ref, party)
             for seq, (account, d, c) in enumerate(rows)],
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
