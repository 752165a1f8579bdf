"""Explain (SPEC 4, SPEC 5.3 ``replay explain``, 5.4 ``GET /v1/explain/...``): the events
behind one figure, in log order, with the rule each went through, the policy version
applied, its amount and the running total.

``{figure, value, steps: [{position, event, occurred_at, rule, policy_version, amount,
running_total, note, details}], ...}``: ``value`` is the query's own figure, computed in the
same read transaction by the query's own code, and the last step's ``running_total`` equals
it:

- ``commission --rep R --period P``: the statement's ``total`` (``query_commission``). Every
  money line of the statement is a step (a counted sale's ``share`` of the commission, with
  the tier and rate; clawbacks at the sale month's rate and fines, subtracted; late
  adjustments and ``carried`` lines, signed; a line type this module does not know, by its
  signed ``amount``), and the figures no line itemises are steps too: 晨星 and 开星 with the
  threshold met, override per trainee (a display split of the override, which is rounded
  once, like the shares). Same-month returns are steps of amount 0 (they are in the
  shares); payouts are not part of ``total``. In a closed month the bonuses and override
  sit at the close's ``CommissionAccrued`` (the decision that booked them); before the
  close, at the last fact they count.
- ``receivable --customer C [--sale S] [--as-of D]``: the customer's ``open_total`` or the
  sale's ``open`` as of D. The steps are the receivables projection's dated rows
  (``movements``) that the query sums, under the same as-of rule (the sales invoiced on or
  before D, the rows dated on or before D): the sale, customer credit settling it,
  returns, allocations, FIFO settlements, write-offs, and recoveries and returns of
  written-off amounts (amount 0: they move the written-off amount, never the open one).
- ``budget --budget B``: the budget's ``remaining``. The budget's events from the audit
  trail in log order, replayed with the budget projection's own rules: allocation +,
  adjustments +/-, an approval - its commitment, a spend + the release of the commitment
  and - the actual amount, a rejection after approval + the release, a spend's reversal
  + the amount no longer spent and - the commitment back.

Each step's ``event``, ``occurred_at`` and ``policy_version`` come from the audit trail's
entry at its position (the decision's own policy version); steps the commission plan
computes (shares, bonuses, override, clawbacks) name the plan version the statement used.

A figure the steps cannot account for is never hidden: a difference between the sum of a
statement's lines and one of its figures is a ``<figure>_unitemised`` step, and any
difference left between the steps and the figure an ``unexplained`` step (position null),
so the last running total always equals ``value`` and the gap is visible. Neither appears
for facts the ledger records today (the tests check it over random streams).

Works on any projector that keeps the projections it reads (live, or a replay sandbox,
``ledger.replay.sandbox``); the receivable and commission explanations read the audit
projection for event names and times when the projector keeps it, the budget's needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.domain.commission_plan import Plan, load_plan, split_shares
from ledger.domain.money import format_fen, format_rate, parse_rate
from ledger.domain.policies import PLAN_POLICY
from ledger.projections.audit import AuditProjection
from ledger.projections.budgets import BudgetsProjection, _budget_figures
from ledger.projections.commissions import (
    CommissionsProjection,
    _commission,
    _load,
    _period,
    _require_rep,
)
from ledger.projections.common import from_json, report_date
from ledger.projections.engine import Projector, Sql
from ledger.projections.errors import QueryError, unknown
from ledger.projections.receivables import ReceivablesProjection, sales_as_of

UNEXPLAINED = "unexplained"
_CHUNK = 500  # ids per IN (...) list


# --- shared -------------------------------------------------------------------------------


def _projection(projector: Projector, cls: type) -> Any:
    for p in projector.projections:
        if isinstance(p, cls):
            return p
    return None


def _required(projector: Projector, cls: type) -> Any:
    found = _projection(projector, cls)
    if found is None:
        raise LookupError(f"explain: the projector does not keep {cls.__name__}")
    return found


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = sorted(set(values))
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def _entries(sql: Sql, projector: Projector, positions: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The audit trail's entry at each position: event name, occurred_at, the policy
    version the decision recorded, business date and the event's own fields."""
    audit = _projection(projector, AuditProjection)
    out: dict[int, dict[str, Any]] = {}
    if audit is None:
        return out
    for chunk in _chunks(p for p in positions if p is not None):
        for r in sql.all(
            f"SELECT position, event, occurred_at, policy_version, business_date, details "
            f"FROM {audit.t('entries')} WHERE position IN ({', '.join('?' * len(chunk))})", chunk,
        ):
            out[int(r["position"])] = {
                "event": r["event"], "occurred_at": r["occurred_at"],
                "policy_version": r["policy_version"], "business_date": r["business_date"],
                "details": from_json(r["details"]) or {},
            }
    return out


