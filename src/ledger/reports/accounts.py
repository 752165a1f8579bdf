"""Trial balance and reconciliation in the accountant's two-column form (issue 14)."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from ledger.reports.fmt import group, money, table


def trial_balance(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    balanced = d["debit_total"] == d["credit_total"]
    head = Text.assemble(("Trial balance", "bold"),
                         (f" as of {d['as_of']}" if d.get("as_of") else ""),
                         ": balanced" if balanced else
                         f": OUT OF BALANCE by {money(d['debit_total'] - d['credit_total'])}")
    rows = [(a["account"], money(a["debit"]) if a["debit"] else "",
             money(a["credit"]) if a["credit"] else "") for a in d["accounts"]]
    return group(head, table([("account", "text"), ("debit", "money"), ("credit", "money")], rows,
                             footer=("total", money(d["debit_total"]), money(d["credit_total"]))))


def reconcile(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    bad = [c for c in d["checks"] if c["difference"]]
    head = Text.assemble(("Reconciliation", "bold"),
                         (f" as of {d['as_of']}" if d.get("as_of") else ""), ": ",
                         ("OK, every control account agrees with its sub-ledger", "green")
                         if d["ok"] else (f"{len(bad)} account(s) DIFFER", "bold red"))
    rows = [(c["name"], money(c["general_ledger"]), money(c["subledger"]),
             money(c["difference"]) if c["difference"] else "-") for c in d["checks"]]
    return group(head, table([("control account", "text"), ("general ledger", "money"),
                              ("sub-ledger", "money"), ("difference", "money")], rows))
