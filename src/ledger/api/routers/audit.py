"""The audit trail of one entity (SPEC 5.3 ``audit``, 5.4 ``GET /v1/audit/...``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ledger.api.encoding import MsgspecResponse
from ledger.api.schemas import Audit, read_responses
from ledger.api.services import Read
from ledger.projections.audit import query_audit

router = APIRouter(prefix="/v1", tags=["audit"])

_AUDIT = read_responses(Audit, "`ledger query audit --json`.")


@router.get("/audit/{entity_id}", summary="The decisions and events about one entity",
            response_class=MsgspecResponse, responses=_AUDIT)
def entity_audit(entity_id: str, read: Read) -> MsgspecResponse:
    return read.respond(query_audit(read.projector, entity_id))


@router.get("/audit", summary="An entity's audit trail (the CLI's parameters)",
            response_class=MsgspecResponse, responses=_AUDIT)
def audit(entity: Annotated[str, Query(min_length=1)], read: Read) -> MsgspecResponse:
    return entity_audit(entity, read)