class _Steps:
    """Steps as they are found; ``finish`` orders them by log position and runs the total."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, position: int | None, rule: str, amount: int, note: str, /, *,
            event: str | None = None, policy_version: str | None = None,
            figure: str | None = None, **details: Any) -> dict[str, Any]:
        step = {"position": position, "event": event, "occurred_at": None, "rule": rule,
                "policy_version": policy_version, "amount": int(amount), "running_total": 0,
                "note": note, "details": details, "_figure": figure, "_seq": len(self.items)}
        self.items.append(step)
        return step

    def figure_sum(self, figure: str) -> int:
        return sum(s["amount"] for s in self.items if s["_figure"] == figure)

    def finish(self, sql: Sql, projector: Projector, value: int,
               default_version: str | None = None) -> list[dict[str, Any]]:
        """The steps in log order with their running totals; a step's policy version is
        its own, else the one its event recorded, else ``default_version``."""
        entries = _entries(sql, projector, (s["position"] for s in self.items))
        steps = sorted(self.items, key=lambda s: (s["position"] is None, s["position"] or 0,
                                                  s["_seq"]))
        left = value - sum(s["amount"] for s in steps)
        if left:
            steps.append(self.add(None, UNEXPLAINED, left,
                                  f"{format_fen(left)} that no event of the log accounts for"))
        running = 0
        out = []
        for s in steps:
            entry = entries.get(s["position"]) if s["position"] is not None else None
            if entry is not None:
                s["event"] = entry["event"]
                s["occurred_at"] = entry["occurred_at"]
                if s["policy_version"] is None:
                    s["policy_version"] = entry["policy_version"]
            if s["policy_version"] is None:
                s["policy_version"] = default_version
            running += s["amount"]
            s["running_total"] = running
            out.append({k: v for k, v in s.items() if not k.startswith("_")})
        return out


def _fen(amount: int) -> str:
    return format_fen(int(amount))


def _pct(rate: Decimal | str) -> str:
    value = parse_rate(rate) if isinstance(rate, str) else rate
    return f"{format_rate(value * 100)}%"


# --- commission ---------------------------------------------------------------------------

# A statement's money lines and how they make up ``total`` (``_commission_steps``): a sale's
# ``share`` (+, of ``commission``), a clawback's and a fine's ``amount`` (-), an adjustment's
# and a carried line's ``amount`` (signed), any other line by its signed ``amount``; payouts
# are not part of ``total``; returns and trainees show through the shares and the override.
_NOT_MONEY = ("return", "trainee")
# figures of the statement and their sign in ``total`` (SPEC 2.5)
_FIGURE_SIGNS = {"commission": 1, "morning_star_bonus": 1, "opening_star_bonus": 1,
                 "override": 1, "adjustment": 1, "carried": 1, "clawback": -1, "fines": -1}
_ID_FIELDS = ("sale_id", "return_id", "writeoff_id", "fine_id", "ref_id", "payout_id")


def explain_commission(projector: Projector, rep_id: str, period: str) -> dict[str, Any]:
    """``replay explain commission --rep R --period P``: every step of the statement's
    ``total`` (module docstring)."""
    period = _period(period)
    p = _required(projector, CommissionsProjection)
    with projector.transaction(commit=False) as sql:
        rep = _require_rep(sql, p, rep_id)
        loaded = _load(sql, p, [rep_id])
        statement = _commission(sql, p, loaded, rep_id, period)
        steps = _Steps()
        plan_version = _commission_steps(sql, p, loaded, rep, statement, steps)
        document = {
            "figure": "total", "value": statement["total"], "rep_id": rep_id, "period": period,
            "closed": statement["closed"], "plan_version": plan_version,
            "steps": steps.finish(sql, projector, statement["total"], plan_version),
        }
    return document


def _positions(sql: Sql, p: CommissionsProjection, table: str, column: str,
               ids: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(ids):
        for r in sql.all(f"SELECT {column} AS id, position FROM {p.t(table)} "
                         f"WHERE {column} IN ({', '.join('?' * len(chunk))})", chunk):
            out[r["id"]] = int(r["position"])
    return out


def _plan_for(sql: Sql, p: CommissionsProjection, loaded: Any, period: str,
              version: str | None) -> Plan:
    """The plan the statement used: the one in force on the month's 1st, or (a closed
    month) the version its accrual names."""
    plan = loaded.months.plan(period)
    if version is None or version == plan.version:
        return plan
    row = sql.one(f"SELECT policy_values FROM {p.t('policies')} WHERE policy = ? AND version = ? "
                  "ORDER BY position DESC", (PLAN_POLICY, version))
    return load_plan(dict(from_json(row["policy_values"]))) if row else plan


def _commission_steps(sql: Sql, p: CommissionsProjection, loaded: Any, rep: dict[str, Any],
                      statement: dict[str, Any], steps: _Steps) -> str:
    """Add the statement's steps; answer the plan version the statement used."""
    rep_id, period, closed = statement["rep_id"], statement["period"], statement["closed"]
    lines = [line for line in statement["lines"]
             if not str(line.get("type", "")).startswith("payout")]
    stored = loaded.statements.get((rep_id, period))
    accrual = int(stored["position"]) if stored else None
    if stored is not None:
        plan_version = stored["plan_version"]
        ms_sales = int(stored.get("morning_star_sales") or 0)
    elif closed:
        plan_version, ms_sales = loaded.months.plan(period).version, 0
    else:
        st = loaded.months.statement(rep_id, period)
        plan_version, ms_sales = st.plan_version, st.morning_star_sales
    plan = _plan_for(sql, p, loaded, period, plan_version)

    def ids(kind: str, field: str) -> list[str]:
        return [str(line[field]) for line in lines if line.get("type") == kind and line.get(field)]

    where = {
        "sale": _positions(sql, p, "sales", "sale_id", ids("sale", "sale_id")),
        "return": _positions(sql, p, "returns", "return_id",
                             ids("return", "return_id") + [str(line["ref_id"]) for line in lines
                                                           if line.get("kind") == "return"]),
        "write_off": _positions(sql, p, "writeoffs", "writeoff_id",
                                [str(line["ref_id"]) for line in lines
                                 if line.get("kind") == "write_off"]),
        "fine": _positions(sql, p, "fines", "fine_id", ids("fine", "fine_id")),
    }
    accruals = {r["period"]: int(r["position"]) for r in sql.all(
        f"SELECT period, position FROM {p.t('statements')} WHERE rep_key = ?", (rep["rep_key"],))}
    closings = {r["period"]: int(r["position"]) for r in sql.all(
        f"SELECT period, position FROM {p.t('closings')}")}

    def any_position(line: dict[str, Any]) -> int | None:
        for field in _ID_FIELDS:
            ref = line.get(field)
            if ref is None:
                continue
            for table in where.values():
                if ref in table:
                    return table[ref]
        return accrual

    rate = statement["rate"]
    personal = statement["personal_sales"]
    reached = [t for t in plan.rate_tiers if personal >= t.min_sales]
    tier = reached[-1] if reached else None
    base = f"{format_rate(plan.base_factor)} / {format_rate(plan.base_divisor)}"
    for line in lines:
        kind = line.get("type")
        if kind == "sale":
            net = int(line["gross"]) - int(line.get("returned", 0))
            reached = _tier_text(plan, tier)  # type: ignore[assignment]
            steps.add(where["sale"].get(line["sale_id"]), "commission_tier", line["share"],
                      f"sale {line['sale_id']} of {line['date']}, {_fen(net)} net of "
                      f"{_fen(line['gross'])}: its share of round(personal sales "
                      f"{_fen(personal)} x {base} x {_pct(rate)}) = "
                      f"{_fen(statement['commission'])} ({reached}: {_pct(rate)}; shares are "
                      "display-only, the commission is rounded once)",
                      policy_version=plan_version, figure="commission",
                      sale_id=line["sale_id"], date=line["date"], gross=int(line["gross"]),
                      returned=int(line.get("returned", 0)), net=net, personal_sales=personal,
                      rate=rate, tier_min_sales=tier.min_sales if tier else None,
                      commission=statement["commission"])
        elif kind == "return":
            steps.add(where["return"].get(line["return_id"]), "same_month_return", 0,
                      f"return {line['return_id']} of sale {line['sale_id']} on {line['date']}: "
                      f"{_fen(line['amount'])} off this month's personal sales (in the shares)",
                      policy_version=plan_version, return_id=line["return_id"],
                      sale_id=line["sale_id"], returned=int(line["amount"]))
        elif kind == "clawback":
            table = where["return"] if line.get("kind") == "return" else where["write_off"]
            steps.add(table.get(line["ref_id"]), "clawback", -int(line["amount"]),
                      f"{str(line['kind']).replace('_', '-')} {line['ref_id']} of sale "
                      f"{line['sale_id']} ({line['sale_period']}): round({_fen(line['gross'])} x "
                      f"{base} x {_pct(line['rate'])}, the rate of {line['sale_period']}) = "
                      f"{_fen(line['amount'])} clawed back",
                      policy_version=plan_version, figure="clawback", ref_id=line["ref_id"],
                      kind=line["kind"], sale_id=line["sale_id"],
                      sale_period=line["sale_period"], gross=int(line["gross"]),
                      rate=line["rate"])
        elif kind == "fine":
            steps.add(where["fine"].get(line["fine_id"]), "fine", -int(line["amount"]),
                      f"fine {line['fine_id']} of {line['date']}: {_fen(line['amount'])} off the "
                      "month's commission balance", figure="fines", fine_id=line["fine_id"],
                      date=line["date"])
        elif kind == "adjustment":
            facts = list(line.get("facts") or [])
            position = max((int(f["position"]) for f in facts if f.get("position") is not None),
                           default=None)
            if position is None:
                position = _trainee_late_position(loaded, rep_id, line["period"]) or accrual
            booked, revised = line.get("booked") or {}, line.get("revised") or {}
            steps.add(position, "late_adjustment", int(line["amount"]),
                      f"{line.get('note') or 'late facts'}: {line['period']} booked "
                      f"{_fen(booked.get('total', 0))}, revised {_fen(revised.get('total', 0))}",
                      policy_version=revised.get("plan_version") or plan_version,
                      figure="adjustment", period=line["period"], facts=facts,
                      booked=booked or None, revised=revised or None)
        elif kind == "carried":
            source = line.get("period")
            steps.add(accruals.get(source, closings.get(source, accrual)), "carried",
                      int(line["amount"]),
                      f"{source} closed with a negative total: {_fen(line['amount'])} carried in",
                      figure="carried", period=source)
        elif kind in _NOT_MONEY:
            continue
        elif isinstance(line.get("amount"), int):
            steps.add(any_position(line), str(kind), int(line["amount"]),
                      f"{kind} line of the statement: {_fen(line['amount'])}",
                      **{k: v for k, v in line.items() if k not in ("event", "figure")})
    _bonus_steps(sql, p, loaded, statement, lines, where, accrual, plan, plan_version, ms_sales,
                 steps)
    # a figure its lines do not add up to, and what is left (never silently)
    for figure, sign in _FIGURE_SIGNS.items():
        stated = statement.get(figure)
        if isinstance(stated, int) and not isinstance(stated, bool):
            gap = sign * stated - steps.figure_sum(figure)
            if gap:
                steps.add(accrual, f"{figure}_unitemised", gap,
                          f"{figure} {_fen(stated)}: {_fen(gap)} not itemised by a line",
                          policy_version=plan_version, figure=figure)
    return plan_version


