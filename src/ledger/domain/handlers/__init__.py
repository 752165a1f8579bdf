"""Command handlers: one function per command of SPEC 5.2, found through ``HANDLERS``.

Each handler checks the rules in the order of SPEC 5.2 (invalid_field, unknown_reference,
duplicate_id, not_authorized, segregation_of_duties, invalid_state, period_closed, ...)
before it triggers any event, so a rejected command changes nothing.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.handlers import (
    budgets,
    compensation,
    corrections,
    governance,
    grants,
    parties,
    sales,
)
from ledger.domain.handlers.context import Context, Handler

HANDLERS: dict[str, Handler] = {
    "RegisterUser": parties.register_user,
    "RegisterCustomer": parties.register_customer,
    "SetCreditTerms": parties.set_credit_terms,
    "FlagCustomerAtRisk": parties.flag_customer_at_risk,
    "SetListPrice": parties.set_list_price,
    "RegisterRep": parties.register_rep,
    "RecordSale": sales.record_sale,
    "RecordReturn": sales.record_return,
    "RecordPayment": sales.record_payment,
    "WriteOffReceivable": sales.write_off_receivable,
    "AllocateBudget": budgets.allocate_budget,
    "AdjustBudget": budgets.adjust_budget,
    "SubmitExpense": budgets.submit_expense,
    "ApproveExpense": budgets.approve_expense,
    "RejectExpense": budgets.reject_expense,
    "RecordExpenseSpend": budgets.record_expense_spend,
    "CloseMonth": compensation.close_month,
    "ChangeRank": compensation.change_rank,
    "FineRep": compensation.fine_rep,
    "PayCommission": compensation.pay_commission,
    "AdoptCommissionPlan": compensation.adopt_commission_plan,
    "AdoptPolicy": governance.adopt_policy,
    "OpenDispute": governance.open_dispute,
    "ResolveDispute": governance.resolve_dispute,
    "Reverse": corrections.reverse,
    "GrantApproval": grants.grant_approval,
}


def _settling(handler: Handler) -> Handler:
    """After a handler has applied its command, mark the approval grants it used as used
    (SPEC 1 Approvals), in the same unit of work as its decision."""
    def run(ctx: Context) -> dict[str, Any] | None:
        result = handler(ctx)
        ctx.settle()
        return result
    run.__name__ = run.__qualname__ = getattr(handler, "__name__", "handler")
    run.__doc__ = handler.__doc__
    return run


HANDLERS = {name: _settling(h) for name, h in HANDLERS.items()}

__all__ = ["HANDLERS", "Context", "Handler"]
