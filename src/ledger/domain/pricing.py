"""Price policy and tax-inclusive lines (SPEC 2.1 Price policy, SPEC 2.2 Sales).

A line below the list price in force on the sale date needs a prior approval recorded on
the sale: up to ``manager_max_discount`` below list by a manager (a director serves too),
more by a director. The discount is (list - unit price) / list per line; the largest line
discount decides. Unit prices are gross (tax included); a line's VAT is
round(gross x rate / (1 + rate)).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ledger.domain.errors import Rejection
from ledger.domain.money import exact, format_rate


@dataclass(frozen=True)
class PricedLine:
    sku: str
    quantity: int
    unit_price: int
    tax_rate: str
    list_price: int
    gross: int
    vat: int

    @property
    def discount(self) -> Fraction:
        if self.list_price <= 0 or self.unit_price >= self.list_price:
            return Fraction(0)
        return Fraction(self.list_price - self.unit_price, self.list_price)

    def as_event(self) -> dict[str, Any]:
        return {
            "sku": self.sku, "quantity": self.quantity, "unit_price": self.unit_price,
            "tax_rate": self.tax_rate, "list_price": self.list_price, "gross": self.gross,
            "vat": self.vat, "discount": format_rate(self.discount),
        }


def price_line(sku: str, quantity: int, unit_price: int, tax_rate: str, list_price: int) -> PricedLine:
    gross = quantity * unit_price
    return PricedLine(
        sku=sku, quantity=quantity, unit_price=unit_price, tax_rate=tax_rate,
        list_price=list_price, gross=gross, vat=line_vat(gross, tax_rate),
    )


def line_vat(gross: int, tax_rate: str) -> int:
    """round(gross x rate / (1 + rate)), half away from zero: ``round_fen(vat_of_gross(
    gross, tax_rate))`` in integers. With rate = n/d (lowest terms) the VAT is gross x n /
    (d + n), and rounding a quotient does not depend on its reduction."""
    n, d = _rate_terms(tax_rate)
    whole, rem = divmod(abs(gross) * n, d + n)
    if rem * 2 >= d + n:
        whole += 1
    return -whole if gross < 0 else whole


@lru_cache(maxsize=1024)
def _rate_terms(tax_rate: str) -> tuple[int, int]:
    """A non-negative rate's decimal text as (numerator, denominator), lowest terms."""
    rate = exact(tax_rate)
    if rate < 0:  # pragma: no cover - a sale's rates are checked in [0, 1) first
        raise ValueError(f"negative rate {tax_rate!r}")
    return rate.numerator, rate.denominator


def largest_discount(lines: list[PricedLine]) -> tuple[Fraction, PricedLine | None]:
    worst: PricedLine | None = None
    for line in lines:
        if worst is None or line.discount > worst.discount:
            worst = line
    return (worst.discount if worst else Fraction(0)), worst


def check_price_approval(
    lines: list[PricedLine], approver: str | None, approver_roles: frozenset[str],
    policy: dict[str, Any], policy_version: str, approvals: dict[str, list[str]],
) -> str | None:
    """Raise ``price_approval`` unless the sale carries the approval its largest discount
    needs. Returns the role tier that was needed (``"manager"``/``"director"``) or None.
    The roles of each tier are the ``approvals`` policy's."""
    discount, line = largest_discount(lines)
    if discount <= 0 or line is None:
        return None
    manager_max = exact(policy["manager_max_discount"])
    if discount <= manager_max:
        needed, roles = "manager", frozenset(approvals["price_within_manager_limit"])
    else:
        needed, roles = "director", frozenset(approvals["price_above_manager_limit"])
    details = {
        "sku": line.sku, "list_price": line.list_price, "unit_price": line.unit_price,
        "discount": format_rate(discount), "manager_max_discount": format_rate(manager_max),
        "required": needed, "policy_version": policy_version,
    }
    if approver is None:
        raise Rejection(
            "price_approval",
            f"line {line.sku!r} is {format_rate(discount)} below list "
            f"({line.unit_price} < {line.list_price} fen) and needs a {needed}'s approval",
            **details,
        )
    if not approver_roles & roles:
        raise Rejection(
            "price_approval",
            f"price_approved_by {approver!r} (roles {sorted(approver_roles)}) cannot approve "
            f"a discount of {format_rate(discount)}; it needs a {needed}",
            approver=approver, **details,
        )
    return needed