def _tier_text(plan: Plan, tier: Any) -> str:
    """Which tier the personal sales reached, in words."""
    if tier is None or tier.rate == 0:
        above = [t.min_sales for t in plan.rate_tiers if t.rate > 0]
        return f"below {_fen(min(above))}" if above else "no tier"
    return f"{_fen(tier.min_sales)} or more"


def _last(positions: Iterable[int | None]) -> int | None:
    return max((x for x in positions if x is not None), default=None)


def _bonus_steps(sql: Sql, p: CommissionsProjection, loaded: Any, statement: dict[str, Any],
                 lines: list[dict[str, Any]], where: dict[str, dict[str, int]],
                 accrual: int | None, plan: Plan, plan_version: str, ms_sales: int,
                 steps: _Steps) -> None:
    """晨星, 开星 and override: figures without a line of their own. In a closed month they
    sit at the accrual; before the close, at the last fact they count."""
    rank = statement["rank"]
    group = plan.group(rank)
    sales = [line for line in lines if line.get("type") == "sale"]
    returns = [line for line in lines if line.get("type") == "return"]
    early = {s["sale_id"] for s in sales if date.fromisoformat(s["date"]).day
             <= plan.morning_star_last_day}
    if statement["morning_star_bonus"]:
        at = accrual if statement["closed"] else _last(
            [where["sale"].get(s) for s in early]
            + [where["return"].get(r["return_id"]) for r in returns if r["sale_id"] in early])
        steps.add(at, "morning_star_bonus", statement["morning_star_bonus"],
                  f"晨星 (rank {rank}): sales by the {plan.morning_star_last_day}th "
                  f"{_fen(ms_sales)} >= {_fen(group.morning_star_min_sales)}",
                  policy_version=plan_version, figure="morning_star_bonus", rank=rank,
                  morning_star_sales=ms_sales, threshold=group.morning_star_min_sales,
                  last_day=plan.morning_star_last_day)
    if statement["opening_star_bonus"]:
        at = accrual if statement["closed"] else _last(
            [where["sale"].get(s["sale_id"]) for s in sales]
            + [where["return"].get(r["return_id"]) for r in returns])
        steps.add(at, "opening_star_bonus", statement["opening_star_bonus"],
                  f"开星 (rank {rank}): personal sales {_fen(statement['personal_sales'])} >= "
                  f"{_fen(group.opening_star_min_sales)}",
                  policy_version=plan_version, figure="opening_star_bonus", rank=rank,
                  personal_sales=statement["personal_sales"],
                  threshold=group.opening_star_min_sales)
    trainees = [line for line in lines if line.get("type") == "trainee"]
    override = statement["override"]
    weights = [int(t["personal_sales"]) for t in trainees]
    if override > 0 and trainees and sum(weights) > 0:
        last = {} if statement["closed"] else _trainee_positions(
            sql, p, [t["rep_id"] for t in trainees], statement["period"])
        for t, share in zip(trainees, split_shares(override, weights)):
            steps.add(accrual if statement["closed"] else last.get(t["rep_id"]), "override",
                      share,
                      f"override (rank {rank} >= {plan.override.min_rank}): trainee "
                      f"{t['rep_id']}'s personal sales {_fen(t['personal_sales'])}, share of "
                      f"round({_fen(sum(weights))} x {_pct(plan.override.rate)}) = "
                      f"{_fen(override)} (shares display-only)",
                      policy_version=plan_version, figure="override", trainee=t["rep_id"],
                      personal_sales=int(t["personal_sales"]),
                      rate=format_rate(plan.override.rate), override=override)


