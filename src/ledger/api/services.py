"""What the routes work with, built once by ``create_app`` (the composition root) and kept
on ``app.state``: the ledger, the API keys and the projector that keeps the read side."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from ledger.api.auth import ApiError, ApiKeys, Caller
from ledger.api.encoding import POSITION_HEADER, MsgspecResponse
from ledger.application import Ledger
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

    def respond(self, document: Any) -> MsgspecResponse:
        document = self.projector.ledger.with_currency(document)  # SPEC 1: names its currency
        return MsgspecResponse(document, headers={POSITION_HEADER: str(self.position)})


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
) -> Reading:
    check_parameters(request)
    return Reading(svc.projector, svc.fresh(wait_for))


Read = Annotated[Reading, Depends(reading)]
