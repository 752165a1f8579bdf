"""Roles, who may issue each command, approvers and segregation of duties (SPEC 1 Actors,
SPEC 1 Segregation of duties, SPEC 5.2 "Who may issue each command").
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.domain.errors import Rejection

ROLES = (
    "sales_rep",
    "sales_admin",  # 销售内勤
    "manager",  # 营销经理 / 区域经理
    "director",  # 营销总监 / top leadership
    "finance",
    "auditor",
    "admin",
    "service",
)

# The bootstrap user every new ledger has (SPEC 1 Actors): ``admin`` with role ``admin``.
# It is built in, not stored (nothing has to be written before the first command), so
# the write side, the read side and the API all ask ``bootstrap_roles`` about it.
ADMIN_USER = "admin"
ADMIN_ROLE = "admin"
BOOTSTRAP_ROLES = frozenset({ADMIN_ROLE})


def bootstrap_roles(user_id: str | None) -> frozenset[str] | None:
    """The roles of a built-in user (the bootstrap admin's); None for any other user,
    whose roles are those its registration gave it."""
    return BOOTSTRAP_ROLES if user_id == ADMIN_USER else None

# Where a rule asks for a manager, a director serves too (default); no other stand-ins.
MANAGER = frozenset({"manager", "director"})
DIRECTOR = frozenset({"director"})
FINANCE = frozenset({"finance"})
FINANCE_OR_DIRECTOR = frozenset({"finance", "director"})

COMMAND_ROLES: dict[str, frozenset[str]] = {
    "RegisterUser": frozenset({"admin"}),
    "RegisterCustomer": frozenset({"sales_admin", "finance"}),
    "RegisterRep": frozenset({"sales_admin", "finance"}),
    "SetListPrice": frozenset({"sales_admin", "finance"}),
    "SetCreditTerms": FINANCE,
    "FlagCustomerAtRisk": frozenset({"finance", "manager", "director"}),
    "RecordSale": frozenset({"sales_admin", "service"}),
    "RecordReturn": frozenset({"sales_admin", "service"}),
    "RecordPayment": frozenset({"sales_admin", "finance", "service"}),
    "WriteOffReceivable": FINANCE,
    "AllocateBudget": FINANCE,
    "AdjustBudget": FINANCE,
    "RecordExpenseSpend": FINANCE,
    "CloseMonth": FINANCE,
    "PayCommission": FINANCE,
    "FineRep": FINANCE,
    "SubmitExpense": frozenset(ROLES) - {"auditor", "service", "admin"},
    "ApproveExpense": MANAGER,
    "RejectExpense": MANAGER | FINANCE,
    "ChangeRank": DIRECTOR,
    "AdoptCommissionPlan": DIRECTOR,
    "AdoptPolicy": DIRECTOR,
    # any registered user, auditors included; but "admin manages users and nothing else"
    "OpenDispute": frozenset(ROLES) - {"admin"},
    "ResolveDispute": FINANCE_OR_DIRECTOR,
    "Reverse": FINANCE,  # SPEC 2.7
}

# Approvers named in `approved_by`: the key of the ``approvals`` policy that lists the
# roles for each command's decision (SPEC 5.2 table; RecordSale is tiered, see pricing).
APPROVAL_OF: dict[str, str] = {
    "SetListPrice": "list_price",
    "SetCreditTerms": "credit_terms",
    "RecordReturn": "return",
    "WriteOffReceivable": "write_off",
    "AllocateBudget": "budget",
    "AdjustBudget": "budget",
    "FineRep": "fine",
}

# A reversal's approver depends on what it reverses (SPEC 2.7): the key of the
# ``approvals`` policy for each command ``Reverse`` may reverse.
REVERSAL_APPROVAL_OF: dict[str, str] = {
    "RecordPayment": "reversal_payment",
    "RecordExpenseSpend": "reversal_spend",
    "PayCommission": "reversal_payout",
    "FineRep": "reversal_fine",
}

# Commands whose actor approves (SPEC 2.4 "approved by a manager", 2.5 "a manual rank change
# needs a director"): who may issue them is the ``approvals`` policy's key, not a fixed set.
ACTOR_APPROVES: dict[str, str] = {
    "ApproveExpense": "expense",
    "RejectExpense": "expense_rejection",
    "ChangeRank": "rank_change",
}


# SPEC 5.4: "auditors read everything and write nothing but OpenDispute": an auditor's
# independence holds whatever other roles the user has, on every path (CLI, HTTP, import).
AUDITOR_COMMANDS = frozenset({"OpenDispute"})


def check_actor(command: str, actor: str, roles: Iterable[str],
                allowed: frozenset[str] | None = None) -> None:
    """The actor's roles may issue ``command``: ``allowed`` (the ``approvals`` policy's
    roles, for ``ACTOR_APPROVES``), else ``COMMAND_ROLES``."""
    held = frozenset(roles)
    if "auditor" in held and command not in AUDITOR_COMMANDS:
        raise Rejection(
            "not_authorized",
            f"{actor!r} is an auditor: auditors may issue only {sorted(AUDITOR_COMMANDS)}",
            actor=actor, roles=sorted(held), required=sorted(AUDITOR_COMMANDS),
        )
    allowed = COMMAND_ROLES[command] if allowed is None else allowed
    if not held & allowed:
        raise Rejection(
            "not_authorized",
            f"{actor!r} (roles {sorted(held)}) may not issue {command}; "
            f"it needs one of {sorted(allowed)}",
            actor=actor, roles=sorted(held), required=sorted(allowed),
        )


def check_approver(
    what: str, approver: str, roles: Iterable[str], allowed: frozenset[str], field: str = "approved_by"
) -> None:
    held = frozenset(roles)
    if not held & allowed:
        raise Rejection(
            "not_authorized",
            f"{field} {approver!r} (roles {sorted(held)}) may not approve {what}; "
            f"it needs one of {sorted(allowed)}",
            field=field, approver=approver, roles=sorted(held), required=sorted(allowed),
        )


def check_segregation(
    decider: str, *, actor: str | None = None, beneficiary_user: str | None = None,
    what: str, field: str = "approved_by",
) -> None:
    """Nobody approves their own sale, expense, write-off or rank change, nor a decision
    about a rep whose ``user_id`` is theirs (SPEC 1, Segregation of duties)."""
    if actor is not None and decider == actor:
        raise Rejection(
            "segregation_of_duties",
            f"{decider!r} cannot both issue and approve {what}",
            field=field, user=decider,
        )
    if beneficiary_user is not None and decider == beneficiary_user:
        raise Rejection(
            "segregation_of_duties",
            f"{decider!r} cannot decide {what}: it is about their own rep account",
            field=field, user=decider,
        )
