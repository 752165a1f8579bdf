"""Commissions projection (SPEC 2.5, SPEC 3 Commissions, SPEC 5.3 ``commission`` and
``ranks``).

Per rep and month: the statement (lines for each sale with its share, same-month returns,
trainees, clawbacks, fines, late adjustments and payouts), what accrued, when it is
payable, what was paid and the balance; and each rep's rank history with its evidence.

Tables (``commissions_<table>_g<n>``), all plain INSERTs of dated facts:

- ``reps``: one row per rep (rep id, its aggregate id, trainer, name);
- ``ranks``: the registration rank and every ``RankChanged`` (effective date, reason,
  who decided, evidence), in log order;
- ``sales``, ``returns``, ``writeoffs``: the facts a statement counts, with their
  business dates and months (a return or write-off names its sale; the sale names its rep);
  a return's ``amount`` is the part that counts for commissions
  (the ``commission_amount`` of ``Customer.ReturnRecorded``: not the part that cancelled a
  written-off amount), 0 when it only cancelled one;
- ``fines``, ``payouts``: per rep, dated; a payout names the period it pays;
- ``statements``: one row per ``CommissionAccrued`` (a closed month's statement, as the
  close computed it: the figures, the lines, the trainees);
- ``closings``: the closed months;
- ``fine_reversals``, ``payout_reversals`` (SPEC 2.7): a reversed fine leaves the month of
  its date (or, that month closed, comes back in the next close as a late adjustment); a
  reversed payout shows as a ``payout_reversal`` line of its period with its amount negated,
  so ``paid`` drops and ``balance`` rises again;
- ``policies``: adopted commission plan versions and ``commission`` policy versions.

A **closed** month answers the figures of its ``CommissionAccrued`` event. A month **not
yet closed** answers "the facts so far" (SPEC 5.3): the query loads the dated rows of the
rep and the reps it trained into a ``ledger.domain.commission_month.MonthFacts`` (the rules
the close uses: which facts count, clawback rates, late adjustments for the next month to
close, what a negative month before carries in) and runs the pure engine under the plan
in force on the month's 1st and the rank in effect that day, with ``payable_on`` null.

The document's ``total`` = commission + morning_star_bonus + opening_star_bonus + override +
adjustment + carried - clawback - fines (SPEC 2.5): ``adjustment`` is the sum of the late
adjustment lines, ``carried`` (<= 0) what the month before, closed with a negative total,
carries in (a ``carried`` line names that month). ``balance`` = total - paid, so a
negative closed month shows a negative balance: nothing is payable for it
(``PayCommission``), and under ``commission.carry_negative`` the same debt shows again as
the next month's ``carried``, so a rep's months' balances are not to be added up across a
carry: the rep's account is ``commission_accounts`` (each month's own accrual, total less
carried, less the payouts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from ledger.domain.calendar import month, month_of
from ledger.domain.commission_month import (
    BEGINNING,
    Fact,
    MonthFacts,
    RepRecord,
    booked_months,
    rank_on,
)
from ledger.domain.commission_plan import MonthInput, Plan, Statement, compute_statement, load_plan
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
from ledger.domain.money import format_rate
from ledger.domain.policies import COMMISSION_POLICY, PLAN_POLICY, carry_negative, version_in_force
from ledger.domain.reporting import event_date
from ledger.projections.common import (
    POLICY_TABLE,
    Dispatching,
    fen_sum,
    from_json,
    policy_versions,
    record_policy,
    to_json,
    today,
)
from ledger.projections.engine import Projection, Projector, Sql
from ledger.projections.errors import QueryError, invalid, unknown

REGISTERED = "registered"  # the reason shown for a rep's first rank

# a statement's figures in the order of SPEC 5.3's ``commission`` answer
FIGURES = ("rank", "personal_sales", "rate", "commission", "morning_star_bonus",
           "opening_star_bonus", "override", "adjustment", "carried", "clawback", "fines",
           "total")


class CommissionsProjection(Dispatching):
    name = "commissions"
    handlers: ClassVar[dict[type, str]] = {
        Rep.Registered: "_registered",
        Rep.RankChanged: "_rank_changed",
        Rep.Fined: "_fined",
        Rep.CommissionAccrued: "_accrued",
        Rep.CommissionPaid: "_paid",
        Customer.SaleRecorded: "_sale",
        Customer.ReturnRecorded: "_return",
        Customer.ReceivableWrittenOff: "_write_off",
        Closings.MonthClosed: "_month_closed",
        Rep.FineReversed: "_fine_reversed",
        Rep.PayoutReversed: "_payout_reversed",
        PolicyBook.PolicyAdopted: "_policy",
    }
    # stored events it does not read (tests/projections/test_event_coverage.py)
    ignores: ClassVar[frozenset[type]] = frozenset({
        ApprovalGrants.Opened, ApprovalGrants.Granted, ApprovalGrants.Used,
        Budget.Allocated, Budget.Adjusted, Budget.ExpenseSubmitted, Budget.ExpenseApproved,
        Budget.ExpenseRejected, Budget.ExpenseSpent, Budget.SpendReversed, Claim.Claimed,
        Closings.Opened, CommandRecord.Recorded, CommandRecord.RecordedFor,
        Customer.Registered, Customer.CreditTermsSet, Customer.AtRiskFlagged,
        Customer.PaymentRecorded, Customer.PaymentReversed, Dispute.Opened,
        Dispute.Resolved, PolicyBook.Opened, Sku.Opened, Sku.ListPriceSet, User.Registered,
    })
    tables: ClassVar[dict[str, str]] = {
        "reps": "rep_key TEXT PRIMARY KEY, rep_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, "
                "trainer_id TEXT, user_id TEXT, region TEXT NOT NULL, position BIGINT NOT NULL",
        "ranks": "position BIGINT PRIMARY KEY, rep_key TEXT NOT NULL, rank TEXT NOT NULL, "
                 "previous_rank TEXT, effective_from TEXT NOT NULL, reason TEXT NOT NULL, "
                 "decided_by TEXT NOT NULL, evidence TEXT NOT NULL",
        "sales": "sale_id TEXT PRIMARY KEY, rep_id TEXT NOT NULL, day TEXT NOT NULL, "
                 "period TEXT NOT NULL, gross BIGINT NOT NULL, position BIGINT NOT NULL",
        "returns": "return_id TEXT PRIMARY KEY, sale_id TEXT NOT NULL, day TEXT NOT NULL, "
                   "period TEXT NOT NULL, amount BIGINT NOT NULL, position BIGINT NOT NULL",
        "writeoffs": "writeoff_id TEXT PRIMARY KEY, sale_id TEXT NOT NULL, day TEXT NOT NULL, "
                     "period TEXT NOT NULL, amount BIGINT NOT NULL, position BIGINT NOT NULL",
        "fines": "fine_id TEXT PRIMARY KEY, rep_key TEXT NOT NULL, day TEXT NOT NULL, "
                 "period TEXT NOT NULL, amount BIGINT NOT NULL, reason TEXT NOT NULL, "
                 "approved_by TEXT NOT NULL, position BIGINT NOT NULL",
        "payouts": "payout_id TEXT PRIMARY KEY, rep_key TEXT NOT NULL, period TEXT NOT NULL, "
                   "day TEXT NOT NULL, amount BIGINT NOT NULL, position BIGINT NOT NULL",
        "statements": "rep_key TEXT NOT NULL, period TEXT NOT NULL, position BIGINT NOT NULL, "
                      "plan_version TEXT NOT NULL, rank TEXT NOT NULL, "
                      "personal_sales BIGINT NOT NULL, morning_star_sales BIGINT NOT NULL, "
                      "rate TEXT NOT NULL, commission BIGINT NOT NULL, "
                      "morning_star_bonus BIGINT NOT NULL, opening_star_bonus BIGINT NOT NULL, "
                      "override BIGINT NOT NULL, clawback BIGINT NOT NULL, fines BIGINT NOT NULL, "
                      "adjustments BIGINT NOT NULL, total BIGINT NOT NULL, "
                      "payable_on TEXT NOT NULL, override_payable_on TEXT NOT NULL, "
                      "lines TEXT NOT NULL, trainees TEXT NOT NULL, "
                      "carried BIGINT NOT NULL DEFAULT 0, "
                      "PRIMARY KEY (rep_key, period)",
        "closings": "period TEXT PRIMARY KEY, closed_by TEXT NOT NULL, "
                    "log_position BIGINT NOT NULL, position BIGINT NOT NULL",
        # reversals (SPEC 2.7): a fine's, dated on the fine's date (it takes the fine out
        # of its month); a payout's, dated on its own business date, for the payout's period
        "fine_reversals": "fine_id TEXT PRIMARY KEY, rep_key TEXT NOT NULL, day TEXT NOT NULL, "
                          "amount BIGINT NOT NULL, reversal_id TEXT NOT NULL, "
                          "position BIGINT NOT NULL",
        "payout_reversals": "payout_id TEXT PRIMARY KEY, rep_key TEXT NOT NULL, "
                            "period TEXT NOT NULL, day TEXT NOT NULL, amount BIGINT NOT NULL, "
                            "reversal_id TEXT NOT NULL, position BIGINT NOT NULL",
        **POLICY_TABLE,
    }
    indexes: ClassVar[dict[str, str]] = {
        "reps_trainer": "reps(trainer_id)",
        "ranks_rep": "ranks(rep_key)",
        "sales_rep": "sales(rep_id, period)",
        "returns_sale": "returns(sale_id)",
        "writeoffs_sale": "writeoffs(sale_id)",
        "fines_rep": "fines(rep_key, period)",
        "payouts_rep": "payouts(rep_key, period)",
        "statements_period": "statements(period)",
    }

    # --- reps and ranks -------------------------------------------------------------

    def _registered(self, sql: Sql, position: int, e: Any) -> None:
        key = str(e.originator_id)
        sql.execute(
            f"INSERT INTO {self.t('reps')} (rep_key, rep_id, name, trainer_id, user_id, region, "
            "position) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, e.rep_id, e.name, e.trainer_id, e.user_id, e.region, position),
        )
        self._rank(sql, position, key, e.rank, None, e.effective_from, REGISTERED,
                   e.meta["actor"], {"kind": REGISTERED, "trainer_id": e.trainer_id})

    def _rank_changed(self, sql: Sql, position: int, e: Any) -> None:
        self._rank(sql, position, str(e.originator_id), e.rank, e.previous_rank, e.effective_from,
                   e.reason, e.decided_by, e.evidence)

    def _rank(self, sql: Sql, position: int, key: str, rank: str, previous: str | None,
              effective_from: str, reason: str, decided_by: str, evidence: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('ranks')} (position, rep_key, rank, previous_rank, "
            "effective_from, reason, decided_by, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (position, key, rank, previous, effective_from, reason, decided_by, to_json(evidence)),
        )

    # --- the facts a statement counts --------------------------------------------------

    def _sale(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('sales')} (sale_id, rep_id, day, period, gross, position) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (e.sale_id, e.rep_id, e.invoice_date, e.invoice_date[:7], e.gross, position),
        )

    def _return(self, sql: Sql, position: int, e: Any) -> None:
        day = event_date(e)
        sql.execute(
            f"INSERT INTO {self.t('returns')} (return_id, sale_id, day, period, amount, position) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (e.return_id, e.sale_id, day.isoformat(), month_of(day),
             e.commission_amount, position),
        )

    def _write_off(self, sql: Sql, position: int, e: Any) -> None:
        day = event_date(e)
        sql.execute(
            f"INSERT INTO {self.t('writeoffs')} (writeoff_id, sale_id, day, period, amount, "
            "position) VALUES (?, ?, ?, ?, ?, ?)",
            (e.writeoff_id, e.sale_id, day.isoformat(), month_of(day), e.amount, position),
        )

    def _fined(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('fines')} (fine_id, rep_key, day, period, amount, reason, "
            "approved_by, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (e.fine_id, str(e.originator_id), e.fined_on, e.fined_on[:7], e.amount, e.reason,
             e.approved_by, position),
        )

    def _paid(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('payouts')} (payout_id, rep_key, period, day, amount, position) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (e.payout_id, str(e.originator_id), e.period, e.paid_on, e.amount, position),
        )

    # --- closes -------------------------------------------------------------------------

    def _accrued(self, sql: Sql, position: int, e: Rep.CommissionAccrued) -> None:
        sql.execute(
            f"INSERT INTO {self.t('statements')} (rep_key, period, position, plan_version, rank, "
            "personal_sales, morning_star_sales, rate, commission, morning_star_bonus, "
            "opening_star_bonus, override, clawback, fines, adjustments, total, payable_on, "
            "override_payable_on, lines, trainees, carried) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(e.originator_id), e.period, position, e.plan_version, e.rank, e.personal_sales,
             e.morning_star_sales, e.rate, e.commission, e.morning_star_bonus,
             e.opening_star_bonus, e.override, e.clawback, e.fines,
             e.adjustments, e.total, e.payable_on, e.override_payable_on,
             to_json(e.lines), to_json(e.trainees), e.carried),
        )

    def _month_closed(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('closings')} (period, closed_by, log_position, position) "
            "VALUES (?, ?, ?, ?)",
            (e.period, e.closed_by, e.log_position, position),
        )

    def _fine_reversed(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('fine_reversals')} (fine_id, rep_key, day, amount, reversal_id, "
            "position) VALUES (?, ?, ?, ?, ?, ?)",
            (e.fine_id, str(e.originator_id), e.fined_on, e.amount, e.reversal_id, position),
        )

    def _payout_reversed(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(
            f"INSERT INTO {self.t('payout_reversals')} (payout_id, rep_key, period, day, amount, "
            "reversal_id, position) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (e.payout_id, str(e.originator_id), e.period, event_date(e).isoformat(), e.amount,
             e.reversal_id, position),
        )

    def _policy(self, sql: Sql, position: int, e: Any) -> None:
        if e.policy in (PLAN_POLICY, COMMISSION_POLICY):
            record_policy(sql, self.t("policies"), position, e)


# --- reading: the facts of some reps, loaded once per query -----------------------------


def _history(rows: list[dict[str, Any]]) -> tuple[tuple[date, str], ...]:
    """A rep's rank history from its rank rows in log order: the registration holds from
    the beginning (as on the Rep), each change from its effective date."""
    return ((BEGINNING, rows[0]["rank"]),
            *((date.fromisoformat(r["effective_from"]), r["rank"]) for r in rows[1:]))


@dataclass
class _Loaded:
    """The rows some statements need and the ``MonthFacts`` built from them."""

    reps: dict[str, dict[str, Any]]  # rep_id -> row, for the reps asked
    statements: dict[tuple[str, str], dict[str, Any]]  # (rep_id, period) -> accrued statement
    closed: dict[str, int]  # closed period -> the last log position its close read
    months: MonthFacts


def _among(column: str, values: set[str]) -> tuple[str, list[str]]:
    vals = sorted(values)
    return f"{column} IN ({', '.join('?' * len(vals))})", vals


def _load(sql: Sql, p: CommissionsProjection, rep_ids: list[str] | None,
          period: str | None = None) -> _Loaded:
    """The facts, ranks and statements of ``rep_ids`` (None: every rep) and of the reps
    they trained (whose own trainees are not loaded: ask no statement of those).

    ``period``: only ``period``'s statements will be asked; its facts and those recorded
    after the last close (the late facts its statement may adjust) are read now, any other
    month's the first time a rule needs it (``MonthFacts``' ``fetch``, as the close reads
    old months), in ``sql``'s transaction: not every month of the reps' history."""
    columns = f"SELECT rep_key, rep_id, name, trainer_id FROM {p.t('reps')}"
    if rep_ids is None:
        all_reps = sql.all(columns)
    elif not rep_ids:
        all_reps = []
    else:  # those reps and the reps they trained, not every rep of the company
        asked, params = _among("rep_id", set(rep_ids))
        trained, more = _among("trainer_id", set(rep_ids))
        all_reps = sql.all(f"{columns} WHERE {asked} OR {trained}", [*params, *more])
    by_id = {r["rep_id"]: r for r in all_reps}
    wanted = set(by_id) if rep_ids is None else {r for r in rep_ids if r in by_id}
    counted = wanted | {r["rep_id"] for r in all_reps if r["trainer_id"] in wanted}
    rep_of_key = {by_id[r]["rep_key"]: r for r in counted}

    ranks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    statements: dict[tuple[str, str], dict[str, Any]] = {}
    if counted:
        where, params = _among("rep_key", set(rep_of_key))
        for r in sql.all(f"SELECT * FROM {p.t('ranks')} WHERE {where} ORDER BY position", params):
            ranks[rep_of_key[r["rep_key"]]].append(r)
        for s in sql.all(f"SELECT * FROM {p.t('statements')} WHERE {where}", params):
            statements[(rep_of_key[s["rep_key"]], s["period"])] = _decoded(s)
    closed = {r["period"]: int(r["log_position"])
              for r in sql.all(f"SELECT period, log_position FROM {p.t('closings')}")}
    keys, ids = _among("rep_key", set(rep_of_key)), _among("rep_id", counted)

    def facts_of(month_or_late: tuple[str, int] | None) -> list[Fact]:
        if not counted:
            return []
        return [_fact(r, rep_of_key) for r in _fact_rows(sql, p, *keys, *ids, month_or_late)]

    fetch: Callable[[str], list[Fact]] | None = None
    if period is None:
        facts = facts_of(None)
    else:
        last = max(closed) if closed else None
        facts = facts_of((period, closed[last] if last is not None else NO_POSITION))

        def fetch(other: str) -> list[Fact]:
            return facts_of((other, NO_POSITION))

    accruals: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (rep_id, _), s in sorted(statements.items(), key=lambda item: item[1]["position"]):
        accruals[rep_id].append(s)
    records = [RepRecord(r, by_id[r]["trainer_id"], _history(ranks[r]), booked_months(accruals[r]),
                         {s["period"]: s["total"] for s in accruals[r]})
               for r in sorted(counted)]
    versions: dict[str, list[dict[str, Any]]] = {PLAN_POLICY: [], COMMISSION_POLICY: []}
    for r in sql.all(f"SELECT policy, version, effective_from, policy_values "
                     f"FROM {p.t('policies')} WHERE policy IN (?, ?) ORDER BY position",
                     (PLAN_POLICY, COMMISSION_POLICY)):
        versions[r["policy"]].append(r)
    plans = policy_versions(PLAN_POLICY, versions[PLAN_POLICY])
    loaded: dict[str, Plan] = {}

    def plan(period: str) -> Plan:
        version = version_in_force(PLAN_POLICY, plans, month(period).first)
        if version.version not in loaded:
            loaded[version.version] = load_plan(dict(version.values))
        return loaded[version.version]

    carrying = policy_versions(COMMISSION_POLICY, versions[COMMISSION_POLICY])

    def carry(period: str) -> tuple[str, bool]:
        return carry_negative(version_in_force(COMMISSION_POLICY, carrying, month(period).first))

    return _Loaded(reps={r: by_id[r] for r in wanted}, statements=statements, closed=closed,
                   months=MonthFacts(records, plan, closed, facts, fetch=fetch,
                                     complete=() if period is None else (period,),
                                     carry=carry))


NO_POSITION = 2**62  # past any log position: no fact is recorded after it


def _fact_rows(sql: Sql, p: CommissionsProjection, by_key: str, keys: list[str], by_id: str,
               ids: list[str], month_or_late: tuple[str, int] | None = None,
               ) -> list[dict[str, Any]]:
    """The dated facts of some reps in one read: their fines and fines' reversals (reps
    ``by_key`` of ``keys``), their sales, and the returns and write-offs of those sales
    (reps ``by_id`` of ``ids``), as ``{kind, id, sale_id, who, day, amount, position,
    sale_day}`` (``who``: a fine's rep key, a sale's rep id, a return's or write-off's
    sale's rep id). ``month_or_late`` ``(YYYY-MM, position)``: only the facts of that
    month (a return or write-off also when its sale is of that month: it may count on
    the sale's date) and those recorded after ``position``; None: every fact."""
    def within(month_column: str, position: str, sale: str = "") -> tuple[str, list[Any]]:
        if month_or_late is None:
            return "", []
        period, after = month_or_late
        if sale:
            return (f" AND ({month_column} = ? OR {sale}.period = ? OR {position} > ?)",
                    [period, period, after])
        return f" AND ({month_column} = ? OR {position} > ?)", [period, after]

    sales = p.t("sales")
    parts: list[str] = []
    params: list[Any] = []
    for kind, table in (("fine", "fines"), ("fine_reversal", "fine_reversals")):
        # a fine's reversal is dated on the fine's date and has no month column
        extra, more = within("period" if table == "fines" else "substr(day, 1, 7)", "position")
        parts.append(f"SELECT '{kind}' AS kind, fine_id AS id, NULL AS sale_id, rep_key AS who, "
                     f"day, amount, position, NULL AS sale_day FROM {p.t(table)} "
                     f"WHERE {by_key}{extra}")
        params += [*keys, *more]
    extra, more = within("period", "position")
    parts.append(f"SELECT 'sale', sale_id, NULL, rep_id, day, gross, position, NULL "
                 f"FROM {sales} WHERE {by_id}{extra}")
    params += [*ids, *more]
    for kind, table, ref in (("return", "returns", "return_id"),
                             ("write_off", "writeoffs", "writeoff_id")):
        extra, more = within("x.period", "x.position", "s")
        parts.append(f"SELECT '{kind}', x.{ref}, x.sale_id, s.rep_id, x.day, x.amount, "
                     f"x.position, s.day FROM {p.t(table)} x "
                     f"JOIN {sales} s ON s.sale_id = x.sale_id WHERE s.{by_id}{extra}")
        params += [*ids, *more]
    return sql.all(" UNION ALL ".join(parts), params)


def _fact(r: dict[str, Any], rep_of_key: dict[str, str]) -> Fact:
    """A ``_fact_rows`` row as the ``Fact`` it is."""
    day, amount, position = date.fromisoformat(r["day"]), int(r["amount"]), int(r["position"])
    if r["kind"] == "fine":
        return Fact.fine(r["id"], rep_of_key[r["who"]], day, amount, position)
    if r["kind"] == "fine_reversal":
        return Fact.fine_reversal(r["id"], rep_of_key[r["who"]], day, amount, position)
    if r["kind"] == "sale":
        return Fact.sale(r["id"], r["who"], day, amount, position)
    return Fact.taken_back(r["kind"], r["id"], day, amount, position, sale_id=r["sale_id"],
                           sale_rep_id=r["who"], sale_day=date.fromisoformat(r["sale_day"]))


def _ints(row: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL answers BIGINT sums as Decimal; every fen column as int."""
    return {k: int(v) if isinstance(v, Decimal) else v for k, v in row.items()}


# --- queries -------------------------------------------------------------------------------


def projection_of(projector: Projector, cls: type[Projection] = CommissionsProjection) -> Any:
    for p in projector.projections:
        if isinstance(p, cls):
            return p
    raise LookupError(f"the projector does not keep {cls.__name__}")


def _period(value: str) -> str:
    try:
        return month(value).name
    except ValueError as e:
        raise invalid("period", str(e)) from None


def _require_rep(sql: Sql, p: CommissionsProjection, rep_id: str) -> dict[str, Any]:
    row = sql.one(f"SELECT rep_key, rep_id, name, trainer_id FROM {p.t('reps')} WHERE rep_id = ?",
                  (rep_id,))
    if row is None:
        raise unknown("rep", rep_id, "rep_id")
    return row


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    """A ``statements`` row as ``_load`` decodes it."""
    s = _ints(row)
    s["lines"], s["trainees"] = from_json(s["lines"]), from_json(s["trainees"])
    return s


def _rep_and_statement(sql: Sql, p: CommissionsProjection, rep_id: str,
                       period: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``_require_rep`` and the statement a close accrued for the rep and ``period``
    (None if none, else decoded as ``_load`` decodes it), in one read."""
    row = sql.one(
        "SELECT r.rep_key AS rep_key_, r.rep_id AS rep_id_, r.name AS name_, "
        f"r.trainer_id AS trainer_id_, s.* FROM {p.t('reps')} r "
        f"LEFT JOIN {p.t('statements')} s ON s.rep_key = r.rep_key AND s.period = ? "
        "WHERE r.rep_id = ?", (period, rep_id))
    if row is None:
        raise unknown("rep", rep_id, "rep_id")
    rep = {k: row.pop(f"{k}_") for k in ("rep_key", "rep_id", "name", "trainer_id")}
    return rep, None if row["period"] is None else _decoded(row)


def _payouts(sql: Sql, p: CommissionsProjection, rep_key: str, period: str) -> list[dict[str, Any]]:
    """The payouts for ``period`` (by date, then log order), then the reversed payouts'
    lines (SPEC 2.7: the amount negated, so ``paid`` drops by it): one read."""
    rows = sql.all(
        f"SELECT 0 AS reversed, payout_id, NULL AS reversal_id, day, amount, position "
        f"FROM {p.t('payouts')} WHERE rep_key = ? AND period = ? UNION ALL "
        f"SELECT 1, payout_id, reversal_id, day, amount, position "
        f"FROM {p.t('payout_reversals')} WHERE rep_key = ? AND period = ? "
        "ORDER BY 1, 4, 6", (rep_key, period, rep_key, period),
    )
    return [{"type": "payout", "payout_id": r["payout_id"], "date": r["day"],
             "amount": int(r["amount"])} if not r["reversed"] else
            {"type": "payout_reversal", "payout_id": r["payout_id"],
             "reversal_id": r["reversal_id"], "date": r["day"], "amount": -int(r["amount"])}
            for r in rows]


def _answer(rep_id: str, period: str, closed: bool, figures: dict[str, Any],
            lines: list[dict[str, Any]], payouts: list[dict[str, Any]]) -> dict[str, Any]:
    paid = sum(x["amount"] for x in payouts)
    if "adjustment" not in figures:  # a stored statement: its columns
        figures = {**figures, "adjustment": figures["adjustments"]}
    return {
        "rep_id": rep_id, "period": period, "closed": closed,
        **{k: figures[k] for k in FIGURES},
        "payable_on": figures["payable_on"], "override_payable_on": figures["override_payable_on"],
        "paid": paid, "balance": figures["total"] - paid, "lines": [*lines, *payouts],
    }


def _statement_figures(st: Statement, closed: bool) -> dict[str, Any]:
    return {
        "rank": st.rank, "personal_sales": st.personal_sales, "rate": format_rate(st.rate),
        "commission": st.commission, "morning_star_bonus": st.morning_star_bonus,
        "opening_star_bonus": st.opening_star_bonus, "override": st.override,
        "adjustment": st.adjustments, "carried": st.carried,
        "clawback": st.clawback, "fines": st.fines, "total": st.total,
        "payable_on": st.payable_on.isoformat() if closed else None,
        "override_payable_on": st.override_payable_on.isoformat(),
    }


def _commission(sql: Sql, p: CommissionsProjection, loaded: _Loaded, rep_id: str,
                period: str) -> dict[str, Any]:
    payouts = _payouts(sql, p, loaded.reps[rep_id]["rep_key"], period)
    stored = loaded.statements.get((rep_id, period))
    if stored is not None:
        return _answer(rep_id, period, True, stored, stored["lines"], payouts)
    months = loaded.months
    if period in loaded.closed:
        # closed without a statement for this rep: nothing accrued for it that month
        st = compute_statement(months.plan(period), MonthInput(
            rep_id=rep_id, period=period, rank=months.rank_on(rep_id, month(period).first),
            sales=(), returns=(), trainees=()))
        return _answer(rep_id, period, True, _statement_figures(st, True), [], payouts)
    st = months.statement(rep_id, period)
    return _answer(rep_id, period, False, _statement_figures(st, False), list(st.lines), payouts)


def query_commission(projector: Projector, rep_id: str, period: str) -> dict[str, Any]:
    """SPEC 5.3 ``commission --rep R --period YYYY-MM``: a closed month answers the figures
    its close accrued; a month not yet closed the figures of the facts so far, with
    ``payable_on`` null. ``paid`` is the payouts for that period, ``balance`` = total - paid.
    """
    period = _period(period)
    p = projection_of(projector)
    with projector.transaction(commit=False) as sql:
        rep, stored = _rep_and_statement(sql, p, rep_id, period)
        if stored is not None:
            # a month its close accrued: the stored statement answers (as in _commission),
            # without loading the facts of every month of the rep and its trainees
            document = _answer(rep_id, period, True, stored, stored["lines"],
                               _payouts(sql, p, rep["rep_key"], period))
        else:
            document = _commission(sql, p, _load(sql, p, [rep_id], period), rep_id, period)
        # the open disputes of that rep and month (SPEC 5.3), from the disputes projection
        from ledger.projections.disputes import open_disputes_of

        disputes = open_disputes_of(projector, rep_id, period, sql)
    if disputes is not None:
        document["disputes"] = disputes
    return document


def query_ranks(projector: Projector, rep_id: str, on: date | None = None) -> dict[str, Any]:
    """SPEC 5.3 ``ranks --rep R``: the rank in effect today (or ``on``) and the history in
    log order, the registration first."""
    p = projection_of(projector)
    with projector.transaction(commit=False) as sql:
        rep = _require_rep(sql, p, rep_id)
        rows = sql.all(f"SELECT * FROM {p.t('ranks')} WHERE rep_key = ? ORDER BY position",
                       (rep["rep_key"],))
    return {
        "rep_id": rep_id,
        "rank": rank_on(_history(rows), on or today(projector)),
        "history": [{"rank": r["rank"], "effective_from": r["effective_from"],
                     "reason": r["reason"], "decided_by": r["decided_by"]} for r in rows],
    }


def rank_evidence(projector: Projector, rep_id: str) -> list[dict[str, Any]]:
    """The rank history with what each change rests on (auditors): previous rank, the
    log position and the evidence the decision recorded (a promotion's figures)."""
    p = projection_of(projector)
    with projector.transaction(commit=False) as sql:
        rep = _require_rep(sql, p, rep_id)
        rows = sql.all(f"SELECT * FROM {p.t('ranks')} WHERE rep_key = ? ORDER BY position",
                       (rep["rep_key"],))
    return [{"position": int(r["position"]), "rank": r["rank"], "previous_rank": r["previous_rank"],
             "effective_from": r["effective_from"], "reason": r["reason"],
             "decided_by": r["decided_by"], "evidence": from_json(r["evidence"])} for r in rows]


def last_closed(projector: Projector) -> str | None:
    """The latest closed month, or None before the first close."""
    p = projection_of(projector)
    with projector.transaction(commit=False) as sql:
        return sql.scalar(f"SELECT MAX(period) AS period FROM {p.t('closings')}")


def top_statements(projector: Projector, period: str, n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` largest statements of a month (by total, then rep id), without their lines:
    for the demo's summary."""
    period = _period(period)
    p = projection_of(projector)
    with projector.transaction(commit=False) as sql:
        loaded = _load(sql, p, None)
        answers = []
        for rep_id in sorted(loaded.reps):
            answer = _commission(sql, p, loaded, rep_id, period)
            answer.pop("lines")
            answer["name"] = loaded.reps[rep_id]["name"]
            answers.append(answer)
    answers.sort(key=lambda a: (-a["total"], a["rep_id"]))
    return answers[:n]


def statement_months(projector: Projector, rep_id: str) -> list[dict[str, Any]]:
    """A rep's commission account by month (SPEC 3 Commissions): each closed month's
    accrued total, payable dates, what was paid for it and the balance, oldest first."""
    p = projection_of(projector)
    with projector.transaction(commit=False) as sql:
        rep = _require_rep(sql, p, rep_id)
        rows = sql.all(f"SELECT period, total, payable_on, override_payable_on "
                       f"FROM {p.t('statements')} WHERE rep_key = ?", (rep["rep_key"],))
        paid = {r["period"]: int(r["amount"]) for r in sql.all(
            f"SELECT period, {fen_sum('amount')} AS amount FROM {p.t('payouts')} "
            "WHERE rep_key = ? GROUP BY period", (rep["rep_key"],))}
        for r in sql.all(f"SELECT period, {fen_sum('amount')} AS amount "
                         f"FROM {p.t('payout_reversals')} WHERE rep_key = ? GROUP BY period",
                         (rep["rep_key"],)):  # reversed payouts are not paid (SPEC 2.7)
            paid[r["period"]] = paid.get(r["period"], 0) - int(r["amount"])
    return [{"period": r["period"], "accrued": int(r["total"]), "payable_on": r["payable_on"],
             "override_payable_on": r["override_payable_on"], "paid": paid.get(r["period"], 0),
             "balance": int(r["total"]) - paid.get(r["period"], 0)}
            for r in sorted(rows, key=lambda r: r["period"])]


def commission_accounts(projector: Projector, sql: Sql | None = None) -> dict[str, dict[str, int]]:
    """The commission sub-ledger per rep: ``accrued`` (the closed statements' own
    accruals: each total less what it carried in from the month before, which that month
    accrued already), ``paid`` (every payout) and ``balance`` = accrued - paid (what is
    still owed to the rep; negative while a carried debt is not absorbed)."""
    p = projection_of(projector)
    if sql is None:
        with projector.transaction(commit=False) as own:
            return commission_accounts(projector, own)
    accrued = {r["rep_key"]: int(r["amount"]) for r in sql.all(
        f"SELECT rep_key, {fen_sum('total')} - {fen_sum('carried')} AS amount "
        f"FROM {p.t('statements')} GROUP BY rep_key")}
    paid = {r["rep_key"]: int(r["amount"]) for r in sql.all(
        f"SELECT rep_key, {fen_sum('amount')} AS amount FROM {p.t('payouts')} GROUP BY rep_key")}
    for r in sql.all(f"SELECT rep_key, {fen_sum('amount')} AS amount "
                     f"FROM {p.t('payout_reversals')} GROUP BY rep_key"):
        paid[r["rep_key"]] = paid.get(r["rep_key"], 0) - int(r["amount"])  # SPEC 2.7
    names = {r["rep_key"]: r["rep_id"] for r in sql.all(f"SELECT rep_key, rep_id FROM {p.t('reps')}")}
    out = {}
    for key in sorted(set(accrued) | set(paid), key=lambda k: names.get(k, k)):
        a, d = accrued.get(key, 0), paid.get(key, 0)
        out[names.get(key, key)] = {"accrued": a, "paid": d, "balance": a - d}
    return out


__all__ = [
    "CommissionsProjection", "QueryError", "commission_accounts", "query_commission",
    "query_ranks", "rank_evidence", "statement_months", "top_statements",
]
