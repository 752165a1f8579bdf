"""What-if under another commission plan (SPEC 4, 5.3 ``replay what-if --plan VERSION|FILE``),
and closed months recomputed in every what-if.

``--plan`` names an adopted plan version (``ledger query policies`` lists them; ``2014-cn-1``
is the default plan) or a JSON file in the shape ``AdoptCommissionPlan`` takes: the
command body (``plan_version`` and ``plan``) or the plan tables alone (their ``version``,
else the file's name). The plan is checked as the command checks it (``load_plan``).

In the sandbox the plan governs every month: the log's own plan adoptions are left out of
the sandbox and the plan is put in the sandbox's commission policies from the beginning of
time. Months not yet closed are computed from their facts under it (as the commission
query always does). A closed month answers what its close accrued (``Rep.CommissionAccrued``),
so each accrual is recomputed, in the sandbox only, as that close would have computed it
under the plan: the sandbox is caught up to the position the close read (the accrual's
``as_of_position``), its projections hold exactly the facts the close read, and the
commission rules the close uses (``MonthFacts.statement_input`` and ``compute_statement``)
give the accrual's figures and lines under the plan. Later closes see those recomputed
months as booked (late adjustments, clawback rates, carried totals follow from them).

The same recomputation of closed months serves ``--exclude`` and ``--amend`` (under the
log's own plans): a fact left out or amended in a closed month changes what that month's
close would have accrued, not only the months still open. An accrual the caller amended
is kept as amended.

Left as the log recorded them: promotions a close decided (``Rep.RankChanged``): a plan with
another promotion table changes figures of later months only through the ranks the log
holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from eventsourcing.utils import get_topic

from ledger.domain.commission_plan import compute_statement, load_plan, rows_met, statement_to_json
from ledger.domain.model import PolicyBook, Rep
from ledger.domain.plan_schema import PLAN_2014_CN_1, PlanError
from ledger.domain.policies import PLAN_POLICY
from ledger.projections.common import from_json, to_json
from ledger.projections.engine import Projector, Transform

BEGINNING = "0001-01-01"
PAGE = 2000


class PlanWhatIfError(ValueError):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def resolve_plan(live: Projector, text: str) -> dict[str, Any]:
    """The plan's values (with its ``version``) that ``--plan VERSION|FILE`` names."""
    path = Path(text)
    if path.suffix.lower() == ".json" or path.is_file():
        try:
            body = msgspec.json.decode(path.read_bytes())
        except OSError as e:
            raise PlanWhatIfError("invalid_field", f"--plan: cannot read {text}: {e.strerror}") from None
        except msgspec.DecodeError as e:
            raise PlanWhatIfError("invalid_field", f"--plan: {text} is not JSON: {e}") from None
        if not isinstance(body, dict):
            raise PlanWhatIfError("invalid_field", f"--plan: {text} holds no JSON object")
        values = dict(body["plan"]) if isinstance(body.get("plan"), dict) else dict(body)
        version = body.get("plan_version") or values.get("version") or path.stem
        if values.setdefault("version", version) != version:
            raise PlanWhatIfError("invalid_field", f"--plan: plan.version {values['version']!r} "
                                  f"differs from plan_version {version!r}")
    else:
        values = _adopted(live, text)
    try:
        load_plan(values)
    except PlanError as e:
        raise PlanWhatIfError("invalid_field", f"--plan: {e}") from None
    return values


def _adopted(live: Projector, version: str) -> dict[str, Any]:
    from ledger.projections.commissions import CommissionsProjection

    p = next(x for x in live.projections if isinstance(x, CommissionsProjection))
    live.catch_up()
    with live.transaction(commit=False) as sql:
        row = sql.one(f"SELECT policy_values FROM {p.t('policies')} WHERE policy = ? AND "
                      "version = ? ORDER BY position DESC", (PLAN_POLICY, version))
        known = [r["version"] for r in sql.all(
            f"SELECT version FROM {p.t('policies')} WHERE policy = ? ORDER BY position",
            (PLAN_POLICY,))]
    if row is not None:
        return dict(from_json(row["policy_values"]))
    if version == PLAN_2014_CN_1["version"]:
        return dict(PLAN_2014_CN_1)
    raise PlanWhatIfError("unknown_reference", f"--plan: no plan version {version!r} was adopted "
                          f"(known: {', '.join([PLAN_2014_CN_1['version'], *known])}) and no "
                          "such file")


