"""Rounding to the fen (SPEC 1 Money): once, at the end of a formula, half away from zero
("half-up on magnitude, so -0.5 fen -> -1 fen"), on exact rationals; and the module's
docstring examples, run as tests."""

from __future__ import annotations

import doctest
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ledger.domain.money as money
from ledger.domain.money import round_fen


@pytest.mark.parametrize(("value", "expected"), [
    (Fraction(1, 2), 1), (Fraction(-1, 2), -1),  # the halves: away from zero
    (Fraction(3, 2), 2), (Fraction(-3, 2), -2),
    (Fraction(5, 2), 3), (Fraction(-5, 2), -3),  # not to even (banker's would give 2, -2)
    (Fraction(49, 100), 0), (Fraction(-49, 100), 0),
    (Fraction(51, 100), 1), (Fraction(-51, 100), -1),
    (Fraction(-1, 3), 0), (Fraction(-2, 3), -1), (Fraction(5, 3), 2), (Fraction(-5, 3), -2),
    (Fraction(-1000001, 2), -500001), (Fraction(1000001, 2), 500001),
    (0, 0), (7, 7), (-7, -7),
    (Decimal("-0.5"), -1), (Decimal("2.5"), 3), (Decimal("-2.4999"), -2),
])
def test_round_fen_half_away_from_zero_on_both_signs(value, expected):
    assert round_fen(value) == expected
    assert isinstance(round_fen(value), int)


def test_a_negative_half_fen_in_a_formula_rounds_away_from_zero():
    # -0.5 fen: an amount of -1 fen at 50%, and a return-like -3 fen x 1/6
    assert round_fen(Fraction(-1) * Fraction(1, 2)) == -1
    assert round_fen(Fraction(-3, 6)) == -1
    assert round_fen(-Fraction(1, 2)) == -round_fen(Fraction(1, 2))


def _by_hand(q: Fraction) -> int:
    """Half away from zero, by another road: floor(|q| + 1/2) with the sign put back."""
    magnitude = math.floor(abs(q) + Fraction(1, 2))
    return -magnitude if q < 0 else magnitude


EXACT = st.one_of(
    st.fractions(max_denominator=10_000).filter(lambda q: abs(q) < 10**15),
    st.integers(-10**12, 10**12).map(lambda n: Fraction(2 * n + 1, 2)),  # exact halves
)


@given(EXACT)
def test_round_fen_matches_a_rule_worked_another_way_and_is_odd(q):
    assert round_fen(q) == _by_hand(q)
    assert round_fen(-q) == -round_fen(q)  # symmetric: the sign never changes the magnitude
    assert abs(round_fen(q) - q) <= Fraction(1, 2)


def test_the_money_module_docstring_examples_hold():
    """The docstring examples are run (nothing else collects them)."""
    result = doctest.testmod(money, extraglobs={"Fraction": Fraction}, report=False)
    assert result.attempted >= 1
    assert result.failed == 0