def _trainee_positions(sql: Sql, p: CommissionsProjection, rep_ids: list[str],
                       period: str) -> dict[str, int]:
    """Each trainee's last sale or same-month return dated in ``period``."""
    if not rep_ids:
        return {}
    marks = ", ".join("?" * len(rep_ids))
    out: dict[str, int] = {}
    for r in sql.all(
        f"SELECT s.rep_id, MAX(s.position) AS position FROM {p.t('sales')} s "
        f"WHERE s.rep_id IN ({marks}) AND s.period = ? GROUP BY s.rep_id", [*rep_ids, period],
    ):
        out[r["rep_id"]] = int(r["position"])
    for r in sql.all(
        f"SELECT s.rep_id, MAX(x.position) AS position FROM {p.t('returns')} x "
        f"JOIN {p.t('sales')} s ON s.sale_id = x.sale_id "
        f"WHERE s.rep_id IN ({marks}) AND s.period = ? AND x.period = ? GROUP BY s.rep_id",
        [*rep_ids, period, period],
    ):
        out[r["rep_id"]] = max(out.get(r["rep_id"], 0), int(r["position"]))
    return out


def _trainee_late_position(loaded: Any, rep_id: str, period: str) -> int | None:
    """The last late fact of ``rep_id``'s trainees in ``period`` (an adjustment made of
    trainees' late facts only lists none of its own)."""
    months = loaded.months
    return _last(f.position for f in months.late_facts()
                 if f.period == period and f.moves_sales and f.rep_id in months.reps
                 and months.reps[f.rep_id].trainer_id == rep_id)


