"""A command's answer (SPEC 1 Identity, 5.2): applied, duplicate or rejected, as typed values.

The service hands these out; the edges encode them (the HTTP API, the ``Ledger.execute``
dict edge, the import report). A Struct's fields are encoded in the order declared, so
each answer's JSON document keeps its keys in one fixed order: ``command_id``, ``command``,
``status``, then the status's own fields.

A rejection that must never be stored (its body is out of bounds or has no usable
``command_id``, it reuses an id for another body, or the command could not be applied or
stored) is a ``Refused``: the same document as a ``Rejected``, a different type, so the
unit of work can tell which rejections to keep for a repeat without a flag in the answer.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from ledger.domain.commands import valid_id
from ledger.domain.errors import Rejection

# a command name echoed in an answer is a plain name, at most this long (a hostile one is
# answered as unnamed)
MAX_ECHOED_NAME = 200


class Applied(msgspec.Struct, kw_only=True):
    """The command's events are saved. ``events``: how many; ``position``: the highest log
    position of the batch that saved them (a read waiting for it sees the write)."""

    command_id: str
    command: str | None
    status: Literal["applied"] = "applied"
    result: dict[str, Any]
    events: int = 0
    position: int | None = None

    def stored(self) -> dict[str, Any]:
        """The answer a repeat of the command gets as its ``original`` (no events count,
        no position: they belong to the batch that saved it)."""
        return {"command_id": self.command_id, "command": self.command, "status": self.status,
                "result": self.result}


class Rejected(msgspec.Struct, kw_only=True):
    """A rule rejected the command: nothing of it is saved but the rejection itself, which
    a repeat of the same body answers again."""

    command_id: str | None
    command: str | None
    status: Literal["rejected"] = "rejected"
    rule: str
    message: str
    details: dict[str, Any]

    def stored(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


class Refused(Rejected, kw_only=True):
    """A rejection answered and never stored (the same document as ``Rejected``)."""


class Duplicate(msgspec.Struct, kw_only=True):
    """The same actor and ``command_id`` with the same body again: its first answer, as
    stored (an old record's document is handed back as it was saved)."""

    command_id: str
    command: str | None
    status: Literal["duplicate"] = "duplicate"
    original: dict[str, Any]


class DuplicateAt(Duplicate, kw_only=True):
    """A duplicate as the HTTP API answers it: with the log's position when it was answered
    (the first answer's events are at or before it)."""

    position: int


Answer = Applied | Duplicate | Rejected


def rejected(command_id: str | None, command: str | None, rejection: Rejection, *,
             stored: bool = True) -> Rejected:
    """The answer rejecting a command by ``rejection``'s rule; ``stored=False`` for one
    that is never stored (a ``Refused``)."""
    kind = Rejected if stored else Refused
    return kind(command_id=command_id, command=command, rule=rejection.rule,
                message=rejection.message, details=_jsonable(rejection.details))


def is_stored(answer: Answer) -> bool:
    """A rejection that a repeat of the same body answers again (saved with the batch)."""
    return isinstance(answer, Rejected) and not isinstance(answer, Refused)


def document(answer: Answer) -> dict[str, Any]:
    """The answer as the JSON object the edges write (keys in declared order; the values
    as they are: the encoder of the edge turns them into JSON)."""
    return msgspec.structs.asdict(answer)


def command_of(body: Any) -> str | None:
    """The command name a body gives, if it is a plain name worth echoing."""
    name = body.get("command") if isinstance(body, dict) else None
    return name if (isinstance(name, str) and len(name) <= MAX_ECHOED_NAME
                    and name.isprintable()) else None


def echoed_id(body: Any) -> str | None:
    """A refused body's command_id, if it is a plain id worth echoing."""
    value = body.get("command_id") if isinstance(body, dict) else None
    return value if valid_id(value) else None


def _jsonable(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))
