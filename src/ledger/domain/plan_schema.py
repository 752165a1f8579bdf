"""Commission plan as versioned data: the schema of ``AdoptCommissionPlan.plan`` (SPEC 1
Policy versions, SPEC 2.5, SPEC 5.2).

``PLAN_2014_CN_1`` is plan `2014-cn-1` as JSON and its shape *is* the schema:

- ``version``: the plan version id.
- ``rate_tiers``: ``[{min_sales, rate}]``, strictly ascending, the first at ``min_sales`` 0;
  a month's rate is the last tier its personal sales reach (``>=``).
- ``base_factor``, ``base_divisor``: commission = personal sales x factor / divisor x rate.
- ``bonus_groups``: ``[{ranks, morning_star_min_sales, morning_star_bonus,
  opening_star_min_sales, opening_star_bonus}]``; every rank in exactly one group.
- ``morning_star_last_day``: 晨星 counts sales dated on or before this day of the month.
- ``override``: ``{rate, min_rank, payable_with}``; ``payable_with`` is ``"own_month"`` or
  ``"quarter_last_month"`` (payable on the payout date of the quarter's last month).
- ``payout``: ``{months_after, day}``: a month's statement is payable on ``day`` of the month
  ``months_after`` months later (次次月10日).
- ``promotion``: ``[{rank, own_sales, trained_sales, trained_reps, trained_rep_min_sales}]``,
  ascending by rank.
- ``trips``: ``[{name, row, months, window_start_month}]``: ``months`` months meeting the
  promotion row of ``row`` within the 12 months starting at ``window_start_month``.

Amounts are fen (int), rates decimal strings, no floats anywhere. ``load_plan`` validates
JSON into a ``Plan`` and names the first bad field; ``plan_to_json`` is its inverse.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from ledger.domain.money import format_rate, parse_rate

RANKS = ("SR", "SE", "SSE", "SM", "SSM", "SD", "SSD", "TE")  # low to high (SPEC 2.5)
_ORDER = {rank: i for i, rank in enumerate(RANKS)}
PAYABLE_WITH = ("own_month", "quarter_last_month")

PLAN_2014_CN_1: dict[str, Any] = {
    "version": "2014-cn-1",
    "rate_tiers": [
        {"min_sales": 0, "rate": "0"},
        {"min_sales": 1_300_000, "rate": "0.1"},
        {"min_sales": 1_500_000, "rate": "0.15"},
        {"min_sales": 2_000_000, "rate": "0.2"},
    ],
    "base_factor": "0.9",
    "base_divisor": "1.17",
    "bonus_groups": [
        {"ranks": ["SR", "SE", "SSE"], "morning_star_min_sales": 1_500_000,
         "morning_star_bonus": 150_000, "opening_star_min_sales": 2_000_000,
         "opening_star_bonus": 100_000},
        {"ranks": ["SM", "SSM"], "morning_star_min_sales": 2_000_000,
         "morning_star_bonus": 400_000, "opening_star_min_sales": 3_000_000,
         "opening_star_bonus": 200_000},
        {"ranks": ["SD", "SSD", "TE"], "morning_star_min_sales": 3_000_000,
         "morning_star_bonus": 400_000, "opening_star_min_sales": 4_000_000,
         "opening_star_bonus": 200_000},
    ],
    "morning_star_last_day": 20,
    "override": {"rate": "0.05", "min_rank": "SM", "payable_with": "quarter_last_month"},
    "payout": {"months_after": 2, "day": 10},
    "promotion": [
        {"rank": rank, "own_sales": 1_500_000, "trained_sales": trained * 100,
         "trained_reps": reps, "trained_rep_min_sales": 1_300_000}
        for rank, trained, reps in (
            ("SE", 15_000, 1), ("SSE", 30_000, 2), ("SM", 60_000, 4), ("SSM", 100_000, 6),
            ("SD", 160_000, 8), ("SSD", 240_000, 12), ("TE", 320_000, 16))
    ],
    "trips": [
        {"name": "创星学院", "row": "SM", "months": 4, "window_start_month": 7},
        {"name": "登峰海外游", "row": "SM", "months": 4, "window_start_month": 1},
        {"name": "寰宇领袖之旅", "row": "TE", "months": 6, "window_start_month": 1},
    ],
}


def rank_order(rank: str) -> int:
    """A rank's place, 0 for SR up to 7 for TE; ``ValueError`` for an unknown rank."""
    if rank not in _ORDER:
        raise ValueError(f"unknown rank {rank!r}")
    return _ORDER[rank]


