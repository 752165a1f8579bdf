"""The general ledger: trial balance and reconciliation (SPEC 5.3 ``trial-balance``,
``reconcile``)."""

from __future__ import annotations

from fastapi import APIRouter

from ledger.api.encoding import MsgspecResponse
from ledger.api.params import AsOf
from ledger.api.schemas import Reconcile, TrialBalance, read_responses
from ledger.api.services import Read
from ledger.projections.general_ledger import trial_balance as query_trial_balance
from ledger.projections.reconcile import query_reconcile

router = APIRouter(prefix="/v1", tags=["general ledger"])


@router.get("/trial-balance", operation_id="getTrialBalance",
            summary="The trial balance", response_class=MsgspecResponse,
            responses=read_responses(TrialBalance, "`ledger query trial-balance --json`.",
                                     lookup=False))
def trial_balance(read: Read, as_of: AsOf) -> MsgspecResponse:
    return read.respond(query_trial_balance(read.projector, as_of))


@router.get("/reconcile", operation_id="getReconcile",
            summary="Control accounts against their sub-ledgers",
            response_class=MsgspecResponse,
            responses=read_responses(Reconcile, "`ledger query reconcile --json`.", lookup=False))
def reconcile(read: Read, as_of: AsOf) -> MsgspecResponse:
    return read.respond(query_reconcile(read.projector, as_of))
