"""Errors a query function answers (SPEC 5.3): the rule's name and a message, like a
rejected command (``unknown_reference`` for an unknown customer, rep or budget,
``invalid_field`` for a malformed date or period)."""

from __future__ import annotations

from typing import Any


class QueryError(Exception):
    """A query that cannot be answered. The CLI and HTTP map ``rule`` as they map a
    command's rejection (``unknown_reference`` -> 422, ...)."""

    def __init__(self, rule: str, message: str, **details: Any) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "details": self.details}


def unknown(kind: str, ref: str, field: str) -> QueryError:
    return QueryError("unknown_reference", f"unknown {kind} {ref!r}", kind=kind, ref=ref, field=field)


def invalid(field: str, message: str) -> QueryError:
    return QueryError("invalid_field", f"{field}: {message}", field=field)
