"""The ``ledger`` command (SPEC 5.3): demo, import, query, replay, verify, export, serve.

Thin: decode arguments, call the same functions the HTTP API calls, print. With
``--json`` standard output holds only the JSON document; messages go to stderr.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import msgspec
import typer
from typer.core import TyperGroup
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.application import Ledger, iter_batches
from ledger.config import ConfigError, parse_database_url, use_database_url

err = Console(stderr=True)
out = Console()


# --- shared plumbing: --database on every command, errors (SPEC 5.3) -------------------------


def _use_database(value: str | None) -> None:
    """``--database URL``: checked at once (a bad URL is one line and exit 2), then in force
    for the command instead of ``LEDGER_DATABASE_URL``."""
    if value is None:
        return
    try:
        parse_database_url(value)
    except ConfigError as e:
        _config_error(str(e).replace("LEDGER_DATABASE_URL", "--database", 1))
    use_database_url(value)


def _database_option() -> Any:
    """A ``--database URL`` option, built by typer itself (typer bundles its own click)."""
    probe = typer.Typer()

    @probe.command()
    def _probe(database: Annotated[str | None, typer.Option(
        "--database", metavar="URL", expose_value=False, is_eager=True, callback=_use_database,
        help="The ledger's database (the same as LEDGER_DATABASE_URL): sqlite:///PATH or "
             "postgresql://...")] = None) -> None:  # pragma: no cover - never invoked
        pass

    command = typer.main.get_command(probe)
    return next(p for p in command.params if p.name == "database")


def _add_database_option(command: Any) -> None:
    """Give every command (and every group) ``--database`` unless it has its own."""
    if not any(p.name == "database" for p in command.params):
        command.params.append(_database_option())
    for sub in getattr(command, "commands", {}).values():
        _add_database_option(sub)


def _config_error(message: str) -> NoReturn:
    err.print(f"ledger: {message.splitlines()[0] if message else 'configuration error'}",
              highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(2)


class _LedgerGroup(TyperGroup):
    """The root command: ``--database`` everywhere; a configuration error (a bad database
    URL, a database that cannot be opened, an unreadable file) is one line on stderr and
    exit 2, never a traceback; with ``--json`` a query error raised while reading the
    arguments (a malformed date or period) is the JSON ``{rule, message, details}``, exit 1."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _add_database_option(self)

    def invoke(self, ctx: Any) -> Any:
        import sqlite3

        from eventsourcing.persistence import PersistenceError

        from ledger.projections.errors import QueryError

        words = [*getattr(ctx, "_protected_args", []), *ctx.args]
        wants_json = "--json" in words
        try:
            return super().invoke(ctx)
        except QueryError as e:
            if wants_json:
                _print_json(e.as_dict())
            else:
                err.print(f"[bold red]{e.rule}[/]: {e.message}")
            raise typer.Exit(1) from None
        except (ConfigError, PersistenceError, sqlite3.Error, OSError) as e:
            _config_error(f"{type(e).__name__}: {e}" if not isinstance(e, ConfigError) else str(e))
        except Exception as e:
            if _is_connection_error(e):
                _config_error(f"cannot connect to the database: {type(e).__name__}: {e}")
            raise
        finally:
            use_database_url(None)


def _is_connection_error(e: Exception) -> bool:
    module = type(e).__module__
    return module.startswith(("psycopg", "psycopg_pool"))


app = typer.Typer(help="Event-sourced ledger and audit service.", no_args_is_help=True,
                  add_completion=False, cls=_LedgerGroup)

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
        except RecursionError:
            numbered.append((number, _BadJson("nested too deep")))
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
    file: Annotated[Path, typer.Argument(help="NDJSON file: one command per line.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the JSON report only.")] = False,
) -> None:
    """Apply the commands of an NDJSON file; exit 1 if any line was rejected."""
    try:
        lines = file.read_bytes().splitlines()
    except OSError as e:
        _config_error(f"cannot read {str(file)!r}: {e.strerror or e}")
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


# --- query -------------------------------------------------------------------------------

query_app = typer.Typer(help="Read the projections (SPEC 5.3); --json for the JSON contract.",
                        no_args_is_help=True)
app.add_typer(query_app, name="query")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print only the JSON document.")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="Business date YYYY-MM-DD.")]


