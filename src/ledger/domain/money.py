"""Money and rates (SPEC 1, Conventions).

Money is an integer number of fen (1 yuan = 100 fen). Never a float. A computed
amount is rounded to the fen once, at the end of its formula, half away from zero;
intermediate values stay exact (``Fraction``). Rates are ``Decimal`` values written as
decimal strings of the fraction in shortest form (``"0.13"``, ``"0.2"``, ``"0"``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

Fen = int
Exact = Fraction | int | Decimal

YUAN = 100  # fen in a yuan


def exact(value: Exact | str) -> Fraction:
    """An exact rational from an int, Decimal, Fraction or decimal string."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):  # bool is an int: refuse it, it is always a bug
        raise TypeError("bool is not a number")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Decimal):
        return Fraction(value)
    if isinstance(value, str):
        return Fraction(parse_rate(value))
    raise TypeError(f"not an exact number: {value!r}")


def round_fen(value: Exact) -> Fen:
    """Round an exact amount of fen to an integer, half away from zero.

    >>> round_fen(Fraction(1, 2)), round_fen(Fraction(-1, 2)), round_fen(Fraction(5, 3))
    (1, -1, 2)
    """
    q = exact(value)
    sign = -1 if q < 0 else 1
    mag = abs(q)
    whole, rem = divmod(mag.numerator, mag.denominator)
    if rem * 2 >= mag.denominator:
        whole += 1
    return sign * whole


def parse_rate(text: str) -> Decimal:
    """Parse a decimal-string rate (``"0.13"``). Raises ``ValueError`` on anything else."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"rate must be a decimal string, got {text!r}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"rate must be a decimal string, got {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"rate must be finite, got {text!r}")
    # SPEC 1: input that must never get in. A rate is a short decimal: "1e999999" would
    # make exact arithmetic on it unbounded.
    if len(text) > 32 or value.as_tuple().exponent < -24 or value.adjusted() > 12:  # type: ignore[operator]
        raise ValueError(f"rate must be a decimal of at most 12 digits before and 24 after "
                         f"the point, got {text[:40]!r}")
    return value


def format_rate(value: Exact) -> str:
    """A rate in shortest decimal form: 0.13 -> "0.13", 0.20 -> "0.2", 0 -> "0".

    Works for any value with a terminating decimal expansion (all our rates).
    """
    q = exact(value)
    if q == 0:
        return "0"
    d = Decimal(q.numerator) / Decimal(q.denominator)
    text = format(d.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def vat_of_gross(gross: Exact, rate: Exact) -> Fraction:
    """The VAT contained in a tax-inclusive amount, exact: gross x rate / (1 + rate)."""
    r = exact(rate)
    return exact(gross) * r / (1 + r)


def yuan(amount: int | str | Decimal) -> Fen:
    """Fen from yuan, for tests and generated data: ``yuan(13000) == 1_300_000``."""
    q = Fraction(Decimal(str(amount))) * YUAN
    if q.denominator != 1:
        raise ValueError(f"{amount} yuan is not a whole number of fen")
    return int(q)


def format_fen(amount: Fen) -> str:
    """Human display: 557692 -> "5,576.92" (yuan with two decimals)."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), YUAN)
    return f"{sign}{whole:,}.{frac:02d}"
