"""The ``ledger`` command (SPEC 5.3): demo, import, query, replay, verify, export, serve.

Thin: decode arguments, call the same functions the HTTP API calls, print. With
``--json`` standard output holds only the JSON document; messages go to stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.application import Ledger, iter_batches
from ledger.config import parse_database_url

app = typer.Typer(help="Event-sourced ledger and audit service.", no_args_is_help=True,
                  add_completion=False)
err = Console(stderr=True)
out = Console()

IMPORT_BATCH = 1000


def _print_json(document: Any) -> None:
    sys.stdout.write(msgspec.json.encode(document).decode() + "\n")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=True)


# --- import ------------------------------------------------------------------------------


def import_lines(ledger: Ledger, lines: list[bytes], progress: Progress | None = None) -> dict[str, Any]:
    """Apply one command per line, in batches; count each line as applied, duplicate or
    rejected (SPEC 5.3). Blank lines are skipped and not counted."""
    report: dict[str, Any] = {"applied": 0, "duplicates": 0, "rejected": []}
    numbered: list[tuple[int, Any]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            numbered.append((number, msgspec.json.decode(raw)))
        except msgspec.DecodeError as e:
            numbered.append((number, _BadJson(str(e))))
    task = progress.add_task("importing", total=len(numbered)) if progress else None
    for batch in iter_batches(numbered, IMPORT_BATCH):
        bodies = [body for _, body in batch if not isinstance(body, _BadJson)]
        answers = iter(ledger.execute(bodies)) if bodies else iter(())
        for number, body in batch:
            if isinstance(body, _BadJson):
                report["rejected"].append({"line": number, "command_id": None,
                                           "rule": "invalid_field",
                                           "message": f"line is not JSON: {body.message}"})
                continue
            answer = next(answers)
            if answer["status"] == "applied":
                report["applied"] += 1
            elif answer["status"] == "duplicate":
                report["duplicates"] += 1
            else:
                report["rejected"].append({"line": number, "command_id": answer["command_id"],
                                           "rule": answer["rule"], "message": answer["message"]})
        if progress and task is not None:
            progress.advance(task, len(batch))
    return report


class _BadJson:
    def __init__(self, message: str) -> None:
        self.message = message


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="NDJSON file: one command per line.", exists=True,
                                         dir_okay=False, readable=True)],
    json_output: Annotated[bool, typer.Option("--json", help="Print the JSON report only.")] = False,
) -> None:
    """Apply the commands of an NDJSON file; exit 1 if any line was rejected."""
    lines = file.read_bytes().splitlines()
    started = time.perf_counter()
    with Ledger() as ledger, _progress() as progress:
        report = import_lines(ledger, lines, progress if not json_output else None)
    elapsed = time.perf_counter() - started
    if json_output:
        _print_json(report)
    else:
        for r in report["rejected"]:
            out.print(f"line {r['line']}: {r['command_id']}: [bold red]{r['rule']}[/]: {r['message']}",
                      highlight=False)
        counted = report["applied"] + report["duplicates"] + len(report["rejected"])
        out.print(f"applied {report['applied']}, duplicates {report['duplicates']}, "
                  f"rejected {len(report['rejected'])} ({counted} lines in {elapsed:.1f}s)")
    raise typer.Exit(1 if report["rejected"] else 0)


# --- demo --------------------------------------------------------------------------------

DEMO_DATABASE = "./ledger-demo.db"


@app.command("demo")
def demo_command(
    database: Annotated[str, typer.Option(help="SQLite file for the demo; recreated each run.")] = DEMO_DATABASE,
    seed: Annotated[int, typer.Option(help="Seed of the generated company.")] = 7,
) -> None:
    """Build a generated company through the real command path and show what finance and
    auditors look at first."""
    from ledger.demo import Company
    from ledger.report import demo_summary

    path = Path(database)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    bodies = list(Company(seed=seed).commands())
    lines = [msgspec.json.encode(b) for b in bodies]
    with Ledger(parse_database_url(f"sqlite:///{path}")) as ledger:
        with _progress() as progress:
            report = import_lines(ledger, lines, progress)
        imported = time.perf_counter() - started
        events = ledger.max_position()
        err.print(f"imported {len(lines)} commands in {imported:.1f}s: applied {report['applied']}, "
                  f"duplicates {report['duplicates']}, rejected {len(report['rejected'])}; "
                  f"{events} events in {path}")
        demo_summary(ledger, report, out, err)
    err.print(f"demo finished in {time.perf_counter() - started:.1f}s")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