# --- receivable ---------------------------------------------------------------------------

_MOVEMENT_RULES = {
    "sale": "sale",
    "credit": "customer_credit",
    "return": "return",
    "return_written_off": "return_of_written_off",
    "allocation": "payment_allocation",
    "fifo": "fifo_settlement",
    "recovery": "recovery",
    "writeoff": "write_off",
}
_REF_FIELDS = ("reversal_id", "payment_id", "return_id", "writeoff_id")


def explain_receivable(projector: Projector, customer_id: str, sale_id: str | None = None,
                       as_of: date | str | None = None) -> dict[str, Any]:
    """``replay explain receivable --customer C [--sale S] [--as-of D]``: the rows the
    receivables query sums for the customer's ``open_total`` (or the sale's ``open``), as
    of D, in log order (module docstring)."""
    p = _required(projector, ReceivablesProjection)
    day, upto = report_date(projector, as_of)
    with projector.transaction(commit=False) as sql:
        if sql.scalar(f"SELECT COUNT(*) FROM {p.t('customers')} WHERE customer_id = ?",
                      (customer_id,)) == 0:
            raise unknown("customer", customer_id, "customer")
        if sale_id is not None:
            owner = sql.scalar(f"SELECT customer_id FROM {p.t('sales')} WHERE sale_id = ?",
                               (sale_id,))
            if owner != customer_id:
                raise QueryError("unknown_reference",
                                 f"unknown sale {sale_id!r} of customer {customer_id!r}",
                                 kind="sale", ref=sale_id, field="sale", customer_id=customer_id)
        # the query's own sums, in this transaction
        sales = sales_as_of(sql, p, upto, customer_id)
        if sale_id is None:
            value = sum(s.open for s in sales)
        else:
            value = next((s.open for s in sales if s.sale_id == sale_id), 0)
        where, params = "s.customer_id = ?", [customer_id]
        if sale_id is not None:
            where, params = "s.sale_id = ?", [sale_id]
        rows = sql.all(
            "SELECT m.position, m.sale_id, m.kind, m.business_date, m.amount, m.open_delta, "
            "m.unrecovered_delta, s.invoice_date, s.due_on, s.gross "
            f"FROM {p.t('movements')} m JOIN {p.t('sales')} s ON s.sale_id = m.sale_id "
            f"WHERE {where} AND s.invoice_date <= ? AND m.business_date <= ? "
            "ORDER BY m.position, s.due_on, s.sale_id, m.kind", [*params, upto, upto],
        )
        steps = _Steps()
        entries = _entries(sql, projector, (int(r["position"]) for r in rows))
        # within one event: the sale before the credit that settles it; a payment's rows
        # in FIFO order (due date, then sale id)
        for r in sorted(rows, key=lambda r: (int(r["position"]), r["kind"] != "sale",
                                             r["due_on"], r["sale_id"], r["kind"])):
            _movement_step(steps, r, entries.get(int(r["position"])))
        document: dict[str, Any] = {
            "figure": "open_total" if sale_id is None else "open", "value": value,
            "customer_id": customer_id, "sale_id": sale_id, "as_of": day.isoformat(),
            "steps": steps.finish(sql, projector, value),
        }
    return document


