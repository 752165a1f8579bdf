"""Receivables and aging (SPEC 5.3 ``receivables``, ``aging``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ledger.api.encoding import MsgspecResponse
from ledger.api.params import AsOf
from ledger.api.schemas import Aging, Receivables, read_responses
from ledger.api.services import Read
from ledger.projections.aging import query_aging
from ledger.projections.receivables import query_receivables

router = APIRouter(prefix="/v1", tags=["receivables"])

_RECEIVABLES = read_responses(Receivables, "`ledger query receivables --json`.")


@router.get("/customers/{customer_id}/receivables", operation_id="getCustomerReceivables",
            summary="A customer's receivables",
            response_class=MsgspecResponse, responses=_RECEIVABLES)
def customer_receivables(customer_id: str, read: Read, as_of: AsOf) -> MsgspecResponse:
    return read.respond(query_receivables(read.projector, customer_id, as_of))


@router.get("/receivables", operation_id="getReceivables",
            summary="A customer's receivables (the CLI's parameters)",
            response_class=MsgspecResponse, responses=_RECEIVABLES)
def receivables(customer: Annotated[str, Query(min_length=1)], read: Read,
                as_of: AsOf) -> MsgspecResponse:
    return customer_receivables(customer, read, as_of)


@router.get("/aging", operation_id="getAging",
            summary="The company's aging report", response_class=MsgspecResponse,
            responses=read_responses(Aging, "`ledger query aging --json`.", lookup=False))
def aging(read: Read, as_of: AsOf) -> MsgspecResponse:
    return read.respond(query_aging(read.projector, as_of))
