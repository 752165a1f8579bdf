"""A rep's rank history with the evidence of each promotion (issue 14)."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from ledger.reports.fmt import cell, group, table


def ranks(document: dict[str, Any], width: int = 80, *,
          evidence: list[dict[str, Any]] | None = None) -> RenderableType:
    """``query ranks``; ``evidence`` (``projections.commissions.rank_evidence``) adds the
    previous rank, log position and the figures each decision rests on."""
    d = document
    head = Text.assemble(("Ranks ", "bold"), (d["rep_id"], "bold"), f"   rank today {d['rank']}")
    by_index = evidence if evidence is not None and len(evidence) == len(d["history"]) else None
    rows = []
    for i, h in enumerate(d["history"]):
        ev = by_index[i] if by_index else {}
        change = f"{ev['previous_rank']} -> {h['rank']}" if ev.get("previous_rank") else h["rank"]
        figures = ev.get("evidence") or {}
        text = "; ".join(f"{k} {cell(k, v)}" for k, v in figures.items()) if figures else "-"
        rows.append([h["effective_from"], change, h["decided_by"] or "-", h["reason"] or "-", text])
    return group(head, table([("effective", "id"), ("rank", "id"), ("decided by", "id"),
                              ("reason", "text"), ("evidence", "text")], rows,
                             title="History (log order)"))