def _movement_step(steps: _Steps, r: dict[str, Any], entry: dict[str, Any] | None) -> None:
    kind = str(r["kind"])
    base = kind.split("@", 1)[0]
    rule = _MOVEMENT_RULES.get(base, base)
    event = entry["event"] if entry else None
    if event and event.endswith("Reversed") and base != "sale":
        rule = f"{rule}_reversed"
    details = entry["details"] if entry else {}
    refs = {f: details[f] for f in _REF_FIELDS if isinstance(details.get(f), str)}
    sale, amount = r["sale_id"], int(r["amount"])
    open_delta, unrecovered = int(r["open_delta"]), int(r["unrecovered_delta"])
    what = " ".join(f"{f.removesuffix('_id')} {v}" for f, v in refs.items())
    if rule.endswith("_reversed"):
        target = " of ".join(f"{f.removesuffix('_id')} {v}" for f, v in refs.items())
        moved = (f"{_fen(open_delta)} of sale {sale} open again" if open_delta
                 else f"{_fen(unrecovered)} of sale {sale} written off and unrecovered again")
        note = f"{target or 'reversal'} ({base} undone): {moved}"
    elif rule == "sale":
        note = (f"sale {sale} invoiced {r['invoice_date']}: receivable for the gross "
                f"{_fen(r['gross'])}, due {r['due_on']}")
    elif rule == "customer_credit":
        note = f"customer credit settles {_fen(-open_delta)} of sale {sale}"
    elif rule == "return":
        rest = amount - (-open_delta)
        note = (f"{what or 'return'}: {_fen(amount)} returned on sale {sale}; "
                f"{_fen(-open_delta)} reduces its open amount first"
                + (f", {_fen(rest)} beyond it" if rest else ""))
    elif rule == "return_of_written_off":
        note = (f"{what or 'return'}: {_fen(amount)} cancels written-off amount of sale {sale}; "
                "the open amount does not change")
    elif rule == "payment_allocation":
        note = f"{what or 'payment'} allocated to sale {sale}: {_fen(-open_delta)} settled"
    elif rule == "fifo_settlement":
        note = (f"{what or 'payment'} settles the oldest open items first (due date, then sale "
                f"id): {_fen(-open_delta)} of sale {sale}, due {r['due_on']}")
    elif rule == "recovery":
        note = (f"{what or 'payment'} recovers {_fen(amount)} written off on sale {sale}; a "
                "recovery never reopens the receivable")
    elif rule == "write_off":
        note = f"{what or 'write-off'}: {_fen(amount)} of sale {sale} removed from open receivables"
    else:
        note = f"{what or rule} on sale {sale}: open {'+' if open_delta >= 0 else ''}{_fen(open_delta)}"
    if r["business_date"] != (entry or {}).get("business_date") and rule != "sale":
        note += f" (counts from {r['business_date']})"
    steps.add(int(r["position"]), rule, open_delta, note, sale_id=sale, kind=kind,
              business_date=r["business_date"], fact_amount=amount,
              written_off_delta=unrecovered, **refs)


