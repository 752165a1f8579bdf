"""``POST /v1/commands`` (SPEC 5.4): one command object, or a list of them."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request

from ledger.api.auth import ApiError, Caller
from ledger.api.encoding import POSITION_HEADER, MsgspecResponse, answer_status
from ledger.api.schemas import ERRORS, CommandAnswer, Error, json_content, ref
from ledger.api.services import Svc
from ledger.api.writing import last_position, submit
from ledger.domain.commands import MAX_COMMAND_BYTES, MAX_DEPTH, MAX_ITEMS, MAX_STRING

router = APIRouter(prefix="/v1", tags=["commands"])

MAX_COMMANDS = 10_000  # per request; `ledger import` is the path for bigger files
MAX_BODY_BYTES = 8 * 1024 * 1024  # per request (each command: MAX_COMMAND_BYTES, SPEC 1)


async def command_payload(request: Request) -> Any:
    """The body, at most ``MAX_BODY_BYTES`` (read no further), decoded; a body that is too
    big, not JSON or nested too deep for the decoder is ``invalid_field`` (422). The
    bounds inside each command (depth, list lengths, strings) are the ledger's (SPEC 1)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_big(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_big(size)
        chunks.append(chunk)
    try:
        return msgspec.json.decode(b"".join(chunks))
    except msgspec.DecodeError as e:
        raise ApiError(422, "invalid_field", f"the body is not JSON: {e}", field="$") from None
    except RecursionError:
        raise ApiError(422, "invalid_field",
                       f"the body is nested too deep (at most {MAX_DEPTH} levels per command)",
                       field="$", max_depth=MAX_DEPTH) from None


def _too_big(size: int) -> ApiError:
    return ApiError(422, "invalid_field",
                    f"the body is more than {MAX_BODY_BYTES} bytes ({size} read)",
                    field="$", size=size, max_bytes=MAX_BODY_BYTES)


Payload = Annotated[Any, Depends(command_payload)]

_DESCRIPTION = """\
Apply one command (a JSON object, SPEC 5.2) or a list of them, in order.

The API key's user is every command's actor: a command without `actor` gets it filled in;
one whose `actor` names someone else is rejected `not_authorized`, and so is any command
but `OpenDispute` from an auditor (neither reaches the ledger).

**One command** answers its answer, with the status:
`200` applied; `422` rejected by a rule (`rule`, `message` and the numbers in `details`);
`403` rejected `not_authorized` (the actor's or an approver's role is wrong, or the actor is
not the key's user); `409` `version_conflict` (another writer changed the same records:
retry); a `duplicate` (the same `command_id` and body again) answers the status of its
first answer, with the first answer in `original`.

**A list** answers `200` with one answer per command, in order; each answer's own status
is in its `status` and `rule`.

**Limits** (above them: `invalid_field`, nothing stored): a request body of at most
{body} bytes and {commands} commands; each command at most {command} bytes of JSON,
nested at most {depth} levels, at most {items} entries in any list or object, strings
of at most {string} characters (ids 200, free text 2,000) with no control character
(free text may hold tab and newline); every amount, and each sale line's quantity x unit
price, at most 10^13 fen; dates within 1900-01-01..9999-12-31.

An applied answer carries the log `position` of its events: pass it as `wait_for` to a
read to see the write. The response header `X-Ledger-Position` holds the highest position
of the answers.
"""


def _request_body() -> dict[str, Any]:
    from ledger.api.contract import one_command
    from ledger.api.schemas import components

    one = one_command(components()[0])
    schema = {"oneOf": [one, {"type": "array", "items": one, "maxItems": MAX_COMMANDS}]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "/commands",
    operation_id="postCommands",
    summary="Apply one command or a list of commands",
    description=_DESCRIPTION.format(body=MAX_BODY_BYTES, commands=MAX_COMMANDS,
                                    command=MAX_COMMAND_BYTES, depth=MAX_DEPTH, items=MAX_ITEMS,
                                    string=MAX_STRING),
    response_class=MsgspecResponse,
    openapi_extra=_request_body(),
    responses={
        200: json_content({"oneOf": [ref(CommandAnswer),
                                     {"type": "array", "items": ref(CommandAnswer)}]},
                          "One command applied (or a duplicate of an applied one), or a "
                          "list's answers."),
        **ERRORS,  # type: ignore[dict-item]
        403: json_content({"anyOf": [ref(CommandAnswer), ref(Error)]},
                          "`not_authorized`: a wrong role, an actor who is not the key's "
                          "user, an auditor's write; or the key's user is not registered."),
        409: json_content(ref(CommandAnswer), "`version_conflict`: retry the command."),
        422: json_content({"anyOf": [ref(CommandAnswer), ref(Error)]},
                          "Rejected by a rule (its name and numbers), or a body that is not "
                          "JSON (`invalid_field`)."),
    },
)
def post_commands(request: Request, svc: Svc, caller: Caller, payload: Payload) -> MsgspecResponse:
    bodies = payload if isinstance(payload, list) else [payload]
    if len(bodies) > MAX_COMMANDS:
        raise ApiError(422, "invalid_field", f"at most {MAX_COMMANDS} commands per request",
                       field="$", count=len(bodies), max=MAX_COMMANDS)
    answers = submit(svc.runtime, caller, bodies)
    request.app.state.metrics.count_answers(answers)
    position = last_position(answers)
    headers = {POSITION_HEADER: str(position)} if position is not None else None
    if isinstance(payload, list):
        return MsgspecResponse(answers, headers=headers)
    return MsgspecResponse(answers[0], status_code=answer_status(answers[0]), headers=headers)
