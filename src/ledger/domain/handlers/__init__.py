"""Command handlers: one function per command of SPEC 5.2, found through ``HANDLERS``.

Each handler checks the rules in the order of SPEC 5.2 (invalid_field, unknown_reference,
duplicate_id, not_authorized, segregation_of_duties, invalid_state, period_closed, ...)
before it triggers any event, so a rejected command changes nothing.
"""

from __future__ import annotations

from ledger.domain.handlers import budgets, compensation, corrections, governance, parties, sales
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
}

__all__ = ["HANDLERS", "Context", "Handler"]
