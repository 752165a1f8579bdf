"""Credit control (SPEC 2.1).

A sale whose exposure would pass the customer's credit limit, or a sale to a customer
that is at risk or has doubtful balances, is rejected as ``credit_limit`` unless it
carries a credit override (``credit_approved_by``) from a finance or director user.
Exposure = all open receivables the log holds when the sale is recorded + this sale -
the customer's credit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ledger.domain.errors import Rejection

# a customer's terms from a date on: (effective_on, credit_limit, payment_terms_days)
Terms = tuple[date, int, int]


def terms_in_force(history: Iterable[Terms], day: date) -> tuple[int, int]:
    """(credit_limit, payment_terms_days) in force on ``day`` (SPEC 2.1): of the terms
    effective on or before ``day``, the latest; among terms with the same effective date,
    the last set. ``history`` starts with the registration's terms, in force from the
    beginning (and on any day before every later entry)."""
    entries = list(history)
    chosen = entries[0]
    for entry in entries:
        if entry[0] <= day and entry[0] >= chosen[0]:
            chosen = entry
    return chosen[1], chosen[2]


@dataclass(frozen=True)
class CreditCheck:
    limit: int
    exposure: int
    at_risk: bool
    doubtful: int  # open amount classed doubtful on the sale date

    @property
    def shortfall(self) -> int:
        return max(0, self.exposure - self.limit)

    @property
    def needs_override(self) -> bool:
        return self.exposure > self.limit or self.at_risk or self.doubtful > 0


def credit_check(limit: int, open_total: int, sale_gross: int, customer_credit: int,
                 at_risk: bool, doubtful: int) -> CreditCheck:
    return CreditCheck(
        limit=limit, exposure=open_total + sale_gross - customer_credit, at_risk=at_risk,
        doubtful=doubtful,
    )


def enforce_credit(check: CreditCheck, override_by: str | None, customer_id: str) -> bool:
    """Raise ``credit_limit`` when the sale needs an override it does not carry.
    Returns True when an override was needed and used."""
    if not check.needs_override:
        return False
    if override_by:
        return True
    reasons = []
    if check.exposure > check.limit:
        reasons.append(
            f"exposure {check.exposure} exceeds limit {check.limit} by {check.shortfall} fen"
        )
    if check.at_risk:
        reasons.append("customer is flagged at risk")
    if check.doubtful:
        reasons.append(f"customer has {check.doubtful} fen of doubtful balances")
    raise Rejection(
        "credit_limit",
        f"customer {customer_id!r}: " + "; ".join(reasons) + " (needs credit_approved_by)",
        customer_id=customer_id, limit=check.limit, exposure=check.exposure,
        shortfall=check.shortfall, at_risk=check.at_risk, doubtful=check.doubtful,
    )