# --- budget -------------------------------------------------------------------------------


def explain_budget(projector: Projector, budget_id: str) -> dict[str, Any]:
    """``replay explain budget --budget B``: the budget's events in log order, replayed
    with the budget projection's rules, down to its ``remaining`` (module docstring)."""
    p = _required(projector, BudgetsProjection)
    audit = _required(projector, AuditProjection)
    with projector.transaction(commit=False) as sql:
        row = sql.one(f"SELECT * FROM {p.t('budgets')} WHERE budget_id = ?", (budget_id,))
        if row is None:
            raise unknown("budget", budget_id, "budget")
        expenses = sql.all(f"SELECT * FROM {p.t('expenses')} WHERE budget_id = ? "
                           "ORDER BY position", (budget_id,))
        value = _budget_figures(row, expenses)["remaining"]  # the query's own figure
        mine = {x["expense_id"] for x in expenses}
        entries = sql.all(
            f"SELECT e.position, e.event, e.details FROM {audit.t('entries')} e "
            f"JOIN {audit.t('entities')} x ON x.position = e.position "
            "WHERE x.entity_id = ? AND e.event LIKE ? ORDER BY e.position", (budget_id, "Budget.%"),
        )
        steps = _Steps()
        state: dict[str, dict[str, Any]] = {}
        for entry in entries:
            _budget_step(steps, budget_id, mine, state, int(entry["position"]), entry["event"],
                         from_json(entry["details"]) or {})
        document = {"figure": "remaining", "value": value, "budget_id": budget_id,
                    "steps": steps.finish(sql, projector, value)}
    return document


