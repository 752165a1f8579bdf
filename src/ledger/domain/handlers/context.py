"""What a command handler works with: the decoded command, its times, and a unit of work
that loads and collects aggregates (implemented outside the domain, with no SQL here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from functools import cached_property
from typing import Any, Protocol, TypeVar

from ledger.domain import authority
from ledger.domain.calendar import Period, business_date, month
from ledger.domain.commands import Command, command_name
from ledger.domain.errors import Rejection, duplicate, invalid, unknown
from ledger.domain.model.grants import ApprovalGrants
from ledger.domain.model.records import Claim
from ledger.domain.model.users import BootstrapAdmin, User
from ledger.domain.money import format_rate
from ledger.domain.policies import PolicyBook, PolicyVersion, approvals_mode, default_version
from ledger.domain.reporting import is_late

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
    # how each approval of the decision was given (SPEC 1 Approvals): ``{field, user, how,
    # grant_id}``, ``how`` ``attested`` or ``granted``; recorded in ``meta["approvals"]``
    approvals_given: list[dict[str, Any]] = field(default_factory=list)
    # grants the decision uses, marked used once the command is applied (``settle``)
    grants_to_use: list[tuple[ApprovalGrants, str, str]] = field(default_factory=list)

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
        if not self.consulted and not self.approvals_given:
            return self._meta
        meta = dict(self._meta)
        if self.consulted:
            meta["policies"] = dict(sorted(self.consulted.items()))
        if self.approvals_given:
            meta["approvals"] = [dict(a) for a in self.approvals_given]
        return meta

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

    # --- approvals: attested or granted (SPEC 1 Approvals) ------------------------------

    def approvals_mode(self) -> str:
        """``granted`` when the ``approvals`` policy in force on the business date, or on
        the recorded date, says so (the stricter of the two: a command backdated to before
        ``granted`` mode was adopted still needs grants); else ``attested``."""
        on_day = self.policy("approvals")
        if approvals_mode(on_day.values) == "granted":
            return "granted"
        today = business_date(self.recorded_at)
        if today != self.day and approvals_mode(self._in_force("approvals", today).values) == "granted":
            return "granted"
        return "attested"

    def approval(self, field_name: str, approver: str, kinds: tuple[str, ...], subject: str,
                 measure: int | Fraction | None = None) -> None:
        """Record how ``approver``, named in ``field_name``, approved this decision. Under
        ``granted`` mode the approver must hold an unused, unexpired grant of one of
        ``kinds`` for ``subject`` given before the decision and covering ``measure`` (fen,
        or a discount rate for the price kinds), else ``not_authorized``; the grant is
        marked used when the command is applied."""
        if self.approvals_mode() != "granted":
            self.approvals_given.append({"field": field_name, "user": approver,
                                         "how": "attested", "grant_id": None})
            return
        reasons: list[str] = []
        for kind in kinds:
            grants = self.uow.get(ApprovalGrants, approver, kind, subject)
            if grants is None:
                continue
            # (one command never names the same approver twice for one kind and subject)
            found, why = grants.find(self.occurred_at, self.recorded_at, measure)
            reasons.extend(why)
            if found is not None:
                self.grants_to_use.append((grants, found.approval_id, field_name))
                self.approvals_given.append({"field": field_name, "user": approver,
                                             "how": "granted", "grant_id": found.approval_id})
                return
        shown = measure if isinstance(measure, int) or measure is None else format_rate(measure)
        raise Rejection(
            "not_authorized",
            f"{field_name} {approver!r} has not granted this approval: approvals.mode is "
            f"granted, and {approver!r} holds no unused, unexpired grant of "
            f"{' or '.join(kinds)} for {subject!r}"
            + (f" covering {shown}" if shown is not None else "")
            + (f" ({'; '.join(reasons)})" if reasons else ""),
            field=field_name, approver=approver, kinds=list(kinds), subject=subject,
            measure=shown, mode="granted", reasons=reasons,
        )

    def settle(self) -> None:
        """The command is applied: mark the grants it used as used, in the same save."""
        for grants, approval_id, field_name in self.grants_to_use:
            grants.use(approval_id=approval_id, used_by_command=self.cmd.command_id,
                       command=self.name, field=field_name, meta=self.meta)
            self.uow.add(grants)
        self.grants_to_use = []

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
            raise unknown(str(kind or getattr(cls, "KIND", cls.__name__.lower())), business_id, field_name)
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
        self.uow.add(Claim.new(kind=kind, business_id=business_id, owner_kind=owner_kind,
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
        if key is not None:
            # the approver acts with their own command (their own key): no one else names
            # them, so no grant applies; recorded as attested by the approver themself
            self.approvals_given.append({"field": "actor", "user": actor.user_id,
                                         "how": "attested", "grant_id": None})
        return actor


Handler = Callable[[Context], dict[str, Any] | None]


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