class PlanReplay:
    """The sandbox's ``transform`` (wrapping the what-if's own) and ``prepare`` step."""

    def __init__(self, live: Projector, values: dict[str, Any] | None, inner: Transform | None,
                 keep: frozenset[int] = frozenset()) -> None:
        self.source = live.source
        self.values = values
        self.plan = load_plan(values) if values is not None else None  # None: the log's plans
        self.inner = inner
        self.keep = keep  # accruals the caller amended: left as amended
        self.projector: Projector | None = None
        self.recomputed = 0

    def transform(self, position: int, event: Any) -> Any | None:
        if self.inner is not None:
            event = self.inner(position, event)
            if event is None:
                return None
        if (self.plan is not None and isinstance(event, PolicyBook.PolicyAdopted)
                and event.policy == PLAN_POLICY):
            return None  # only the what-if's plan governs the sandbox
        if isinstance(event, Rep.CommissionAccrued) and position not in self.keep:
            return self._recomputed(event)
        return event

    def prepare(self, projector: Projector, end: int) -> None:
        """Adopt the plan in the sandbox, then catch up close by close (module docstring)."""
        from ledger.projections.commissions import CommissionsProjection

        self.projector = projector
        p = next(x for x in projector.projections if isinstance(x, CommissionsProjection))
        if self.plan is not None and self.values is not None:
            with projector.transaction() as sql:
                sql.execute(f"INSERT INTO {p.t('policies')} (position, policy, version, "
                            "effective_from, policy_values) VALUES (?, ?, ?, ?, ?)",
                            (0, PLAN_POLICY, self.plan.version, BEGINNING, to_json(self.values)))
        for read_to, last in self._closes(end):
            projector.catch_up(batch_size=PAGE, stop=read_to)
            # the close's own events in one page: each accrual sees what the close read
            projector.catch_up(batch_size=max(last - read_to, 1), stop=last)

    def _closes(self, end: int) -> list[tuple[int, int]]:
        """(the position a close read to, its last accrual's position), in log order."""
        found: dict[int, int] = {}
        start = 0
        while True:
            events = self.source.read(start, end, PAGE, [get_topic(Rep.CommissionAccrued)])
            for position, e in events:
                found[e.as_of_position] = max(found.get(e.as_of_position, 0), position)
            if len(events) < PAGE:
                return sorted(found.items())
            start = events[-1][0]

    def _recomputed(self, e: Any) -> Any:
        from ledger.projections.commissions import CommissionsProjection, _load

        projector = self.projector
        if projector is None:  # pragma: no cover - prepare runs before any event
            raise RuntimeError("the plan what-if's sandbox was not prepared")
        p = next(x for x in projector.projections if isinstance(x, CommissionsProjection))
        with projector.transaction(commit=False) as sql:
            rep_id = sql.scalar(f"SELECT rep_id FROM {p.t('reps')} WHERE rep_key = ?",
                                (str(e.originator_id),))
            if rep_id is None:
                return e
            months = _load(sql, p, [rep_id]).months
            inp = months.statement_input(rep_id, e.period)
        plan = self.plan or months.plan(e.period)
        st = compute_statement(plan, inp)
        body = statement_to_json(st)
        order = [r.rank for r in plan.promotion]
        self.recomputed += 1
        return dataclasses.replace(
            e, plan_version=st.plan_version, rank=st.rank, personal_sales=st.personal_sales,
            morning_star_sales=st.morning_star_sales, rate=body["rate"], commission=st.commission,
            morning_star_bonus=st.morning_star_bonus, opening_star_bonus=st.opening_star_bonus,
            override=st.override, clawback=st.clawback, fines=st.fines,
            adjustments=st.adjustments, carried=st.carried, total=st.total,
            payable_on=body["payable_on"], override_payable_on=body["override_payable_on"],
            lines=body["lines"],
            trainees=[{"rep_id": r, "personal_sales": a} for r, a in inp.trainees],
            rows_met=sorted(rows_met(plan, st.personal_sales, inp.trainees),
                            key=lambda rank: order.index(rank) if rank in order else len(order)))


def plan_replay(live: Projector, values: dict[str, Any] | None, inner: Transform | None,
                keep: frozenset[int] = frozenset()
                ) -> tuple[Transform, Callable[[Projector, int], None], PlanReplay]:
    replay = PlanReplay(live, values, inner, keep)
    return replay.transform, replay.prepare, replay
