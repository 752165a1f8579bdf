"""What a command handler works with: the decoded command, its times, and a unit of work
that loads and collects aggregates (implemented outside the domain, with no SQL here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from ledger.domain import authority
from ledger.domain.calendar import Period, business_date, month
from ledger.domain.commands import Command, command_name
from ledger.domain.errors import Rejection, duplicate, invalid, unknown
from ledger.domain.model.records import Claim
from ledger.domain.model.users import BootstrapAdmin, User
from ledger.domain.policies import PolicyBook, PolicyVersion, default_version

A = TypeVar("A")


class UnitOfWork(Protocol):
    """Loads aggregates (cached for the batch) and collects the ones a command touches."""

    def get(self, cls: type[A], *key: str) -> A | None: ...

    def add(self, aggregate: Any) -> None: ...

    def log_position(self) -> int: ...

    def read_log(self, topics: tuple[str, ...] = (), stop: int | None = None,
                 start: int = 1) -> Any: ...


@dataclass
class Context:
    cmd: Command
    uow: UnitOfWork
    recorded_at: datetime
    occurred_at: datetime
    reported_at: datetime
    result: dict[str, Any] = field(default_factory=dict)
    # every policy a decision consulted, name -> version (SPEC 1 Policy versions): what
    # ``policy`` handed out, recorded in the events' ``meta["policies"]``
    consulted: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return command_name(self.cmd)

    @cached_property
    def day(self) -> date:
        """The command's business date (SPEC 1, Time)."""
        return business_date(self.occurred_at)

    @property
    def meta(self) -> dict[str, Any]:
        """What every event of the command carries: the command, actor and times, the
        late flag, and ``policies``, the version of every policy the decision consulted
        so far (absent when it consulted none: a plain fact)."""
        if not self.consulted:
            return self._meta
        return {**self._meta, "policies": dict(sorted(self.consulted.items()))}

    @cached_property
    def _meta(self) -> dict[str, Any]:
        reporting = self._in_force("reporting")
        return {
            "command_id": self.cmd.command_id,
            "command": self.name,
            "actor": self.cmd.actor,
            "occurred_at": self.occurred_at.isoformat(),
            "reported_at": self.reported_at.isoformat(),
            # SPEC 2.6: reported more than ``late_after_hours`` after occurring is flagged
            # late for auditors (never rejected), under the reporting policy in force on
            # the business date
            "late": is_late(self.occurred_at, self.reported_at,
                            reporting.values["late_after_hours"]),
            "reporting_policy": reporting.version,
        }

    # --- policies ----------------------------------------------------------------------

    def policy(self, name: str, day: date | None = None) -> PolicyVersion:
        """The version of ``name`` in force on ``day`` (default: the business date),
        recorded as consulted by this command (``reporting`` is recorded on its own, as
        ``meta["reporting_policy"]``)."""
        found = self._in_force(name, day)
        if name != "reporting":
            self.consulted[name] = found.version
        return found

    def _in_force(self, name: str, day: date | None = None) -> PolicyVersion:
        book = self.uow.get(PolicyBook)
        when = day or self.day
        return book.in_force(name, when) if book else default_version(name)

    def approvers(self, decision: str) -> frozenset[str]:
        """Roles that may approve ``decision`` (a key of the ``approvals`` policy, or a
        command name of ``authority.APPROVAL_OF``) under the policy in force. A version
        adopted before a key existed leaves that key at its default."""
        key = authority.APPROVAL_OF.get(decision, decision)
        values = self.policy("approvals").values
        return frozenset(values[key] if key in values else default_version("approvals").values[key])

    # --- references --------------------------------------------------------------------

    def user(self, user_id: str, field_name: str) -> User | BootstrapAdmin:
        found = self.uow.get(User, user_id)
        if found is not None:
            return found
        if user_id == authority.ADMIN_USER:
            return BootstrapAdmin()
        raise unknown("user", user_id, field_name)

    def actor(self) -> User | BootstrapAdmin:
        return self.user(self.cmd.actor, "actor")

    def require(self, cls: type[A], business_id: str, field_name: str, kind: str | None = None) -> A:
        found = self.uow.get(cls, business_id)
        if found is None:
            raise unknown(kind or getattr(cls, "KIND", cls.__name__.lower()), business_id, field_name)
        return found

    def absent(self, cls: type[Any], business_id: str, kind: str) -> None:
        if self.uow.get(cls, business_id) is not None:
            raise duplicate(kind, business_id)

    def owner(self, kind: str, business_id: str, field_name: str) -> Claim:
        claim = self.uow.get(Claim, kind, business_id)
        if claim is None:
            raise unknown(kind, business_id, field_name)
        return claim

    def unclaimed(self, kind: str, business_id: str) -> None:
        if self.uow.get(Claim, kind, business_id) is not None:
            raise duplicate(kind, business_id)

    def claim(self, kind: str, business_id: str, owner_kind: str, owner_id: str) -> None:
        self.uow.add(Claim(kind=kind, business_id=business_id, owner_kind=owner_kind,
                           owner_id=owner_id, meta=self.meta))

    # --- authorisation -----------------------------------------------------------------

    def authorize(self) -> User | BootstrapAdmin:
        """The actor may issue the command; where the actor's own act is the approval (an
        expense approved or rejected, a manual rank change), the roles are the
        ``approvals`` policy's (``authority.ACTOR_APPROVES``)."""
        actor = self.actor()
        key = authority.ACTOR_APPROVES.get(self.name)
        allowed = self.approvers(key) if key is not None else None
        authority.check_actor(self.name, actor.user_id, actor.roles, allowed)
        return actor


