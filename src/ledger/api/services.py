"""What the routes work with, built once by ``create_app`` and kept on ``app.state``: the
runtime the composition root built (the ledger and its read side) and the API keys."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request

from ledger.api.auth import ApiError, ApiKeys, Caller, Principal
from ledger.api.encoding import POSITION_HEADER, MsgspecResponse
from ledger.api.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    NEXT_CURSOR_HEADER,
    paginate,
)
from ledger.bootstrap import Runtime
from ledger.domain.calendar import parse_instant
from ledger.domain.model import Rep
from ledger.domain.read_access import ReadKind, may_read
from ledger.projections.engine import Projector
from ledger.replay.sandbox import position_at_time

CATCH_UP_PAGE = 500  # events per step when a read catches up against its deadline
LOG_POLL_SECONDS = 0.02  # how often a read waiting for a position not yet in the log looks


@dataclass
class Services:
    runtime: Runtime
    keys: ApiKeys
    wait_timeout: float = 10.0
    # With a background projector a read never catches up itself unless it asks to wait
    # for a position (wait_for); without one (tests, the embedded default) a read brings
    # the projections up to the log's end first.
    background: bool = False

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

    def fresh(self, wait_for: int | None) -> int:
        """Bring the projections far enough for a read and return the position every
        projection has reached. ``wait_for`` (read-your-writes): wait, at most
        ``wait_timeout`` seconds, until the projections hold that position, even if the log
        does not hold it yet (another process may be about to write it); on time-out
        ``503 not_caught_up`` with ``Retry-After`` and the current position. A read that
        needs no waiting never waits for another's catch-up."""
        self.projector.follow_generations()  # after a rebuild, the new tables answer
        done = self.projected()
        if wait_for is None:
            if self.background:
                return done
            target = self.runtime.position()
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


def services(request: Request) -> Services:
    return request.app.state.services


Svc = Annotated[Services, Depends(services)]


@dataclass(frozen=True)
class Reading:
    """A read, after authentication and catch-up: the projector to query and the log
    position it answers at."""

    projector: Projector
    position: int
    with_currency: Callable[[Any], Any]
    limit: int | None = None
    cursor: str | None = None
    url: str = ""

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


def reading(
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
) -> Iterator[Reading]:
    check_parameters(request)
    authorize_read(request, svc, caller)
    # the next page's link is relative: never built from the Host header
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "cursor"])
    url = f"{request.url.path}?{query + '&' if query else ''}cursor={{cursor}}"
    stop = as_of_position(svc.runtime, at_position, at_time)
    currency = svc.ledger.with_currency
    if stop is None:
        yield Reading(svc.projector, svc.fresh(wait_for), currency, limit, cursor, url)
        return
    with svc.runtime.reading(stop=stop) as then:
        yield Reading(then, stop, currency, limit, cursor, url)


def as_of_position(runtime: Runtime, at_position: int | None, at_time: str | None) -> int | None:
    """The log position an as-of read replays to (None: a read of the live projections)."""
    if at_position is not None and at_time is not None:
        raise ApiError(422, "invalid_field", "at_position and at_time: give one, not both",
                       field="at_time")
    end = runtime.position()
    if at_position is not None:
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


def authorize_read(request: Request, svc: Services, caller: Principal) -> None:
    """403 ``not_authorized`` for a read the caller's roles do not cover (SPEC 5.4)."""
    route = request.scope.get("route")
    tags = getattr(route, "tags", None) or [""]
    kind = _KIND_OF_TAG.get(str(tags[0]), ReadKind.LEDGER)
    own_rep = False
    rep_id = request.path_params.get("rep_id") or request.query_params.get("rep")
    if kind is ReadKind.REP and rep_id and "sales_rep" in caller.roles:
        own_rep = rep_user(svc.runtime, rep_id) == caller.user_id
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