def _run_query(json_output: bool, fn: Any, *args: Any) -> None:
    from ledger.projections.engine import projector_for
    from ledger.projections.errors import QueryError

    with Ledger() as ledger:
        projector = projector_for(ledger)
        behind = ledger.max_position() - min(projector.positions().values(), default=0)
        if behind > 5000 and not json_output:
            with _progress() as progress:
                task = progress.add_task("catching up projections", total=behind)
                projector.catch_up(progress=lambda done, total: progress.update(task, completed=done))
        else:
            projector.catch_up()
        try:
            document = ledger.with_currency(fn(projector, *args))  # SPEC 1: names its currency
        except QueryError as e:
            if json_output:
                _print_json(e.as_dict())
            else:
                err.print(f"[bold red]{e.rule}[/]: {e.message}")
            raise typer.Exit(1) from None
    if json_output:
        _print_json(document)
    else:
        render(document)


def _date(text: str | None) -> Any:
    from ledger.domain.calendar import parse_date

    if text is None:
        return None
    from ledger.projections.errors import invalid

    try:
        return parse_date(text)
    except ValueError as e:
        raise invalid("as_of", str(e)) from None  # answered by _LedgerGroup (JSON with --json)


def render(document: dict[str, Any]) -> None:
    """A readable view of any query document: its scalars, then each list as a table."""
    from rich.table import Table

    head = Table(show_header=False, box=None)
    for key, value in document.items():
        if not isinstance(value, (list, dict)):
            head.add_row(f"[bold]{key}[/]", _cell(key, value))
    out.print(head)
    for key, value in document.items():
        if isinstance(value, dict):
            table = Table(title=key)
            table.add_column("name")
            table.add_column("value", justify="right")
            for k, v in value.items():
                table.add_row(str(k), _cell(k, v))
            out.print(table)
        elif isinstance(value, list) and value:
            table = Table(title=key)
            columns = list(dict.fromkeys(k for row in value if isinstance(row, dict) for k in row))
            for col in columns:
                table.add_column(col)
            for row in value:
                table.add_row(*(_cell(col, row.get(col)) for col in columns))
            out.print(table)


_MONEY_KEYS = ("amount", "total", "open", "gross", "debit", "credit", "allocated", "committed",
               "spent", "remaining", "commission", "bonus", "override", "clawback", "fines",
               "paid", "balance", "sales", "share", "limit", "available", "difference",
               "general_ledger", "subledger", "written_off", "adjustments", "base")


def _cell(key: str, value: Any) -> str:
    from ledger.domain.money import format_fen

    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "-"
    if isinstance(value, int) and any(m in str(key) for m in _MONEY_KEYS):
        return format_fen(value)
    if isinstance(value, (dict, list)):
        return msgspec.json.encode(value).decode()
    return str(value)


@query_app.command("commission")
def q_commission(rep: Annotated[str, typer.Option(help="Rep id.")],
                 period: Annotated[str, typer.Option(help="Month YYYY-MM.")],
                 json_output: JsonFlag = False) -> None:
    """A rep's commission statement for a month."""
    from ledger.projections.commissions import query_commission

    _run_query(json_output, query_commission, rep, period)


@query_app.command("receivables")
def q_receivables(customer: Annotated[str, typer.Option(help="Customer id.")],
                  as_of: AsOf = None, json_output: JsonFlag = False) -> None:
    """A customer's open items, classes and buckets."""
    from ledger.projections.receivables import query_receivables

    _run_query(json_output, query_receivables, customer, _date(as_of))


@query_app.command("aging")
def q_aging(as_of: AsOf = None, json_output: JsonFlag = False) -> None:
    """The company's aging report by class and bucket."""
    from ledger.projections.aging import query_aging

    _run_query(json_output, query_aging, _date(as_of))


@query_app.command("budget")
def q_budget(budget: Annotated[str, typer.Option(help="Budget id.")],
             json_output: JsonFlag = False) -> None:
    """A budget line's figures and expenses."""
    from ledger.projections.budgets import query_budget

    _run_query(json_output, query_budget, budget)


@query_app.command("ranks")
def q_ranks(rep: Annotated[str, typer.Option(help="Rep id.")], json_output: JsonFlag = False) -> None:
    """A rep's rank and rank history with who decided and why."""
    from ledger.projections.commissions import query_ranks

    _run_query(json_output, query_ranks, rep)


@query_app.command("trial-balance")
def q_trial_balance(as_of: AsOf = None, json_output: JsonFlag = False) -> None:
    """The general ledger's trial balance as of a business date."""
    from ledger.projections.general_ledger import trial_balance

    _run_query(json_output, trial_balance, _date(as_of))


@query_app.command("reconcile")
def q_reconcile(json_output: JsonFlag = False) -> None:
    """Each control account against its sub-ledger; exits 1 when any differs."""
    from ledger.projections.reconcile import query_reconcile

    def run(projector: Any) -> dict[str, Any]:
        document = query_reconcile(projector)
        run.ok = document["ok"]  # type: ignore[attr-defined]
        return document

    run.ok = True  # type: ignore[attr-defined]
    _run_query(json_output, run)
    if not run.ok:  # type: ignore[attr-defined]
        raise typer.Exit(1)


