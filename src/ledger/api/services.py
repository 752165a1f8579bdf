"""What the routes work with, built once by ``create_app`` and kept on ``app.state``: the
runtime the composition root built (the ledger and its read side) and the API keys."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from ledger.api.auth import ApiError, ApiKeys, Caller, Principal, registered_roles
from ledger.api.encoding import POSITION_HEADER, MsgspecResponse
from ledger.api.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    NEXT_CURSOR_HEADER,
    paginate,
)
from ledger.bootstrap import ReadState, Runtime
from ledger.domain.calendar import business_date, parse_instant
from ledger.domain.model import Rep
from ledger.domain.read_access import ReadKind, may_read
from ledger.projections.engine import Projector
from ledger.replay.sandbox import position_at_time

CATCH_UP_PAGE = 500  # events per step when a read catches up against its deadline
LOG_POLL_SECONDS = 0.02  # how often a read waiting for a position not yet in the log looks
ROLES_KEPT = 10_000  # users whose roles are kept between requests (then all forgotten)


@dataclass
class Services:
    runtime: Runtime
    keys: ApiKeys
    wait_timeout: float = 10.0
    # With a background projector a read never catches up itself unless it asks to wait
    # for a position (wait_for); without one (tests, the embedded default) a read brings
    # the projections up to the log's end first.
    background: bool = False
    # What the write side answered at a log position (a caller's roles; the currency on a
    # business day): the same while the log has not grown, so loaded again only then
    _roles: dict[str, tuple[int, frozenset[str] | None]] = field(default_factory=dict)
    _currency: tuple[int, date, str] | None = None

    def roles_of(self, user_id: str, log_position: int) -> frozenset[str] | None:
        """``auth.registered_roles`` of ``user_id``, the log ending at ``log_position``."""
        cached = self._roles.get(user_id)
        if cached is not None and cached[0] == log_position:
            return cached[1]
        roles = registered_roles(self.runtime, user_id)
        if len(self._roles) >= ROLES_KEPT:
            self._roles.clear()
        self._roles[user_id] = (log_position, roles)
        return roles

    def with_currency_at(self, log_position: int) -> Callable[[Any], Any]:
        """``Ledger.with_currency``, the log ending at ``log_position``: a query document
        naming the ledger's currency (the policy in force today, SPEC 1)."""
        def with_currency(document: Any) -> Any:
            if isinstance(document, dict) and "currency" not in document:
                return {**document, "currency": self.currency_at(log_position)}
            return document

        return with_currency

    def currency_at(self, log_position: int) -> str:
        day = business_date(self.runtime.clock())
        cached = self._currency
        if cached is not None and cached[:2] == (log_position, day):
            return cached[2]
        code = self.ledger.currency()
        self._currency = (log_position, day, code)
        return code

    @property
    def ledger(self) -> Any:
        """The write side (``ledger.application.Ledger``), as the runtime built it."""
        return self.runtime.ledger

    @property
    def projector(self) -> Projector:
        return self.runtime.projector()

    def projected(self) -> int:
        """The log position every projection has reached."""
        return min(self.projector.positions().values(), default=0)

    def fresh(self, wait_for: int | None, state: ReadState | None = None) -> int:
        """Bring the projections far enough for a read and return the position every
        projection has reached. ``wait_for`` (read-your-writes): wait, at most
        ``wait_timeout`` seconds, until the projections hold that position, even if the log
        does not hold it yet (another process may be about to write it); on time-out
        ``503 not_caught_up`` with ``Retry-After`` and the current position. A read that
        needs no waiting never waits for another's catch-up. ``state``: what the request
        read first (``authenticate``: ``Runtime.read_state``, which also switches to the
        tables a rebuild made current); read now when not given."""
        if state is None:
            state = self.runtime.read_state()
        done = state.reached
        if wait_for is None:
            if self.background:
                return done
            target = state.log_position
        else:
            target = wait_for
        if done >= target:
            return done
        deadline = time.monotonic() + self.wait_timeout
        while True:
            end = self.runtime.position()
            if end > done:
                # one bounded step at a time, so the deadline is kept
                self.projector.catch_up(stop=min(end, target, done + CATCH_UP_PAGE))
            done = self.projected()
            if done >= target:
                return done
            if time.monotonic() >= deadline:
                if wait_for is None:
                    return done  # answer from what is projected; the lag is in the header
                raise ApiError(503, "not_caught_up",
                               f"wait_for: the projections reached position {done}, not "
                               f"{wait_for}, within {self.wait_timeout:g}s; retry",
                               headers={"Retry-After": "1"}, position=wait_for,
                               projected_position=done, log_position=end)
            if end <= done:
                time.sleep(LOG_POLL_SECONDS)


