"""Credit control (SPEC 2.1).

A sale whose exposure would pass the customer's credit limit, or a sale to a customer
that is at risk or has doubtful balances, is rejected as ``credit_limit`` unless it
carries a credit override (``credit_approved_by``) from a finance or director user.
Exposure = all open receivables the log holds when the sale is recorded + this sale -
the customer's credit.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.domain.errors import Rejection


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