def _budget_step(steps: _Steps, budget_id: str, mine: set[str], state: dict[str, dict[str, Any]],
                 position: int, event: str, d: dict[str, Any]) -> None:
    expense = d.get("expense_id")
    if expense is not None and expense not in mine:
        return  # another budget's expense indexed under the same id
    x = state.setdefault(str(expense), {"status": "submitted", "approved": 0, "spent": 0})
    name = event.removeprefix("Budget.")
    if name == "Allocated":
        if d.get("budget_id") == budget_id:
            steps.add(position, "allocation", int(d["amount"]),
                      f"allocated {_fen(d['amount'])} to {d.get('department')} / "
                      f"{d.get('category')} / {d.get('period')}, approved by "
                      f"{d.get('approved_by')}", approved_by=d.get("approved_by"))
    elif name == "Adjusted":
        steps.add(position, "adjustment", int(d["delta"]),
                  f"adjusted {'+' if int(d['delta']) >= 0 else ''}{_fen(d['delta'])}: "
                  f"{d.get('reason')}, approved by {d.get('approved_by')}",
                  approved_by=d.get("approved_by"), reason=d.get("reason"))
    elif name == "ExpenseApproved":
        x["status"], x["approved"] = "approved", int(d["amount"])
        steps.add(position, "commitment", -x["approved"],
                  f"expense {expense} approved by {d.get('approved_by')}: {_fen(x['approved'])} "
                  "committed", expense_id=expense, approved_by=d.get("approved_by"))
    elif name == "ExpenseRejected":
        if x["status"] == "approved":
            steps.add(position, "commitment_released", x["approved"],
                      f"expense {expense} withdrawn after approval ({d.get('reason')}): its "
                      f"commitment of {_fen(x['approved'])} released", expense_id=expense,
                      reason=d.get("reason"))
        x["status"] = "rejected"
    elif name == "ExpenseSpent":
        if x["status"] == "approved":
            steps.add(position, "commitment_released", x["approved"],
                      f"expense {expense} spent: its commitment of {_fen(x['approved'])} "
                      "released", expense_id=expense)
        x["status"], x["spent"] = "spent", int(d["amount"])
        steps.add(position, "spend", -x["spent"],
                  f"expense {expense} spent {_fen(x['spent'])} (invoice {d.get('invoice_no')}, "
                  f"paid {d.get('paid_on')}; approved {_fen(x['approved'])})",
                  expense_id=expense, invoice_no=d.get("invoice_no"), paid_on=d.get("paid_on"))
    elif name == "SpendReversed":
        if x["status"] == "spent":
            steps.add(position, "spend_reversed", x["spent"],
                      f"spend of expense {expense} reversed: {_fen(x['spent'])} no longer spent",
                      expense_id=expense, reversal_id=d.get("reversal_id"))
        x["status"], x["spent"] = "approved", 0
        steps.add(position, "commitment_restored", -x["approved"],
                  f"expense {expense} approved again: its commitment of {_fen(x['approved'])} "
                  "back", expense_id=expense, reversal_id=d.get("reversal_id"))


__all__ = ["UNEXPLAINED", "explain_budget", "explain_commission", "explain_receivable"]
