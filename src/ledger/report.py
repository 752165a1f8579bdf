"""The demo's summary: what a finance lead and an auditor want to see first."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from ledger.application import Ledger


def demo_summary(ledger: Ledger, report: dict[str, Any], out: Console, err: Console) -> None:
    counts: Counter[str] = Counter()
    position = 0
    while True:
        notes = ledger.app.recorder.select_notifications(start=position + 1, limit=5000)
        for n in notes:
            counts[n.topic.split(":", 1)[-1]] += 1
        if len(notes) < 5000:
            break
        position = notes[-1].id
    table = Table(title=f"Events in the log ({sum(counts.values())})")
    table.add_column("event")
    table.add_column("count", justify="right")
    for topic, n in sorted(counts.items()):
        table.add_row(topic, str(n))
    out.print(table)
    if report["rejected"]:
        rej = Table(title="Rejected commands (nothing stored for them)")
        for col in ("line", "command_id", "rule", "message"):
            rej.add_column(col)
        for r in report["rejected"][:20]:
            rej.add_row(str(r["line"]), str(r["command_id"]), r["rule"], r["message"])
        out.print(rej)
