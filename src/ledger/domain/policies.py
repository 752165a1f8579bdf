"""Versioned policy tables (SPEC 1, Policy versions).

Every rule table is data with a version id and an effective date, changed only by an
event (``AdoptPolicy``, ``AdoptCommissionPlan``). A decision uses the version in force on
its business date; a month's commissions use the plan in force on the month's 1st.

The defaults below are the SPEC's **(default)** figures. They are in force from the
beginning of time under version ``"default"`` (the commission plan under ``"2014-cn-1"``)
until a later version is adopted. ``AdoptPolicy`` takes the whole values object of a
policy; every key of the default must be present with a value of the same kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from ledger.domain.authority import ROLES
from ledger.domain.errors import Rejection, duplicate, invalid
from ledger.domain.ids import aggregate_id
from ledger.domain.money import parse_rate

DEFAULT_VERSION = "default"
BEGINNING = date(1, 1, 1)

BUDGET_CATEGORIES = (
    "market_research",  # 市场调研
    "advertising",  # 广告宣传
    "promotion",  # 促销活动
    "channel_building",  # 渠道建设
    "personnel",  # 人员薪酬
    "hospitality",  # 招待
    "office",  # 办公
    "large_assets",  # 大宗资产
    "communications",  # 通讯
)

DEFAULT_POLICIES: dict[str, dict[str, Any]] = {
    # SPEC 2.1: up to 10% below list by a manager, more by a director; 13% VAT (2.2).
    "price_approval": {"manager_max_discount": "0.1", "default_tax_rate": "0.13"},
    # SPEC 2.3: 1-90 days past due is in collection, more is doubtful; at risk => doubtful;
    # aging buckets by days past due; DSO over the 90 days up to the report date (SPEC 3).
    "aging": {
        "in_collection_max_days": 90,
        "at_risk_is_doubtful": True,
        "bucket_limits": [30, 60, 90, 180, 365],
        "dso_window_days": 90,
    },
    # SPEC 2.4: 10% spend tolerance, activities filed 30 days ahead, the categories.
    "budget": {
        "spend_tolerance": "0.1",
        "activity_notice_days": 30,
        "categories": list(BUDGET_CATEGORIES),
    },
    # SPEC 2.1 / 2.2: payment terms 30 days.
    "credit": {"payment_terms_days": 30},
    # SPEC 2.6 / 1: reported more than 4 hours after occurring is late; an occurred_at
    # more than 5 minutes after the recorded time is invalid.
    "reporting": {"late_after_hours": 4, "future_tolerance_minutes": 5},
    # The roles that may approve each decision (SPEC 5.2 table; the approvers of returns,
    # fines, write-offs and budgets, a director standing in for a manager, and the late
    # activity and price tiers are the SPEC's defaults).
    "approvals": {
        "list_price": ["director"],
        "credit_terms": ["finance", "director"],
        "credit_override": ["finance", "director"],
        "price_within_manager_limit": ["manager", "director"],
        "price_above_manager_limit": ["director"],
        "return": ["manager", "director"],
        "write_off": ["director"],
        "budget": ["director"],
        "fine": ["manager", "director"],
        "late_activity": ["director"],
        # SPEC 2.7: reversing a payment, an expense spend or a payout needs a director,
        # a fine a manager (a director standing in)
        "reversal_payment": ["director"],
        "reversal_spend": ["director"],
        "reversal_payout": ["director"],
        "reversal_fine": ["manager", "director"],
        # SPEC 2.4: an expense is approved by a manager (a director serves too) and rejected
        # by a manager, a director or finance; SPEC 2.5: a manual rank change by a director
        "expense": ["manager", "director"],
        "expense_rejection": ["manager", "director", "finance"],
        "rank_change": ["director"],
        # SPEC 1 Approvals: ``attested`` (the recording actor names the approver) or
        # ``granted`` (every approver named must have granted it with GrantApproval)
        "mode": "attested",
    },
    # SPEC 2.5: a closed month's negative commission total carries into the next month's
    # statement until absorbed (false: it stays on its month, payable as 0).
    "commission": {"carry_negative": True},
    # SPEC 1: the ledger keeps one currency; a money command may name it, any other is
    # invalid_field. ``code`` is an ISO 4217 code (three capital letters).
    "currency": {"code": "CNY"},
}

# SPEC 1: a policy's whole numbers are days, hours or minutes; 100 years of days at most.
MAX_POLICY_INT = 36_500

POLICY_NAMES = tuple(DEFAULT_POLICIES)

# Values that are one of a few words, not a rate: (policy, key) -> the words.
POLICY_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("approvals", "mode"): ("attested", "granted"),
}
APPROVAL_MODES = POLICY_CHOICES[("approvals", "mode")]


def approvals_mode(values: dict[str, Any]) -> str:
    """The ``approvals`` policy's mode; a version adopted before ``mode`` existed is
    ``attested`` (SPEC 1 Approvals)."""
    return str(values.get("mode", "attested"))
PLAN_POLICY = "commission_plan"
COMMISSION_POLICY = "commission"


def carry_negative(version: PolicyVersion) -> tuple[str, bool]:
    """A ``commission`` policy version as ``MonthFacts`` takes it: (version, carry_negative)."""
    return version.version, bool(version.values["carry_negative"])


@dataclass(frozen=True)
class PolicyVersion:
    policy: str
    version: str
    effective_from: date
    values: dict[str, Any]


def validate_policy_values(policy: str, values: Any) -> dict[str, Any]:
    """Check a values object against the shape of the policy's defaults."""
    if policy not in DEFAULT_POLICIES:
        raise invalid("policy", f"unknown policy {policy!r}", allowed=list(POLICY_NAMES))
    if not isinstance(values, dict):
        raise invalid("values", "must be a JSON object")
    default = DEFAULT_POLICIES[policy]
    missing = sorted(set(default) - set(values))
    extra = sorted(set(values) - set(default))
    if missing or extra:
        raise invalid("values", f"keys differ from policy {policy!r}", missing=missing, extra=extra)
    for key, dv in default.items():
        v = values[key]
        where = f"values.{key}"
        choices = POLICY_CHOICES.get((policy, key))
        if choices is not None:
            if v not in choices:
                raise invalid(where, f"must be one of {list(choices)}", value=v,
                              allowed=list(choices))
        elif isinstance(dv, bool):
            if not isinstance(v, bool):
                raise invalid(where, "must be true or false")
        elif isinstance(dv, int):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_POLICY_INT:
                raise invalid(where, f"must be a whole number in 0..{MAX_POLICY_INT}", value=v)
        elif policy == "currency":
            if not isinstance(v, str) or not re.fullmatch(r"[A-Z]{3}", v):
                raise invalid(where, "must be an ISO 4217 code of three capital letters",
                              value=v if isinstance(v, str) else None)
        elif isinstance(dv, str):
            try:
                rate = parse_rate(v)
            except ValueError as e:
                raise invalid(where, str(e)) from None
            if not (0 <= rate < 1):
                raise invalid(where, "must be a fraction in [0, 1)", value=v)
        elif isinstance(dv, list):
            if not isinstance(v, list) or not v:
                raise invalid(where, "must be a non-empty list")
            if all(isinstance(x, int) for x in dv):
                if any(isinstance(x, bool) or not isinstance(x, int) or not 0 < x <= MAX_POLICY_INT
                       for x in v) or (
                    v != sorted(set(v))
                ):
                    raise invalid(where, "must be increasing whole numbers > 0", value=v)
            elif any(not isinstance(x, str) or not x for x in v):
                raise invalid(where, "must be a list of names", value=v)
            elif policy == "approvals" and set(v) - set(ROLES):
                raise invalid(where, f"unknown roles {sorted(set(v) - set(ROLES))}",
                              allowed=list(ROLES))
    return dict(values)