async def services(request: Request) -> Services:
    # async: no I/O, so no hop to a worker thread (a sync dependency takes one)
    return request.app.state.services


Svc = Annotated[Services, Depends(services)]


class ReadingNotSet(RuntimeError):
    """A read was wired without what it reads from (a fault in the route, never the
    caller's input: it answers 500)."""


class Reading:
    """A read, after authentication: the projector to query and the log position it
    answers at. The live read's catch-up (``Services.fresh``) runs when the route first
    asks for either, in the route's own worker thread: a read costs one hop to a worker
    thread (and one for the caller's roles), not one per dependency."""

    def __init__(self, with_currency: Callable[[Any], Any], limit: int | None = None,
                 cursor: str | None = None, url: str = "", *,
                 projector: Projector | None = None, position: int | None = None,
                 svc: Services | None = None, wait_for: int | None = None,
                 state: ReadState | None = None) -> None:
        self.with_currency = with_currency
        self.limit = limit
        self.cursor = cursor
        self.url = url
        self._projector = projector
        self._position = position
        self._svc = svc
        self._wait_for = wait_for
        self._state = state

    def _caught_up(self) -> tuple[Projector, int]:
        """The projector to read and the log position it answers as of: the live one
        caught up on first use, or the as-of sandbox the reading was built with."""
        if self._position is None and self._svc is not None:
            self._position = self._svc.fresh(self._wait_for, self._state)
            self._projector = self._svc.projector
        if self._projector is None or self._position is None:
            raise ReadingNotSet("a Reading needs services to catch up from, or a projector "
                                "and the position it stands at")
        return self._projector, self._position

    @property
    def projector(self) -> Projector:
        return self._caught_up()[0]

    @property
    def position(self) -> int:
        return self._caught_up()[1]

    def respond(self, document: Any) -> MsgspecResponse:
        document = self.with_currency(document)  # SPEC 1: names its currency
        document, following = paginate(document, self.limit, self.cursor)
        headers = {POSITION_HEADER: str(self.position)}
        if following is not None:
            headers[NEXT_CURSOR_HEADER] = following
            headers["Link"] = f'<{self.url}>; rel="next"'.replace(
                "{cursor}", following)
        return MsgspecResponse(document, headers=headers)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_parameters(request: Request) -> None:
    """No control character in a read's path or query parameters (SPEC 1: PostgreSQL text
    cannot hold NUL; no id or date holds one): ``invalid_field`` naming the parameter."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if isinstance(value, str) and _CONTROL.search(value):
            raise ApiError(422, "invalid_field",
                           f"{name}: control characters are not allowed", field=name)


async def reading(
    request: Request,
    svc: Svc,
    caller: Caller,
    wait_for: Annotated[int | None, Query(
        ge=0, description="Read-your-writes: answer only once the projections hold this log "
                          "position (the `position` a command's answer carried)."
    )] = None,
    limit: Annotated[int | None, Query(
        ge=1, le=MAX_LIMIT, description="Page size of the answer's list (audit entries, "
                                        f"receivable items, statement lines, expenses); "
                                        f"default {DEFAULT_LIMIT}.")] = None,
    cursor: Annotated[str | None, Query(
        min_length=1, max_length=200,
        description="The `next_cursor` of the previous page.")] = None,
    at_position: Annotated[int | None, Query(
        ge=0, description="As-of a log position (SPEC 4): the answer this read gave when the "
                          "log ended there, replayed in a sandbox.")] = None,
    at_time: Annotated[str | None, Query(
        min_length=10, max_length=64, json_schema_extra={"format": "date-time"},
        description="As-of a recorded time (ISO 8601 with an offset): the answer this read "
                    "gave then.")] = None,
) -> AsyncIterator[Reading]:
    # async: what needs no I/O runs on the event loop; what does (a rep's own user, an
    # as-of position, a sandbox) in a worker thread, only when the read needs it
    check_parameters(request)
    kind, rep_id = read_kind(request)
    if needs_rep_user(kind, rep_id, caller):
        own_rep = await run_in_threadpool(rep_user, svc.runtime, str(rep_id)) == caller.user_id
    else:
        own_rep = False
    authorize(kind, rep_id, caller, own_rep)
    # the next page's link is relative: never built from the Host header
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "cursor"])
    url = f"{request.url.path}?{query + '&' if query else ''}cursor={{cursor}}"
    state: ReadState = request.state.read_state  # read by ``authenticate``
    currency = svc.with_currency_at(state.log_position)
    if at_position is None and at_time is None:
        yield Reading(currency, limit, cursor, url, svc=svc, wait_for=wait_for, state=state)
        return
    stop = await run_in_threadpool(as_of_position, svc.runtime, at_position, at_time)
    if stop is None:  # as_of_position answers a position whenever one of them is given
        raise ReadingNotSet("an as-of read found no position to replay to")
    sandbox = svc.runtime.reading(stop=stop)
    then = await run_in_threadpool(sandbox.__enter__)
    try:
        yield Reading(currency, limit, cursor, url, projector=then, position=stop)
    finally:
        await run_in_threadpool(sandbox.__exit__, None, None, None)


def as_of_position(runtime: Runtime, at_position: int | None, at_time: str | None) -> int | None:
    """The log position an as-of read replays to (None: a read of the live projections)."""
    if at_position is not None and at_time is not None:
        raise ApiError(422, "invalid_field", "at_position and at_time: give one, not both",
                       field="at_time")
    if at_position is not None:
        end = runtime.position()
        if at_position > end:
            raise ApiError(422, "invalid_field",
                           f"at_position: {at_position} is beyond the log's end ({end})",
                           field="at_position", position=at_position, log_position=end)
        return at_position
    if at_time is not None:
        # an unencoded "+08:00" arrives as " 08:00"
        text = at_time[:-6] + "+" + at_time[-5:] if at_time[-6:-5] == " " else at_time
        try:
            moment = parse_instant(text)
        except ValueError as e:
            raise ApiError(422, "invalid_field", f"at_time: {e}", field="at_time") from None
        return position_at_time(runtime.source, moment)
    return None


# The routers whose reads are about one rep (statement, ranks, trips) and about users: a
# route's first tag says which (SPEC 5.4 Reads); every other read is about the ledger.
_KIND_OF_TAG = {"reps": ReadKind.REP, "users": ReadKind.USERS}


def read_kind(request: Request) -> tuple[ReadKind, str | None]:
    """What a read is about (its route's first tag) and the rep it names, if any."""
    route = request.scope.get("route")
    tags = getattr(route, "tags", None) or [""]
    kind = _KIND_OF_TAG.get(str(tags[0]), ReadKind.LEDGER)
    return kind, request.path_params.get("rep_id") or request.query_params.get("rep")


def needs_rep_user(kind: ReadKind, rep_id: str | None, caller: Principal) -> bool:
    """Whether authorising the read needs the rep's own user (a sales rep reading a rep)."""
    return kind is ReadKind.REP and bool(rep_id) and "sales_rep" in caller.roles


def authorize(kind: ReadKind, rep_id: str | None, caller: Principal, own_rep: bool) -> None:
    """403 ``not_authorized`` for a read the caller's roles do not cover (SPEC 5.4)."""
    if not may_read(caller.roles, kind, own_rep=own_rep):
        what = {ReadKind.REP: f"rep {rep_id!r}" if rep_id else "this rep",
                ReadKind.USERS: "users", ReadKind.LEDGER: "the ledger's figures"}[kind]
        raise ApiError(403, "not_authorized",
                       f"user {caller.user_id!r} with roles {sorted(caller.roles)} may not read "
                       f"{what} (a sales_rep reads only their own rep's statements, ranks and "
                       "trips; admin reads users only)",
                       user=caller.user_id, roles=sorted(caller.roles), read=kind.value)


def rep_user(runtime: Runtime, rep_id: str) -> str | None:
    """The user id of a rep's own user (None for an unknown rep or a rep without one)."""
    rep = runtime.ledger.load(Rep, rep_id)
    return None if rep is None else getattr(rep, "user_id", None)


Read = Annotated[Reading, Depends(reading)]