class PlanError(ValueError):
    """A plan that does not fit the schema; ``field`` is its path (``rate_tiers[1].rate``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"plan field {field!r}: {message}")


# --- the plan as values -------------------------------------------------------------


@dataclass(frozen=True)
class RateTier:
    min_sales: int
    rate: Decimal


@dataclass(frozen=True)
class BonusGroup:
    ranks: tuple[str, ...]
    morning_star_min_sales: int
    morning_star_bonus: int
    opening_star_min_sales: int
    opening_star_bonus: int


@dataclass(frozen=True)
class Override:
    rate: Decimal
    min_rank: str
    payable_with: str


@dataclass(frozen=True)
class Payout:
    months_after: int
    day: int


@dataclass(frozen=True)
class PromotionRow:
    rank: str
    own_sales: int
    trained_sales: int
    trained_reps: int
    trained_rep_min_sales: int


@dataclass(frozen=True)
class Trip:
    name: str
    row: str
    months: int
    window_start_month: int


@dataclass(frozen=True)
class Plan:
    version: str
    rate_tiers: tuple[RateTier, ...]
    base_factor: Decimal
    base_divisor: Decimal
    bonus_groups: tuple[BonusGroup, ...]
    morning_star_last_day: int
    override: Override
    payout: Payout
    promotion: tuple[PromotionRow, ...]
    trips: tuple[Trip, ...]

    def group(self, rank: str) -> BonusGroup:
        return next(g for g in self.bonus_groups if RANKS[rank_order(rank)] in g.ranks)

    def row(self, rank: str) -> PromotionRow:
        for row in self.promotion:
            if row.rank == rank:
                return row
        raise ValueError(f"plan {self.version} has no promotion row for rank {rank!r}")


def _obj(value: Any, path: str, cls: type) -> dict:
    """``value`` as a dict holding exactly the fields of ``cls``."""
    if not isinstance(value, dict):
        raise PlanError(path.rstrip(".") or "plan", f"must be an object, got {value!r}")
    keys = [f.name for f in fields(cls)]
    for key in value:
        if key not in keys:
            raise PlanError(f"{path}{key}", "unknown field")
    for key in keys:
        if key not in value:
            raise PlanError(f"{path}{key}", "missing")
    return value


MAX_PLAN_INT = 10**13


def _int(value: Any, path: str, low: int = 0, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlanError(path, f"must be an integer, got {value!r}")
    if high is None:
        high = MAX_PLAN_INT  # SPEC 1: every amount at most 10^13 fen
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise PlanError(path, f"must be {bounds}, got {value!r}")
    return value


def _dec(value: Any, path: str, high: int | None = 1, positive: bool = False) -> Decimal:
    try:
        rate = parse_rate(value)
    except ValueError:
        raise PlanError(path, f"must be a decimal string, got {value!r}") from None
    if rate < 0 or (positive and rate == 0) or (high is not None and rate > high):
        raise PlanError(path, f"out of range: {value!r}")
    return Decimal(format_rate(rate))  # canonical: "0.10" and "0.1" load alike


def _rank_field(value: Any, path: str) -> str:
    if value not in RANKS:
        raise PlanError(path, f"must be one of {', '.join(RANKS)}, got {value!r}")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PlanError(path, f"must be a non-empty string, got {value!r}")
    return value


def _list(value: Any, path: str) -> list:
    if not isinstance(value, list) or not value:
        raise PlanError(path, f"must be a non-empty list, got {value!r}")
    return value


def load_plan(data: dict) -> Plan:
    """Validate plan JSON (the shape of ``PLAN_2014_CN_1``) into a ``Plan`` (SPEC 1, 5.2)."""
    d = _obj(data, "", Plan)
    tiers = []
    for i, t in enumerate(_list(d["rate_tiers"], "rate_tiers")):
        p = f"rate_tiers[{i}]."
        t = _obj(t, p, RateTier)
        tiers.append(RateTier(_int(t["min_sales"], p + "min_sales"), _dec(t["rate"], p + "rate")))
        if i == 0 and tiers[0].min_sales != 0:
            raise PlanError(p + "min_sales", "the first tier must start at 0")
        if i and tiers[i].min_sales <= tiers[i - 1].min_sales:
            raise PlanError(p + "min_sales", "tiers must ascend strictly")
    groups, seen = [], []
    for i, g in enumerate(_list(d["bonus_groups"], "bonus_groups")):
        p = f"bonus_groups[{i}]."
        g = _obj(g, p, BonusGroup)
        listed = _list(g["ranks"], p + "ranks")
        ranks = tuple(_rank_field(r, f"{p}ranks[{j}]") for j, r in enumerate(listed))
        for r in ranks:
            if r in seen:
                raise PlanError(p + "ranks", f"rank {r} is in two groups")
            seen.append(r)
        money = {k: _int(g[k], p + k) for k in g if k != "ranks"}
        groups.append(BonusGroup(ranks=ranks, **money))
    if missing := [r for r in RANKS if r not in seen]:
        raise PlanError("bonus_groups", f"ranks without a group: {', '.join(missing)}")
    o = _obj(d["override"], "override.", Override)
    if o["payable_with"] not in PAYABLE_WITH:
        raise PlanError("override.payable_with",
                        f"must be one of {', '.join(PAYABLE_WITH)}, got {o['payable_with']!r}")
    pay = _obj(d["payout"], "payout.", Payout)
    rows = []
    for i, r in enumerate(_list(d["promotion"], "promotion")):
        p = f"promotion[{i}]."
        r = _obj(r, p, PromotionRow)  # type: ignore[assignment]
        figures = {f.name: _int(r[f.name], p + f.name) for f in fields(PromotionRow)[1:]}
        rows.append(PromotionRow(rank=_rank_field(r["rank"], p + "rank"), **figures))
        if i and _ORDER[rows[i].rank] <= _ORDER[rows[i - 1].rank]:
            raise PlanError(p + "rank", "rows must ascend by rank")
    trips = []
    if not isinstance(d["trips"], list):
        raise PlanError("trips", f"must be a list, got {d['trips']!r}")
    for i, t in enumerate(d["trips"]):
        p = f"trips[{i}]."
        t = _obj(t, p, Trip)
        trip = Trip(_text(t["name"], p + "name"), _rank_field(t["row"], p + "row"),
                    _int(t["months"], p + "months", 1, 12),
                    _int(t["window_start_month"], p + "window_start_month", 1, 12))
        if trip.row not in [row.rank for row in rows]:
            raise PlanError(p + "row", f"no promotion row for rank {trip.row!r}")
        trips.append(trip)
    return Plan(
        version=_text(d["version"], "version"),
        rate_tiers=tuple(tiers),
        base_factor=_dec(d["base_factor"], "base_factor", None, positive=True),
        base_divisor=_dec(d["base_divisor"], "base_divisor", None, positive=True),
        bonus_groups=tuple(groups),
        morning_star_last_day=_int(d["morning_star_last_day"], "morning_star_last_day", 1, 31),
        override=Override(_dec(o["rate"], "override.rate"),
                          _rank_field(o["min_rank"], "override.min_rank"), o["payable_with"]),
        payout=Payout(_int(pay["months_after"], "payout.months_after", 0, 12),
                      _int(pay["day"], "payout.day", 1, 28)),
        promotion=tuple(rows),
        trips=tuple(trips),
    )


def _to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_rate(value)
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _to_json(getattr(value, f.name)) for f in fields(value)}
    return value


def plan_to_json(plan: Plan) -> dict:
    """The inverse of ``load_plan``: ints stay ints, rates become decimal strings."""
    return _to_json(plan)