Handler = Callable[[Context], dict[str, Any] | None]


def is_late(occurred_at: datetime, reported_at: datetime, late_after_hours: int) -> bool:
    """An event reported more than ``late_after_hours`` after it occurred is late (SPEC 2.6)."""
    return reported_at - occurred_at > timedelta(hours=late_after_hours)


def check_future(occurred_at: datetime, recorded_at: datetime, tolerance_minutes: int,
                 field_name: str = "occurred_at") -> None:
    """An occurred_at more than the tolerance after the recorded time is invalid (SPEC 1).
    ``field_name`` names the field checked (``reported_at`` is checked the same way)."""
    if occurred_at - recorded_at > timedelta(minutes=tolerance_minutes):
        raise invalid(
            field_name,
            f"{occurred_at.isoformat()} is more than {tolerance_minutes} minutes after the "
            f"recorded time {recorded_at.isoformat()}",
            occurred_at=occurred_at.isoformat(), recorded_at=recorded_at.isoformat(),
        )


def check_dates(cmd: Command, occurred_at: datetime, reported_at: datetime,
                recorded_at: datetime) -> None:
    """SPEC 1: a ``received_on`` or ``paid_on`` after the recorded date in company time,
    or a ``reported_at`` before ``occurred_at``, is ``invalid_field``."""
    today = business_date(recorded_at)
    for field_name in ("received_on", "paid_on"):
        day = getattr(cmd, field_name, None)
        if isinstance(day, date) and day > today:
            raise invalid(field_name, f"{day.isoformat()} is after the recorded date "
                                      f"{today.isoformat()}",
                          value=day.isoformat(), recorded_on=today.isoformat())
    if cmd.reported_at is not None and reported_at < occurred_at:
        raise invalid("reported_at", f"{reported_at.isoformat()} is before occurred_at "
                                     f"{occurred_at.isoformat()}",
                      reported_at=reported_at.isoformat(), occurred_at=occurred_at.isoformat())


def check_currency(ctx: Context) -> None:
    """SPEC 1: the ledger keeps one currency (policy ``currency``); a money command may name
    it, and any other is ``invalid_field``."""
    named = getattr(ctx.cmd, "currency", None)
    if named is None:
        return
    code = ctx.policy("currency").values["code"]
    if named != code:
        raise invalid("currency", f"{named!r} is not the ledger's currency {code!r}",
                      currency=named, ledger_currency=code)


def require_text(value: str | None, field_name: str) -> str:
    if value is None or not value.strip():
        raise invalid(field_name, "is required")
    return value


def reject(rule: str, message: str, **details: Any) -> Rejection:
    return Rejection(rule, message, **details)


def month_field(text: str, field_name: str = "period") -> Period:
    try:
        return month(text)
    except ValueError as e:
        raise invalid(field_name, str(e)) from None
