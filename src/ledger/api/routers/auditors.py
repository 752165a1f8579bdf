"""What auditors and finance look up beside balances (SPEC 3 Audit trail, SPEC 5.3): a
user's decisions, a command and its events, late reports, segregation-of-duty checks, DSO,
disputes and the policies in force. (A rep's incentive trips are in ``reps``.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ledger.api.encoding import MsgspecResponse
from ledger.api.params import AsOf
from ledger.api.schemas import (
    ActorAudit,
    CommandTrace,
    Disputes,
    Dso,
    Late,
    Policies,
    Sod,
    read_responses,
)
from ledger.api.services import Read
from ledger.projections.aging import query_dso
from ledger.projections.audit import query_actor, query_command, query_late, query_sod
from ledger.projections.disputes import query_disputes
from ledger.projections.policies import query_policies

router = APIRouter(prefix="/v1", tags=["auditors"])

_DATE = r"^\d{4}-\d{2}-\d{2}$"
DateParam = Annotated[str | None, Query(pattern=_DATE, json_schema_extra={"format": "date"})]

Actor = Annotated[str | None, Query(min_length=1, description="Only this actor's command.")]

_COMMAND = read_responses(CommandTrace, "`ledger query command --id CID --json`.")


@router.get("/actors/{user_id}/audit", operation_id="getActorAudit",
            summary="Every decision a user took or approved",
            response_class=MsgspecResponse,
            responses=read_responses(ActorAudit, "`ledger query audit --actor U --json`."))
def actor_audit(user_id: str, read: Read) -> MsgspecResponse:
    return read.respond(query_actor(read.projector, user_id))


@router.get("/commands/{command_id}", operation_id="getCommandById",
            summary="A command's answer and the events it produced",
            response_class=MsgspecResponse, responses=_COMMAND)
def command_by_id(command_id: str, read: Read, actor: Actor = None) -> MsgspecResponse:
    return read.respond(query_command(read.projector, command_id, actor))


@router.get("/command", operation_id="getCommand",
            summary="A command and its events (the CLI's parameters)",
            response_class=MsgspecResponse, responses=_COMMAND)
def command(read: Read, id: Annotated[str, Query(min_length=1)],  # noqa: A002
            actor: Actor = None) -> MsgspecResponse:
    return command_by_id(id, read, actor)


@router.get("/late", operation_id="getLate", summary="Events reported late, by business date",
            response_class=MsgspecResponse,
            responses=read_responses(Late, "`ledger query late --json`.", lookup=False))
def late(read: Read, date_from: Annotated[str | None, Query(
             alias="from", pattern=_DATE, json_schema_extra={"format": "date"})] = None,
         to: DateParam = None) -> MsgspecResponse:
    return read.respond(query_late(read.projector, date_from, to))


@router.get("/sod", operation_id="getSod", summary="Segregation-of-duty checks and any violation",
            response_class=MsgspecResponse,
            responses=read_responses(Sod, "`ledger query sod --json`.", lookup=False))
def sod(read: Read) -> MsgspecResponse:
    return read.respond(query_sod(read.projector))


@router.get("/dso", operation_id="getDso",
            summary="Days sales outstanding", response_class=MsgspecResponse,
            responses=read_responses(Dso, "`ledger query dso --json`.", lookup=False))
def dso(read: Read, as_of: AsOf) -> MsgspecResponse:
    return read.respond(query_dso(read.projector, as_of))


@router.get("/disputes", operation_id="getDisputes",
            summary="Disputes, open and resolved, by entity",
            response_class=MsgspecResponse,
            responses=read_responses(Disputes, "`ledger query disputes --json`.", lookup=False))
def disputes(read: Read, entity: Annotated[str | None, Query(min_length=1)] = None,
             open: bool = False) -> MsgspecResponse:  # noqa: A002
    return read.respond(query_disputes(read.projector, entity, open))


@router.get("/policies", operation_id="getPolicies",
            summary="Every policy and the commission plan in force",
            response_class=MsgspecResponse,
            responses=read_responses(Policies, "`ledger query policies --json`.", lookup=False))
def policies(read: Read, as_of: AsOf) -> MsgspecResponse:
    return read.respond(query_policies(read.projector, as_of))