@query_app.command("audit")
def q_audit(entity: Annotated[str, typer.Option(help="Any entity id: customer, sale, rep, budget...")],
            json_output: JsonFlag = False) -> None:
    """The decisions and events about one entity, in log order."""
    from ledger.projections.audit import query_audit

    _run_query(json_output, query_audit, entity)


# --- serve -------------------------------------------------------------------------------


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    keys_file: Annotated[str | None, typer.Option(help="API keys JSON file (default: $LEDGER_API_KEYS_FILE).")] = None,
) -> None:
    """Serve the HTTP API (SPEC 5.4)."""
    from ledger.api import ApiKeysError, serve

    try:
        serve(host, port, keys_file)
    except ApiKeysError as e:
        err.print(f"[bold red]cannot serve[/]: {e}")
        raise typer.Exit(1) from None


# --- demo --------------------------------------------------------------------------------

DEMO_DATABASE = "./ledger-demo.db"


@app.command("demo")
def demo_command(
    database: Annotated[str, typer.Option(
        metavar="URL", help="The demo's SQLite database, sqlite:///PATH or a file path; "
                            "recreated each run.")] = DEMO_DATABASE,
    seed: Annotated[int, typer.Option(help="Seed of the generated company.")] = 7,
) -> None:
    """Build a generated company through the real command path and show what finance and
    auditors look at first."""
    from ledger.demo import Company, commission_payouts
    from ledger.projections.commissions import statement_months
    from ledger.projections.engine import projector_for
    from ledger.report import demo_summary

    path = Path(database[len("sqlite:///"):] if database.startswith("sqlite:///") else database)
    if "://" in str(path):
        _config_error(f"--database: the demo builds a fresh SQLite file, got {database!r}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    company = Company(seed=seed)
    lines = [msgspec.json.encode(b) for b in company.commands()]
    year_end = date(company.year, 12, 31)
    with Ledger(parse_database_url(f"sqlite:///{path}")) as ledger:
        with _progress() as progress:
            report = import_lines(ledger, lines, progress)
            # commissions payable by the year's end are paid, through the command path too
            projector = projector_for(ledger)
            caught_up = time.perf_counter()
            projector.catch_up(batch_size=2000)
            err.print(f"projections caught up with {ledger.max_position():,} events in "
                      f"{time.perf_counter() - caught_up:.1f}s")
            months = {rep_id: statement_months(projector, rep_id) for rep_id in company.rep_ids}
            payouts = [msgspec.json.encode(b) for b in commission_payouts(months, year_end, seed)]
            paid = import_lines(ledger, payouts, progress)
        for key in ("applied", "duplicates"):
            report[key] += paid[key]
        report["rejected"] += [{**r, "line": len(lines) + r["line"]} for r in paid["rejected"]]
        imported = time.perf_counter() - started
        err.print(f"imported {len(lines) + len(payouts)} commands ({len(payouts)} commission "
                  f"payouts) in {imported:.1f}s: applied {report['applied']}, duplicates "
                  f"{report['duplicates']}, rejected {len(report['rejected'])}; "
                  f"{ledger.max_position()} events in {path}")
        demo_summary(ledger, report, out, err, as_of=year_end)
    err.print(f"demo finished in {time.perf_counter() - started:.1f}s")
    _explore(f"sqlite:///{path}", company, year_end)


def _explore(url: str, company: Any, year_end: date) -> None:
    """The demo's closing lines (SPEC 5.3): the commands that explore the database it built."""
    db = f"--database {url}"
    rep = company.rep_ids[0] if company.rep_ids else "REP-001"
    customer = company.cust[0].customer_id if getattr(company, "cust", None) else "C1"
    month = f"{year_end.year:04d}-{year_end.month:02d}"
    commands = [
        f"ledger query aging --as-of {year_end.isoformat()} {db}",
        f"ledger query receivables --customer {customer} {db}",
        f"ledger query commission --rep {rep} --period {month} {db}",
        f"ledger query ranks --rep {rep} {db}",
        f"ledger query trial-balance {db}",
        f"ledger query reconcile {db}",
        f"ledger query audit --entity {customer} {db}",
        f"LEDGER_DATABASE_URL={url} ledger serve",
    ]
    out.print("\nExplore the demo's database (add --json for the JSON documents):",
              highlight=False)
    for line in commands:
        out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
