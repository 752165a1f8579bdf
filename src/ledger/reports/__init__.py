"""Reports people read (issue 14): every query document laid out for its reader in the
terminal, and as CSV rows for spreadsheets.

Each layout is a pure function ``document, width -> rich renderable`` (modules per query
family); :func:`layout` picks one from the document's shape, :func:`context_for` reads the
few facts a layout shows that the document does not carry (the plan's bonus thresholds and
fine reasons of a payslip, the evidence of each rank change).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import RenderableType

from ledger.reports import accounts, audit, budget, misc, payslip, ranks, receivables, replay


def kind_of(document: dict[str, Any]) -> str:
    """The query a document answers, from its keys."""
    d = document
    keys = set(d)
    if {"rep_id", "period", "lines"} <= keys:
        return "commission"
    if {"customer_id", "items"} <= keys:
        return "receivables"
    if {"classes", "buckets"} <= keys:
        return "aging"
    if "budget_id" in keys:
        return "budget"
    if {"rep_id", "history"} <= keys:
        return "ranks"
    if {"accounts", "debit_total"} <= keys:
        return "trial-balance"
    if "decisions_checked" in keys:
        return "sod"
    if "checks" in keys:
        return "reconcile"
    if "first_break" in keys:
        return "verify"
    if {"figure", "steps"} <= keys:
        return "explain"
    if "changes" in keys:
        return "what-if"
    if "differences" in keys:
        return "drift"
    if {"projections", "events"} <= keys:
        return "rebuild"
    if "entries" in keys:
        return "audit"
    if "dso" in keys:
        return "dso"
    if {"disputes", "open_only"} <= keys:
        return "disputes"
    if "trips" in keys:
        return "trips"
    if {"policies", "plan"} <= keys:
        return "policies"
    return "generic"


LAYOUTS: dict[str, Callable[..., RenderableType]] = {
    "commission": payslip.payslip,
    "receivables": receivables.receivables,
    "aging": receivables.aging,
    "dso": receivables.dso,
    "budget": budget.budget,
    "ranks": ranks.ranks,
    "trial-balance": accounts.trial_balance,
    "reconcile": accounts.reconcile,
    "audit": audit.timeline,
    "sod": misc.sod,
    "disputes": misc.disputes,
    "trips": misc.trips,
    "policies": misc.policies,
    "verify": replay.verify,
    "explain": replay.explain,
    "what-if": replay.what_if,
    "drift": replay.drift,
    "rebuild": replay.rebuild,
    "generic": misc.generic,
}


def layout(document: dict[str, Any], width: int = 80, *, details: bool = False,
           context: dict[str, Any] | None = None) -> RenderableType:
    """The terminal layout of any query document at ``width`` columns."""
    kind = kind_of(document)
    fn = LAYOUTS[kind]
    kwargs: dict[str, Any] = dict(context or {})
    if kind == "audit":
        kwargs["details"] = details
    return fn(document, width, **kwargs)


def context_for(projector: Any, document: dict[str, Any]) -> dict[str, Any]:
    """What a layout shows beyond the document, read from the same projector: for a
    commission statement the plan in force on the month's 1st and each fine's reason; for
    ranks each change's evidence. Empty for the other documents."""
    kind = kind_of(document)
    if kind == "commission":
        from ledger.domain.calendar import month
        from ledger.projections.audit import query_audit
        from ledger.projections.errors import QueryError
        from ledger.projections.policies import query_policies

        plan = query_policies(projector, month(document["period"]).first.isoformat())["plan"]["plan"]
        reasons: dict[str, str | None] = {}
        for line in document["lines"]:
            if line["type"] == "fine":
                try:
                    entries = query_audit(projector, line["fine_id"])["entries"]
                except QueryError:
                    entries = []
                reasons[line["fine_id"]] = next((e["reason"] for e in entries if e.get("reason")), None)
        return {"plan": plan, "fine_reasons": reasons}
    if kind == "ranks":
        from ledger.projections.commissions import rank_evidence

        return {"evidence": rank_evidence(projector, document["rep_id"])}
    return {}
