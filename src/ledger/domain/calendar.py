"""Business time (SPEC 1, Time).

Every fact carries ``occurred_at`` (ISO 8601 with offset). Its business date is the date
of ``occurred_at`` in the company time zone (default ``Asia/Shanghai``). Periods are
``YYYY-MM`` months, ``YYYY-Qn`` quarters or ``YYYY`` years.
"""

from __future__ import annotations

import calendar as _cal
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_COMPANY_TZ = "Asia/Shanghai"
_company_tz = DEFAULT_COMPANY_TZ  # set once by the composition root (ledger.bootstrap)


def set_company_tz(name: str) -> None:
    """The company time zone of every business date from now on (``LEDGER_TIMEZONE``,
    read by ``ledger.bootstrap``). Raises ``ValueError`` for an unknown zone."""
    global _company_tz
    try:
        _zone(name)
    except (ValueError, KeyError) as e:
        raise ValueError(f"LEDGER_TIMEZONE: unknown time zone {name!r}") from e
    _company_tz = name


def company_tz() -> ZoneInfo:
    return _zone(_company_tz)


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 time *with* an offset. Raises ``ValueError`` otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 time with offset, got {text!r}")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected an ISO 8601 time with offset, got {text!r}") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return value


# SPEC 1: every date within 1900-01-01..9999-12-31. A period (month, quarter, year) ends
# by 9998: its commissions are payable up to 12 months later, which must be a date too.
MIN_YEAR, MAX_YEAR, MAX_PERIOD_YEAR = 1900, 9999, 9998


def parse_date(text: str) -> date:
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"expected a date YYYY-MM-DD, got {text!r}")
    try:
        day = date.fromisoformat(text)
    except ValueError as e:
        raise ValueError(f"{text!r} is not a date: {e}") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f"date {text!r} is outside {MIN_YEAR}-01-01..{MAX_YEAR}-12-31")
    return day


def _period_year(text: str, year: int) -> int:
    if not MIN_YEAR <= year <= MAX_PERIOD_YEAR:
        raise ValueError(f"period {text!r} is outside the years {MIN_YEAR}..{MAX_PERIOD_YEAR}")
    return year


def business_date(instant: datetime) -> date:
    return instant.astimezone(company_tz()).date()


def iso(instant: datetime) -> str:
    return instant.isoformat()


# --- periods -----------------------------------------------------------------------

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")
_YEAR = re.compile(r"(\d{4})")


@dataclass(frozen=True, order=True)
class Period:
    """A closed range of business dates named ``YYYY``, ``YYYY-Qn`` or ``YYYY-MM``."""

    first: date
    last: date
    name: str

    def __contains__(self, day: date) -> bool:
        return self.first <= day <= self.last


def parse_period(text: str) -> Period:
    if not isinstance(text, str):
        raise ValueError(f"expected a period, got {text!r}")
    if m := _MONTH.fullmatch(text):
        return month(text)
    if m := _QUARTER.fullmatch(text):
        year, q = _period_year(text, int(m[1])), int(m[2])
        first = date(year, 3 * q - 2, 1)
        last_month = 3 * q
        return Period(first, date(year, last_month, _cal.monthrange(year, last_month)[1]), text)
    if _YEAR.fullmatch(text):
        year = _period_year(text, int(text))
        return Period(date(year, 1, 1), date(year, 12, 31), text)
    raise ValueError(f"period must be YYYY, YYYY-Qn or YYYY-MM, got {text!r}")


def month(text: str) -> Period:
    m = _MONTH.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"expected a month YYYY-MM, got {text!r}")
    year, mon = _period_year(text, int(m[1])), int(m[2])
    return Period(date(year, mon, 1), date(year, mon, _cal.monthrange(year, mon)[1]), text)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(day: date, months: int) -> date:
    """Same day-of-month ``months`` later, clamped to the month's end."""
    index = day.year * 12 + (day.month - 1) + months
    year, mon = divmod(index, 12)
    mon += 1
    return date(year, mon, min(day.day, _cal.monthrange(year, mon)[1]))


def next_month(period: str) -> str:
    return month_of(add_months(month(period).first, 1))


def previous_month(period: str) -> str:
    return month_of(add_months(month(period).first, -1))


def days_between(earlier: date, later: date) -> int:
    return (later - earlier).days


def plus_days(day: date, days: int) -> date:
    return day + timedelta(days=days)
