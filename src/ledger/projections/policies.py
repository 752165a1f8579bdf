"""Every policy in force, for auditors and for adopting a new version (SPEC 1 Policy
versions; SPEC 5.3 ``policies``).

One table (``policies_policies_g<n>``): each ``PolicyAdopted`` event, the commission plan's
included (policy ``commission_plan``). The answer prints each policy's values exactly as
``AdoptPolicy`` takes them and the plan exactly as ``AdoptCommissionPlan`` takes it, so an
auditor's copy, edited, is the next version's command.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

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
from ledger.domain.policies import BEGINNING, PLAN_POLICY, POLICY_NAMES
from ledger.projections.common import (
    POLICY_TABLE,
    Dispatching,
    parse_as_of,
    policy_in_force,
    record_policy,
    today,
)
from ledger.projections.engine import Projector, Sql
from ledger.projections.receivables import projection_of


class PoliciesProjection(Dispatching):
    name = "policies"
    handlers: ClassVar[dict[type, str]] = {PolicyBook.PolicyAdopted: "_policy"}
    # stored events it does not read (tests/projections/test_event_coverage.py)
    ignores: ClassVar[frozenset[type]] = frozenset({
        ApprovalGrants.Opened, ApprovalGrants.Granted, ApprovalGrants.Used,
        Budget.Allocated, Budget.Adjusted, Budget.ExpenseSubmitted, Budget.ExpenseApproved,
        Budget.ExpenseRejected, Budget.ExpenseSpent, Budget.SpendReversed, Claim.Claimed,
        Closings.Opened, Closings.MonthClosed, CommandRecord.Recorded,
        CommandRecord.RecordedFor, Customer.Registered, Customer.CreditTermsSet,
        Customer.AtRiskFlagged, Customer.SaleRecorded, Customer.ReturnRecorded,
        Customer.PaymentRecorded, Customer.PaymentReversed, Customer.ReceivableWrittenOff,
        Dispute.Opened, Dispute.Resolved, PolicyBook.Opened, Rep.Registered,
        Rep.RankChanged, Rep.Fined, Rep.CommissionAccrued, Rep.CommissionPaid,
        Rep.FineReversed, Rep.PayoutReversed, Sku.Opened, Sku.ListPriceSet,
        User.Registered,
    })
    tables: ClassVar[dict[str, str]] = {**POLICY_TABLE}

    def _policy(self, sql: Sql, position: int, e: Any) -> None:
        record_policy(sql, self.t("policies"), position, e)


def _effective(day: date) -> str | None:
    """A default is in force from the beginning: no date."""
    return None if day == BEGINNING else day.isoformat()


def query_policies(projector: Projector, as_of: date | str | None = None) -> dict[str, Any]:
    """``ledger query policies [--as-of D]`` (default: today): the version of every policy
    in force on D, ``{as_of, policies: {name: {version, effective_from, values}}, plan:
    {version, effective_from, plan}}``. ``values`` is what ``AdoptPolicy`` takes and
    ``plan`` what ``AdoptCommissionPlan`` takes; a default version (``default``, plan
    ``2014-cn-1``) has ``effective_from`` null: it holds from the beginning."""
    day = parse_as_of(as_of) or today(projector)
    p = projection_of(projector, PoliciesProjection)
    table = p.t("policies")
    with projector.transaction(commit=False) as sql:
        policies = {}
        for name in POLICY_NAMES:
            pv = policy_in_force(sql, table, name, day)
            policies[name] = {"version": pv.version, "effective_from": _effective(pv.effective_from),
                              "values": pv.values}
        plan = policy_in_force(sql, table, PLAN_POLICY, day)
    return {"as_of": day.isoformat(), "policies": policies,
            "plan": {"version": plan.version, "effective_from": _effective(plan.effective_from),
                     "plan": plan.values}}