class PolicyBook(Aggregate):
    """Every adopted policy and commission plan version, with its effective date."""

    TOPIC = "ledger:PolicyBook"
    KIND = "policy_book"
    SINGLETON = "ledger"

    class Created(Aggregate.Created):
        TOPIC = "ledger:PolicyBook.Created"

    @staticmethod
    def create_id() -> Any:
        return aggregate_id(PolicyBook.KIND, PolicyBook.SINGLETON)

    class Opened(Aggregate.Created):
        TOPIC = "ledger:PolicyBook.Opened"

    @event(Opened)
    def __init__(self) -> None:
        self.versions: dict[str, list[PolicyVersion]] = {}

    # --- reading -------------------------------------------------------------------

    def in_force(self, policy: str, day: date) -> PolicyVersion:
        """The version of ``policy`` in force on ``day`` (``version_in_force``)."""
        return version_in_force(policy, self.versions.get(policy, ()), day)

    def has_version(self, policy: str, version: str) -> bool:
        if version == default_version(policy).version:
            return True
        return any(pv.version == version for pv in self.versions.get(policy, ()))

    # --- deciding ------------------------------------------------------------------

    def adopt(self, policy: str, version: str, effective_from: date, values: dict[str, Any],
              meta: dict[str, Any]) -> None:
        if self.has_version(policy, version):
            raise duplicate(f"{policy} version", version)
        self._adopted(
            policy=policy, version=version, effective_from=effective_from.isoformat(),
            values=values, meta=meta,
        )

    class PolicyAdopted(Aggregate.Event):
        TOPIC = "ledger:PolicyBook.PolicyAdopted"
        policy: str
        version: str
        effective_from: str
        values: dict[str, Any]
        meta: dict[str, Any]

    @event(PolicyAdopted)
    def _adopted(self, policy: str, version: str, effective_from: str, values: dict[str, Any],
                 meta: dict[str, Any]) -> None:
        pv = PolicyVersion(policy, version, date.fromisoformat(effective_from), values)
        self.versions.setdefault(policy, []).append(pv)


def version_in_force(policy: str, adopted: Iterable[PolicyVersion], day: date) -> PolicyVersion:
    """The version of ``policy`` in force on ``day`` (SPEC 1 Policy versions): of the
    versions adopted (in log order) effective on or before ``day``, the latest; among
    versions with the same effective date, the last adopted; the default version when
    none is."""
    chosen = default_version(policy)
    for pv in adopted:
        if pv.effective_from <= day and pv.effective_from >= chosen.effective_from:
            chosen = pv
    return chosen


def default_version(policy: str) -> PolicyVersion:
    if policy == PLAN_POLICY:
        from ledger.domain.commission_plan import PLAN_2014_CN_1

        return PolicyVersion(PLAN_POLICY, PLAN_2014_CN_1["version"], BEGINNING, PLAN_2014_CN_1)
    if policy not in DEFAULT_POLICIES:
        raise Rejection("invalid_field", f"unknown policy {policy!r}", field="policy")
    return PolicyVersion(policy, DEFAULT_VERSION, BEGINNING, DEFAULT_POLICIES[policy])
