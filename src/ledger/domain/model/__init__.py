"""Aggregates: the consistency boundaries (ARCHITECTURE, Domain).

Each aggregate's id is uuid5 of its kind and business id. Public methods decide (they
may raise a ``Rejection``); ``@event`` methods only assign. Every event carries ``meta``:
the command id, the actor, ``occurred_at`` and ``reported_at``; the library's
``timestamp`` is the recorded time.
"""

from ledger.domain.model.budgets import Budget
from ledger.domain.model.catalog import Sku
from ledger.domain.model.closings import Closings
from ledger.domain.model.customers import Customer
from ledger.domain.model.disputes import Dispute
from ledger.domain.model.grants import ApprovalGrants
from ledger.domain.model.records import Claim, CommandRecord
from ledger.domain.model.reps import Rep
from ledger.domain.model.users import User
from ledger.domain.policies import PolicyBook

__all__ = [
    "ApprovalGrants", "Budget", "Claim", "Closings", "CommandRecord", "Customer", "Dispute",
    "PolicyBook", "Rep", "Sku", "User",
]
