"""The query functions of SPEC 5.3, found where the read side defines them.

A query whose module has not landed yet answers 501 ``not_available`` instead of failing
the whole API at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from ledger.api.auth import ApiError

_WHERE: dict[str, tuple[str, ...]] = {
    "query_receivables": ("ledger.projections.receivables",),
    "query_aging": ("ledger.projections.receivables",),
    "query_budget": ("ledger.projections.budgets",),
    "query_commission": ("ledger.projections.commissions",),
    "query_ranks": ("ledger.projections.commissions",),
    "query_audit": ("ledger.projections.audit",),
    "trial_balance": ("ledger.projections.general_ledger",),
    "query_reconcile": ("ledger.projections.reconcile", "ledger.projections.reconciliation",
                        "ledger.projections.general_ledger"),
}


def query(name: str) -> Callable[..., dict[str, Any]]:
    for module_name in _WHERE[name]:
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name != module_name:
                raise
            continue
        function = getattr(module, name, None)
        if function is not None:
            return function  # type: ignore[no-any-return]
    raise ApiError(501, "not_available", f"the query {name} is not available in this build",
                   query=name)
