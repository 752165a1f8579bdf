"""Approval grants (SPEC 1 Approvals, SPEC 5.2 ``GrantApproval``).

Under policy ``approvals.mode`` = ``granted`` every approver a command names must have
granted that approval beforehand with their own command. The grants one approver gave for
one kind of decision about one subject live in one aggregate, keyed by uuid5 of
(approver, kind, subject): the command that names the approver finds them with one lookup
(it names the approver, not the grant), and marking a grant used is an event of this
aggregate saved in the same transaction as the decision, so two concurrent commands cannot
both use it (one meets a version conflict and is judged again, on the used grant).

A grant covers a command when it is unused, of a kind that covers the decision, for the
command's subject, granted no later (business time) than the command occurred, not expired
(``expires_at`` after both the command's ``occurred_at`` and its recorded time), and, with a
``limit``, the command's measure is within it (fen, or a discount rate for price kinds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.calendar import parse_instant
from ledger.domain.ids import aggregate_id
from ledger.domain.money import exact, format_rate

# Kinds whose ``limit`` is a discount rate (a decimal string): the price tiers (SPEC 2.1).
RATE_KINDS = frozenset({"price_within_manager_limit", "price_above_manager_limit"})


@dataclass
class GrantState:
    approval_id: str
    kind: str
    subject: str
    limit: int | str | None
    granted_at: datetime  # the grant's occurred_at
    expires_at: datetime
    used_by: str | None = None  # the command_id that used it

    def refusal(self, occurred_at: datetime, recorded_at: datetime,
                measure: int | Fraction | None) -> str | None:
        """Why this grant does not cover a command, or None when it does."""
        if self.used_by is not None:
            return f"grant {self.approval_id!r} was already used by command {self.used_by!r}"
        if self.granted_at > occurred_at:
            return (f"grant {self.approval_id!r} was granted at {self.granted_at.isoformat()}, "
                    f"after the decision at {occurred_at.isoformat()}")
        moment = max(occurred_at, recorded_at)
        if self.expires_at <= moment:
            return (f"grant {self.approval_id!r} expired at {self.expires_at.isoformat()}, "
                    f"before {moment.isoformat()}")
        if self.limit is not None and measure is not None:
            limit = exact(self.limit) if isinstance(self.limit, str) else Fraction(self.limit)
            if Fraction(measure) > limit:
                shown = str(measure) if isinstance(measure, int) else _rate(measure)
                return f"grant {self.approval_id!r} covers at most {self.limit}, the command needs {shown}"
        return None


def _rate(value: Fraction) -> str:
    return format_rate(value)


def grants_key(approver: str, kind: str, subject: str) -> str:
    return json.dumps([approver, kind, subject], ensure_ascii=False)


class ApprovalGrants(Aggregate):
    """The grants ``approver`` gave for decisions of ``kind`` about ``subject``."""

    TOPIC = "ledger:ApprovalGrants"
    KIND = "approval_grants"

    class Created(Aggregate.Created):
        TOPIC = "ledger:ApprovalGrants.Created"

    @staticmethod
    def create_id(approver: str, kind: str, subject: str) -> UUID:
        return aggregate_id(ApprovalGrants.KIND, grants_key(approver, kind, subject))

    class Opened(Aggregate.Created):
        TOPIC = "ledger:ApprovalGrants.Opened"
        approver: str
        kind: str
        subject: str

    @event(Opened)
    def __init__(self, approver: str, kind: str, subject: str) -> None:
        self.approver = approver
        self.kind = kind
        self.subject = subject
        self.grants: dict[str, GrantState] = {}

    def find(self, occurred_at: datetime, recorded_at: datetime,
             measure: int | Fraction | None) -> tuple[GrantState | None, list[str]]:
        """The first grant (in grant order) that covers the command, and why each other
        grant does not."""
        reasons: list[str] = []
        for grant in self.grants.values():
            why = grant.refusal(occurred_at, recorded_at, measure)
            if why is None:
                return grant, reasons
            reasons.append(why)
        return None, reasons

    class Granted(Aggregate.Event):
        TOPIC = "ledger:ApprovalGrants.Granted"
        approval_id: str
        kind: str
        subject: str
        limit: int | str | None
        expires_at: str
        granted_by: str
        meta: dict[str, Any]

    @event(Granted)
    def grant(self, approval_id: str, kind: str, subject: str, limit: int | str | None,
              expires_at: str, granted_by: str, meta: dict[str, Any]) -> None:
        self.grants[approval_id] = GrantState(
            approval_id=approval_id, kind=kind, subject=subject, limit=limit,
            granted_at=parse_instant(meta["occurred_at"]), expires_at=parse_instant(expires_at),
        )

    class Used(Aggregate.Event):
        TOPIC = "ledger:ApprovalGrants.Used"
        approval_id: str
        used_by_command: str
        command: str
        field: str
        meta: dict[str, Any]

    @event(Used)
    def use(self, approval_id: str, used_by_command: str, command: str, field: str,
            meta: dict[str, Any]) -> None:
        self.grants[approval_id].used_by = used_by_command
