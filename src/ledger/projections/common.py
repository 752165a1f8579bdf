"""Helpers the read side shares: the report date of an as-of query, policy versions as
projection rows, and ratios as decimal strings (SPEC 1 Time, Policy versions; SPEC 5).

Policy versions: a projection that needs a policy keeps the ``PolicyAdopted`` events it
has seen in its own ``policies`` table (``POLICY_TABLE``) and picks the version in force
on a date with the domain's own rule (``policies.version_in_force``), never a copy of it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, ClassVar

import msgspec
from eventsourcing.utils import get_topic

from ledger.domain.calendar import business_date, parse_date
from ledger.domain.model import Customer
from ledger.domain.money import format_rate
from ledger.domain.policies import PolicyVersion, version_in_force
from ledger.projections.engine import Projection, Projector, Sql
from ledger.projections.errors import invalid

END_OF_TIME = "9999-12-31"
MEMO_SIZE = 20_000  # facts a ``Memo`` keeps before it forgets the older half  # upper bound for "every fact the log holds"

POLICY_TABLE = {
    "policies": "position BIGINT PRIMARY KEY, policy TEXT NOT NULL, version TEXT NOT NULL, "
                "effective_from TEXT NOT NULL, policy_values TEXT NOT NULL",
}

_json = msgspec.json.Encoder(order="sorted")


def to_json(value: Any) -> str:
    return _json.encode(value).decode()


def from_json(text: str | None) -> Any:
    return msgspec.json.decode(text) if text else None


def fen_sum(expr: str) -> str:
    """SUM of an integer expression as BIGINT on both backends (PostgreSQL's SUM of a
    BIGINT is NUMERIC), 0 when there are no rows."""
    return f"CAST(COALESCE(SUM({expr}), 0) AS BIGINT)"


class MissingReference(LookupError):
    """An event names something its projection never saw registered: the log and the
    projection disagree, and applying on would make the view drift silently."""


def expect_rows(sql: Sql, expected: int, what: str) -> None:
    """Check that the last statement (an INSERT ... SELECT or UPDATE that finds its row
    by a reference) wrote ``expected`` rows; raise ``MissingReference`` otherwise."""
    sql.expect_rows(expected, what, MissingReference)


class Dispatching(Projection):
    """A projection whose ``handlers`` map each event class it reads to the name of the
    method that applies it, and whose ``ignores`` names every other stored event class
    (tests/projections/test_event_coverage.py holds each projection to both). ``topics``,
    the topic strings the projector filters the log on, is derived from ``handlers``."""

    handlers: ClassVar[dict[type, str]]  # event class -> method name
    ignores: ClassVar[frozenset[type]] = frozenset()  # stored event classes it does not read

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "handlers" in cls.__dict__:
            cls.topics = tuple(get_topic(c) for c in cls.handlers)

    def forget(self) -> None:
        """Clear every ``Kept`` of this projection (see ``Projection.forget``)."""
        for value in vars(self).values():
            if isinstance(value, Kept):
                value.clear()

    def apply(self, sql: Sql, position: int, event: Any) -> None:
        by_type: dict[type, Any] = self.__dict__.setdefault("_by_type", {})
        method = by_type.get(type(event))
        if method is None:
            method = by_type[type(event)] = getattr(self, self.handlers[type(event)])
        method(sql, position, event)


class Memo:
    """Facts that never change once recorded (what a registration says: a user's roles,
    a sale's rep, the business id behind an aggregate id), by id: read from the
    projection's own table on first use, then kept, so applying an event needs no SELECT.

    Safe across a rolled-back transaction: a fact kept from an event whose transaction
    rolled back is kept again, identical, when that event is applied again.

    Bounded: past ``MEMO_SIZE`` facts the older half is forgotten (and read again if asked
    for), so a catch-up's memory does not grow with the log.
    """

    def __init__(self, select: str, size: int | None = None) -> None:
        self.select = select  # one ``?``: the id
        self.size = size or MEMO_SIZE
        self._known: dict[Any, tuple[Any, ...]] = {}

    def get(self, sql: Sql, key: Any) -> tuple[Any, ...] | None:
        found = self._known.get(key)
        if found is None:
            row = sql.one(self.select, (key,))
            if row is None:
                return None
            found = tuple(row.values())
            self.put(key, found)
        return found

    def put(self, key: Any, value: tuple[Any, ...]) -> None:
        known = self._known
        known[key] = value
        if len(known) > self.size:
            for old in list(itertools.islice(known, len(known) // 2)):
                del known[old]


class Kept:
    """What a projection's own rows say now about a thing that changes (a sale's dates),
    for one page: read at once for every thing the page's events name (``prepare``), then
    updated by the same handler that writes the rows, in the same step, so applying an
    event needs no SELECT.

    It lives only as long as the page's transaction, which holds the projector's lock:
    the projector clears it (``Projection.forget``) before every page and when a page
    fails, so nothing another process wrote, and nothing rolled back, is ever seen here.
    """

    def __init__(self) -> None:
        self._known: dict[Any, Any] = {}

    def get(self, key: Any) -> Any:
        return self._known.get(key)

    def put(self, key: Any, value: Any) -> None:
        self._known[key] = value

    def items(self) -> list[tuple[Any, Any]]:
        return list(self._known.items())

    def clear(self) -> None:
        self._known.clear()


class SaleDatesForPage:
    """For a projection that keeps its sales' dates for a page (``sale_dates``, a
    ``Kept``) and reads them with ``_load_sales_dates``: ``prepare`` reads them at once
    for every sale the page's returns, payments and write-offs name (a sale recorded in
    the page itself is kept by the projection's ``_sale``)."""

    sale_dates: Kept
    PREPARE_CHUNK = 500  # sales per read

    def _load_sales_dates(self, sql: Sql, sale_ids: Sequence[str]) -> dict[str, list[Any]]:
        raise NotImplementedError

    def prepare(self, sql: Sql, events: Sequence[Any]) -> None:
        named = sales_named(events)
        for i in range(0, len(named), self.PREPARE_CHUNK):
            self._load_sales_dates(sql, named[i:i + self.PREPARE_CHUNK])

    def known_sales_dates(self, sql: Sql, sale_ids: Sequence[str]) -> dict[str, Any]:
        """Each of ``sale_ids`` (sorted, once) with what is kept of it, or read now; None
        when it is not recorded."""
        known = {sale_id: self.sale_dates.get(sale_id) for sale_id in sorted(set(sale_ids))}
        known.update(self._load_sales_dates(sql, [s for s, k in known.items() if k is None]))
        return known


