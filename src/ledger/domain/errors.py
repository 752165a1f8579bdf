"""Rule violations (SPEC 5.2): every rejection names its rule and the numbers involved."""

from __future__ import annotations

from typing import Any

# The rules, in the order in which they answer when several are broken (SPEC 5.2).
RULE_ORDER = (
    "invalid_field",
    "unknown_reference",
    "duplicate_id",
    "not_authorized",
    "segregation_of_duties",
    "invalid_state",
    "period_closed",
    "price_approval",
    "credit_limit",
    "overpayment_allocation",
    "exceeds_open_amount",
    "late_activity_filing",
    "spend_over_approval",
    "budget_exceeded",
)
RULES = frozenset(RULE_ORDER) | {"version_conflict"}


class Rejection(Exception):
    """A command broke a rule. Nothing it would have done is stored."""

    def __init__(self, rule: str, message: str, **details: Any) -> None:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}: SPEC 5.2 names {', '.join(RULES)}")
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
        self.details = details


def invalid(field: str, message: str, **details: Any) -> Rejection:
    return Rejection("invalid_field", f"{field}: {message}", field=field, **details)


def unknown(kind: str, ref: str, field: str | None = None) -> Rejection:
    return Rejection(
        "unknown_reference", f"unknown {kind} {ref!r}", kind=kind, ref=ref, field=field or kind
    )


def duplicate(kind: str, ref: str) -> Rejection:
    return Rejection("duplicate_id", f"{kind} {ref!r} already exists", kind=kind, ref=ref)
