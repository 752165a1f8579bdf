"""The audit trail of one entity (SPEC 5.3 ``audit``, 5.4 ``GET /v1/audit/...``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ledger.api.auth import ApiError
from ledger.api.encoding import MsgspecResponse
from ledger.api.schemas import Audit, read_responses
from ledger.api.services import Read
from ledger.projections.audit import query_actor, query_audit

router = APIRouter(prefix="/v1", tags=["audit"])

_AUDIT = read_responses(Audit, "`ledger query audit --json`.")


@router.get("/audit/{entity_id}", operation_id="getEntityAudit",
            summary="The decisions and events about one entity",
            response_class=MsgspecResponse, responses=_AUDIT)
def entity_audit(entity_id: str, read: Read) -> MsgspecResponse:
    return read.respond(query_audit(read.projector, entity_id))


@router.get("/audit", operation_id="getAudit",
            summary="An entity's or a user's audit trail (the CLI's parameters)",
            description="Exactly one of `entity` (the trail of one entity, as "
                        "`/v1/audit/{entity_id}`) and `actor` (every decision the user took or "
                        "approved, as `/v1/actors/{user_id}/audit`).",
            response_class=MsgspecResponse,
            responses=read_responses(Audit, "`ledger query audit --entity ID|--actor U --json` "
                                            "(with `actor`: `{actor, entries}`)."))
def audit(read: Read, entity: Annotated[str | None, Query(min_length=1)] = None,
          actor: Annotated[str | None, Query(min_length=1)] = None) -> MsgspecResponse:
    if (entity is None) == (actor is None):
        raise ApiError(422, "invalid_field", "give exactly one of entity and actor",
                       field="entity")
    if actor is not None:
        return read.respond(query_actor(read.projector, actor))
    return entity_audit(entity, read)  # type: ignore[arg-type]
