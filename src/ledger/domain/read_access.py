"""Who may read what (SPEC 5.4 Reads).

A ``sales_rep`` reads only the statements, ranks and trips of the rep whose ``user_id`` is
theirs; ``admin`` reads users only; every other role reads everything. A user holding
several roles reads what any of them may read.
"""

from __future__ import annotations

from collections.abc import Set
from enum import Enum

from ledger.domain.authority import ADMIN_ROLE


class ReadKind(Enum):
    """What a read is about."""

    REP = "rep"  # one rep's statement, ranks or incentive trips
    USERS = "users"  # the registered users and their roles
    LEDGER = "ledger"  # everything else: receivables, budgets, general ledger, audit...


# Roles that read everything (SPEC 5.4: "every other role reads everything").
READS_EVERYTHING = frozenset({"sales_admin", "manager", "director", "finance", "auditor",
                              "service"})


def may_read(roles: Set[str], kind: ReadKind, *, own_rep: bool = False) -> bool:
    """Whether a caller with ``roles`` may make a read of ``kind``; ``own_rep`` says, for a
    rep read, whether the rep's ``user_id`` is the caller's."""
    if roles & READS_EVERYTHING:
        return True
    if kind is ReadKind.USERS:
        return ADMIN_ROLE in roles
    if kind is ReadKind.REP:
        return "sales_rep" in roles and own_rep
    return False
