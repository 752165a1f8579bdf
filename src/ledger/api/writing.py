"""The command path of the HTTP API (SPEC 5.4): the key's user is every command's actor.

A body without ``actor`` is sent with the key's user as its actor; a body whose ``actor``
names someone else is answered here as ``not_authorized`` without reaching the ledger (so
nothing is stored under its ``command_id``). Everything else, auditors' commands
included (the domain's ``authority.check_actor``), is judged by ``Ledger.handle``, in one
batch and in order. The answers are typed (``ledger.service.answers``); the router encodes
them.
"""

from __future__ import annotations

from typing import Any

from ledger.api.auth import Principal
from ledger.bootstrap import Runtime
from ledger.domain.commands import valid_id
from ledger.service.answers import Answer, Applied, Duplicate, DuplicateAt, Refused


def as_actor(principal: Principal, body: Any) -> Any:
    """The body to execute on the caller's behalf, or the answer refusing it."""
    if not isinstance(body, dict):
        return body  # the ledger answers invalid_field
    command_id = body.get("command_id") if isinstance(body.get("command_id"), str) else None
    name = body.get("command") if isinstance(body.get("command"), str) else None
    if "actor" not in body:
        body = {**body, "actor": principal.user_id}
    elif valid_id(body["actor"]) and body["actor"] != principal.user_id:
        # (an actor that is no id at all, with a control character..., goes on to the
        # ledger, which refuses it as invalid_field: SPEC 5.2's first rule)
        return Refused(command_id=command_id, command=name, rule="not_authorized",
                       message=f"actor {body['actor']!r} is not the API key's user "
                               f"{principal.user_id!r}",
                       details={"actor": body["actor"], "user": principal.user_id})
    return body


def submit(runtime: Runtime, principal: Principal, bodies: list[Any]) -> list[Answer]:
    """One answer per body, in order. Applied answers carry the log ``position`` of their
    events; a duplicate carries the log's position now (its events are at or before it)."""
    answers: list[Answer | None] = []
    to_run: list[tuple[int, Any]] = []
    for i, body in enumerate(bodies):
        checked = as_actor(principal, body)
        if isinstance(checked, Refused):
            answers.append(checked)
        else:
            answers.append(None)
            to_run.append((i, checked))
    ledger = runtime.ledger
    if to_run:
        for (i, _), answer in zip(to_run, ledger.handle([b for _, b in to_run]), strict=True):
            answers[i] = answer
        if any(isinstance(a, Duplicate) for a in answers):
            now = ledger.max_position()
            answers = [DuplicateAt(command_id=a.command_id, command=a.command,
                                   original=a.original, position=now)
                       if isinstance(a, Duplicate) else a for a in answers]
    return [a for a in answers if a is not None]


def last_position(answers: list[Answer]) -> int | None:
    positions = [a.position for a in answers if isinstance(a, Applied | DuplicateAt)
                 and a.position is not None]
    return max(positions, default=None)
