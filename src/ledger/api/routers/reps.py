"""Sales reps: commission statements, ranks and incentive trips (SPEC 5.3 ``commission``,
``ranks``, ``trips``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ledger.api.contract import MONTH
from ledger.api.encoding import MsgspecResponse
from ledger.api.schemas import Commission, Ranks, Trips, read_responses
from ledger.api.services import Read
from ledger.projections.commissions import query_commission, query_ranks
from ledger.projections.trips import query_trips

router = APIRouter(prefix="/v1", tags=["reps"])

Period = Annotated[str, Path(description="A month, `YYYY-MM`.", examples=["2024-03"],
                             pattern=MONTH)]

_COMMISSION = read_responses(Commission, "`ledger query commission --json`.")
_RANKS = read_responses(Ranks, "`ledger query ranks --json`.")


@router.get("/reps/{rep_id}/commission/{period}", operation_id="getRepCommission",
            summary="A rep's commission statement",
            response_class=MsgspecResponse, responses=_COMMISSION)
def rep_commission(rep_id: str, period: Period, read: Read) -> MsgspecResponse:
    return read.respond(query_commission(read.projector, rep_id, period))


@router.get("/commission", operation_id="getCommission",
            summary="A rep's commission statement (the CLI's parameters)",
            response_class=MsgspecResponse, responses=_COMMISSION)
def commission(rep: Annotated[str, Query(min_length=1)],
               period: Annotated[str, Query(description="`YYYY-MM`", pattern=MONTH)],
               read: Read) -> MsgspecResponse:
    return rep_commission(rep, period, read)


@router.get("/reps/{rep_id}/ranks", operation_id="getRepRanks",
            summary="A rep's rank and rank history",
            response_class=MsgspecResponse, responses=_RANKS)
def rep_ranks(rep_id: str, read: Read) -> MsgspecResponse:
    return read.respond(query_ranks(read.projector, rep_id))


@router.get("/ranks", operation_id="getRanks",
            summary="A rep's rank and rank history (the CLI's parameters)",
            response_class=MsgspecResponse, responses=_RANKS)
def ranks(rep: Annotated[str, Query(min_length=1)], read: Read) -> MsgspecResponse:
    return rep_ranks(rep, read)


Year = Annotated[int | None, Query(ge=1900, le=9998, description="A year `YYYY`; default: "
                                                                 "this year.")]
_TRIPS = read_responses(Trips, "`ledger query trips --rep R --json`.")


@router.get("/reps/{rep_id}/trips", operation_id="getRepTrips",
            summary="A rep's progress towards the incentive trips",
            response_class=MsgspecResponse, responses=_TRIPS)
def rep_trips(rep_id: str, read: Read, year: Year = None) -> MsgspecResponse:
    return read.respond(query_trips(read.projector, rep_id, year))


@router.get("/trips", operation_id="getTrips",
            summary="A rep's incentive trips (the CLI's parameters)",
            response_class=MsgspecResponse, responses=_TRIPS)
def trips(rep: Annotated[str, Query(min_length=1)], read: Read, year: Year = None) -> MsgspecResponse:
    return rep_trips(rep, read, year)
