"""Explanations (SPEC 4 explain, 5.3 ``replay explain``, 5.4 ``GET /v1/explain/...``): the
events behind one figure, in log order, with the rule and policy version of each step and
the running total; the same JSON as ``ledger replay explain ... --json``.

The commission explanation is about one rep's statement, so it carries the tag ``reps``
(SPEC 5.4 Reads: a ``sales_rep`` explains only their own statement); the others read the
ledger's figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ledger.api.encoding import MsgspecResponse
from ledger.api.params import AsOf
from ledger.api.schemas import Explanation, read_responses
from ledger.api.services import Read
from ledger.replay.explain import explain_budget, explain_commission, explain_receivable

router = APIRouter(prefix="/v1/explain")  # tags per route: the first decides who reads

_EXPLANATION = read_responses(Explanation, "`ledger replay explain ... --json`: the last "
                                           "step's `running_total` equals `value`, the query's "
                                           "figure.")


@router.get("/commission/{rep_id}/{period}", tags=["reps"], operation_id="getExplainCommission",
            summary="The steps of a rep's statement total for a month",
            response_class=MsgspecResponse, responses=_EXPLANATION)
def commission(rep_id: str, period: Annotated[str, Path(description="A month, `YYYY-MM`.",
                                                        examples=["2024-03"])],
               read: Read) -> MsgspecResponse:
    return read.respond(explain_commission(read.projector, rep_id, period))


@router.get("/receivable/{customer_id}", tags=["explain"], operation_id="getExplainReceivable",
            summary="The steps of a customer's open receivables (or one sale's) as of a date",
            response_class=MsgspecResponse, responses=_EXPLANATION)
def receivable(customer_id: str, read: Read, as_of: AsOf,
               sale: Annotated[str | None, Query(
                   min_length=1, description="Explain this sale's open amount only.")] = None,
               ) -> MsgspecResponse:
    return read.respond(explain_receivable(read.projector, customer_id, sale, as_of))


@router.get("/budget/{budget_id}", tags=["explain"], operation_id="getExplainBudget",
            summary="The steps of a budget's remaining",
            response_class=MsgspecResponse, responses=_EXPLANATION)
def budget(budget_id: str, read: Read) -> MsgspecResponse:
    return read.respond(explain_budget(read.projector, budget_id))
