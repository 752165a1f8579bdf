"""Budgets (SPEC 5.3 ``budget``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ledger.api.encoding import MsgspecResponse
from ledger.api.schemas import Budget, read_responses
from ledger.api.services import Read
from ledger.projections.budgets import query_budget

router = APIRouter(prefix="/v1", tags=["budgets"])

_BUDGET = read_responses(Budget, "`ledger query budget --json`.")


@router.get("/budgets/{budget_id}", operation_id="getBudgetById",
            summary="A budget line's figures and expenses",
            response_class=MsgspecResponse, responses=_BUDGET)
def budget_by_id(budget_id: str, read: Read) -> MsgspecResponse:
    return read.respond(query_budget(read.projector, budget_id))


@router.get("/budget", operation_id="getBudget", summary="A budget line (the CLI's parameters)",
            response_class=MsgspecResponse, responses=_BUDGET)
def budget(budget: Annotated[str, Query(min_length=1)], read: Read) -> MsgspecResponse:
    return budget_by_id(budget, read)
