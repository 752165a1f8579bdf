"""What the routes work with, built once by ``create_app`` (the composition root) and kept
on ``app.state``: the ledger, the API keys and the projector that keeps the read side."""

from __future__ import annotations

import threading
from urllib.parse import urlencode
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from eventsourcing.application import AggregateNotFoundError

from ledger.api.auth import ApiError, ApiKeys, Caller, Principal
from ledger.api.encoding import POSITION_HEADER, MsgspecResponse
from ledger.api.pagination import (
    DEFAULT_LIMIT, MAX_LIMIT, NEXT_CURSOR_HEADER, paginate,
)
from ledger.application import Ledger
from ledger.domain.model import Rep
from ledger.domain.read_access import ReadKind, may_read
from ledger.projections.engine import Projector


@dataclass
class Services:
    ledger: Ledger
    keys: ApiKeys
    projector: Projector
    wait_timeout: float = 10.0
    # One catch-up at a time in this process: two concurrent catch-ups over different
    # stretches of the log could both apply the events they share.
    _catching_up: threading.Lock = field(default_factory=threading.Lock)

    def fresh(self, wait_for: int | None) -> int:
        """Bring the projections up to date before a read, and return the log position
        every projection has reached. With ``wait_for`` (read-your-writes) wait until the
        projections hold that position; otherwise catch up with the whole log (the
        embedded SQLite has no background projector)."""
        with self._catching_up:
            if wait_for is None:
                self.projector.catch_up()
            else:
                end = self.ledger.max_position()
                if wait_for > end:
                    raise ApiError(422, "invalid_field",
                                   f"wait_for: position {wait_for} is beyond the log's end ({end})",
                                   field="wait_for", position=wait_for, log_position=end)
                try:
                    self.projector.wait(wait_for, timeout=self.wait_timeout)
                except TimeoutError as e:
                    raise ApiError(503, "not_caught_up", str(e), headers={"Retry-After": "1"},
                                   position=wait_for) from None
            return min(self.projector.positions().values(), default=0)


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


Svc = Annotated[Services, Depends(services)]


@dataclass(frozen=True)
class Reading:
    """A read, after authentication and catch-up: the projector to query and the log
    position it answers at."""

    projector: Projector
    position: int
    limit: int | None = None
    cursor: str | None = None
    url: str = ""

    def respond(self, document: Any) -> MsgspecResponse:
        document, following = paginate(document, self.limit, self.cursor)
        headers = {POSITION_HEADER: str(self.position)}
        if following is not None:
            headers[NEXT_CURSOR_HEADER] = following
            headers["Link"] = f'<{self.url}>; rel="next"'.replace(
                "{cursor}", following)
        return MsgspecResponse(document, headers=headers)


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
) -> Reading:
    authorize_read(request, svc, caller)
    # the next page's link is relative: never built from the Host header
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "cursor"])
    url = f"{request.url.path}?{query + '&' if query else ''}cursor={{cursor}}"
    return Reading(svc.projector, svc.fresh(wait_for), limit, cursor, url)


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
        own_rep = rep_user(svc.ledger, rep_id) == caller.user_id
    if not may_read(caller.roles, kind, own_rep=own_rep):
        what = {ReadKind.REP: f"rep {rep_id!r}" if rep_id else "this rep",
                ReadKind.USERS: "users", ReadKind.LEDGER: "the ledger's figures"}[kind]
        raise ApiError(403, "not_authorized",
                       f"user {caller.user_id!r} with roles {sorted(caller.roles)} may not read "
                       f"{what} (a sales_rep reads only their own rep's statements, ranks and "
                       "trips; admin reads users only)",
                       user=caller.user_id, roles=sorted(caller.roles), read=kind.value)


def rep_user(ledger: Ledger, rep_id: str) -> str | None:
    """The user id of a rep's own user (None for an unknown rep or a rep without one)."""
    try:
        rep = ledger.app.repository.get(Rep.create_id(rep_id))
    except AggregateNotFoundError:
        return None
    return getattr(rep, "user_id", None)


Read = Annotated[Reading, Depends(reading)]
