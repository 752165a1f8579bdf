"""JSON out with msgspec (the same encoder the CLI's ``--json`` uses), and the HTTP status
of a command's answer (SPEC 5.4)."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import Response

from ledger.service.answers import Answer, document

_encoder = msgspec.json.Encoder()

POSITION_HEADER = "X-Ledger-Position"


class MsgspecResponse(Response):
    """A JSON response encoded by msgspec, untouched by FastAPI's own encoder."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def error_body(rule: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"rule": rule, "message": message, "details": details or {}}


# Rules answered with a status other than 422 (SPEC 5.4: "A rule violation answers 422 with
# the rule's name and numbers, `not_authorized` and a wrong role 403, a version conflict
# 409"). A wrong role is `not_authorized` in the domain (SPEC 5.2 order of rules).
RULE_STATUS = {"not_authorized": 403, "version_conflict": 409}


def answer_status(answer: Answer | dict[str, Any]) -> int:
    """200 for an applied command; for a rejected one 403, 409 or 422 by its rule; a
    duplicate answers what its first answer answered (an idempotent retry sees the same
    status as the first try). ``answer``: a typed answer or its document."""
    doc = answer if isinstance(answer, dict) else document(answer)
    if doc.get("status") == "duplicate" and isinstance(doc.get("original"), dict):
        doc = doc["original"]
    if doc.get("status") == "rejected":
        return RULE_STATUS.get(str(doc.get("rule")), 422)
    return 200
