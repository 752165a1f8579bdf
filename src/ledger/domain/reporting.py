"""Business dates and lateness of recorded facts (SPEC 1 Time, SPEC 2.6).

A fact's business date is the date of its ``occurred_at`` in the company time zone
(``calendar.business_date``); a fact reported more than ``reporting.late_after_hours``
after it occurred is late. The domain decides both when it records a fact (the ``late``
flag in the event's ``meta``); the read side dates the facts it reads, and judges the
lateness of an event recorded before ``meta`` carried the flag, with the same functions.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from ledger.domain.calendar import business_date, parse_instant


def is_late(occurred_at: datetime, reported_at: datetime, late_after_hours: int) -> bool:
    """An event reported more than ``late_after_hours`` after it occurred is late (SPEC 2.6)."""
    return reported_at - occurred_at > timedelta(hours=late_after_hours)


def event_date(event: Any) -> date:
    """The business date of an event: its ``meta["occurred_at"]`` in company time (SPEC 1)."""
    return business_date(parse_instant(event.meta["occurred_at"]))


def event_day(event: Any) -> str:
    """``event_date`` as an ISO date (the business date of an event without a date of its
    own, as the projections store it)."""
    return event_date(event).isoformat()