def sales_named(events: Sequence[Any]) -> list[str]:
    """The sales a page's returns, payments and write-offs take from (what receivables
    and the general ledger read a sale's dates for), each once."""
    found: dict[str, None] = {}
    for e in events:
        if isinstance(e, Customer.PaymentRecorded):
            found.update((a["sale_id"], None) for a in e.applied)
        elif isinstance(e, Customer.ReturnRecorded | Customer.ReceivableWrittenOff):
            found[e.sale_id] = None
    return list(found)


# --- report dates --------------------------------------------------------------------------


def today(projector: Projector) -> date:
    return business_date(projector.clock())


def parse_as_of(value: date | str | None, field: str = "as_of") -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return parse_date(value)
    except ValueError as e:
        raise invalid(field, str(e)) from None


def report_date(projector: Projector, as_of: date | str | None) -> tuple[date, str]:
    """(the report date, the latest business date of the facts counted).

    ``as_of=D`` counts the facts whose business date is on or before D and ages them as
    of D (SPEC 1). Without it, every fact the log holds counts and ages are as of today.
    """
    day = parse_as_of(as_of)
    if day is None:
        return today(projector), END_OF_TIME
    return day, day.isoformat()


# --- policy versions ---------------------------------------------------------------------------


def record_policy(sql: Sql, table: str, position: int, event: Any) -> None:
    sql.execute(
        f"INSERT INTO {table} (position, policy, version, effective_from, policy_values) "
        "VALUES (?, ?, ?, ?, ?)",
        (position, event.policy, event.version, event.effective_from, to_json(event.values)),
    )


def policy_in_force(sql: Sql, table: str, policy: str, day: date,
                    before: int | None = None) -> PolicyVersion:
    """The version of ``policy`` in force on ``day`` among those the table holds
    (only those adopted before log position ``before``, if given): the domain's rule
    (``policies.version_in_force``, as ``PolicyBook.in_force`` applies it)."""
    rows = sql.all(
        f"SELECT version, effective_from, policy_values FROM {table} WHERE policy = ? "
        "AND position < ? ORDER BY position", (policy, before if before is not None else 2**62),
    )
    return version_in_force(policy, policy_versions(policy, rows), day)


def policy_versions(policy: str, rows: list[dict[str, Any]]) -> list[PolicyVersion]:
    """The versions of one policy the ``policies`` table rows hold, in log order."""
    return [
        PolicyVersion(policy, r["version"], date.fromisoformat(r["effective_from"]),
                      from_json(r["policy_values"]))
        for r in rows
    ]


# --- ratios -------------------------------------------------------------------------------------


def ratio_text(numerator: int, denominator: int, places: int = 4) -> str | None:
    """numerator / denominator as a decimal string in shortest form, rounded half away
    from zero to ``places`` decimals (``"0.75"``, ``"0.3333"``); None when the
    denominator is 0."""
    if not denominator:
        return None
    return decimal_text(Fraction(numerator, denominator), places)


def decimal_text(value: Fraction, places: int) -> str:
    """An exact value as a shortest-form decimal string, rounded half away from zero."""
    d = (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP,
    )
    return format_rate(d)
