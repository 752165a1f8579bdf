"""The ``ledger`` command (SPEC 5.3): demo, import, query, replay, verify, export, serve.

Thin: decode arguments, call the same functions the HTTP API calls, print. With
``--json`` standard output holds only the JSON document; messages go to stderr.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from ledger.bootstrap import (
    PROGRESS_BACKLOG,
    ConfigError,
    Runtime,
    Settings,
    check_database_url,
    configuration_errors,
)
from ledger.service.importing import import_lines

err = Console(stderr=True)
out = Console()
# ``--database URL`` of the command being run (instead of LEDGER_DATABASE_URL)
_DATABASE_URL: contextvars.ContextVar[str | None] = contextvars.ContextVar("database_url",
                                                                          default=None)


def _settings(**overrides: Any) -> Settings:
    """The settings of this command: the environment, then its options."""
    return Settings.from_env(**{"database_url": _DATABASE_URL.get(), **overrides})


def _runtime(**overrides: Any) -> Runtime:
    """The ledger and its read side, from the composition root."""
    return Runtime(_settings(**overrides))


# --- shared plumbing: --database on every command, errors (SPEC 5.3) -------------------------


def _use_database(value: str | None) -> None:
    """``--database URL``: checked at once (a bad URL is one line and exit 2), then in force
    for the command instead of ``LEDGER_DATABASE_URL``."""
    if value is None:
        return
    try:
        check_database_url(value)
    except ConfigError as e:
        _config_error(str(e).replace("LEDGER_DATABASE_URL", "--database", 1))
    _DATABASE_URL.set(value)


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
        from ledger.projections.errors import QueryError

        words = [*getattr(ctx, "_protected_args", []), *ctx.args]
        wants_json = "--json" in words
        try:
            return super().invoke(ctx)
        except QueryError as e:
            if wants_json:
                _print_json(e.as_dict())
            else:
                _print_problem(e.rule, e.message, e.details)
            raise typer.Exit(1) from None
        except configuration_errors() as e:
            _config_error(f"{type(e).__name__}: {e}" if not isinstance(e, ConfigError) else str(e))
        except Exception as e:
            if _is_connection_error(e):
                _config_error(f"cannot connect to the database: {type(e).__name__}: {e}")
            raise
        finally:
            _DATABASE_URL.set(None)


def _is_connection_error(e: Exception) -> bool:
    module = type(e).__module__
    return module.startswith(("psycopg", "psycopg_pool"))


app = typer.Typer(help="Event-sourced ledger and audit service.\n\nExample: ledger demo, then "
                       "ledger query commission --rep REP-001 --period 2025-06",
                  no_args_is_help=True, add_completion=False, cls=_LedgerGroup)


def _print_json(document: Any) -> None:
    sys.stdout.write(msgspec.json.encode(document).decode() + "\n")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=True)


# --- import ------------------------------------------------------------------------------


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
    with _runtime() as runtime, _progress() as progress:
        report = import_lines(runtime.ledger, lines, progress if not json_output else None)
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
    from ledger.projections.errors import QueryError

    context: dict[str, Any] = {}

    def read(projector: Any, *args: Any) -> Any:
        document = fn(projector, *args)
        context.update(_report_context(projector, runtime.ledger.with_currency(document),
                                       json_output))
        return document

    with _runtime() as runtime, contextlib.ExitStack() as stack:
        stop = _as_of_stop(runtime, json_output)
        progress = None
        if stop is None and not json_output and runtime.behind() > PROGRESS_BACKLOG:
            bar = stack.enter_context(_progress())
            task = bar.add_task("catching up projections", total=runtime.behind())

            def progress(done: int, _total: int) -> None:
                bar.update(task, completed=done)
        try:
            document = runtime.query(read, *args, stop=stop, progress=progress)
        except QueryError as e:
            if json_output:
                _print_json(e.as_dict())
            else:
                _print_problem(e.rule, e.message, e.details)
            raise typer.Exit(1) from None
    if json_output:
        _print_json(document)
    else:
        render(document, context)


def _date(text: str | None) -> Any:
    from ledger.domain.calendar import parse_date

    if text is None:
        return None
    from ledger.projections.errors import invalid

    try:
        return parse_date(text)
    except ValueError as e:
        raise invalid("as_of", str(e)) from None  # answered by _LedgerGroup (JSON with --json)


def render(document: dict[str, Any], context: dict[str, Any] | None = None) -> None:
    """The query document as its reader wants it (ledger.reports, issue 14): the terminal
    layout made for it, or with ``--csv`` its rows (to stdout or ``-o FILE``)."""
    from ledger.reports import layout
    from ledger.reports.csv import to_csv

    as_csv, fen, output, details = _OUTPUT.get()
    if as_csv:
        text = to_csv(document, fen=fen)
        if output is None:
            sys.stdout.write(text)
        else:
            try:
                Path(output).write_text(text, encoding="utf-8", newline="")
            except OSError as e:
                err.print(f"[bold red]cannot write {output}[/]: {e.strerror}; give -o a "
                          "writable path", highlight=False)
                raise typer.Exit(2) from None
            err.print(f"{text.count(chr(10)) - 1} rows written to {output}", highlight=False)
        return
    out.print(layout(document, out.width, details=details, context=context), highlight=False)


def _report_context(projector: Any, document: dict[str, Any], json_output: bool) -> dict[str, Any]:
    """What a terminal layout shows beyond the document (the payslip's bonus thresholds and
    fine reasons, the ranks' evidence), read while the projector is open."""
    from ledger.reports import context_for

    if json_output or _OUTPUT.get()[0]:
        return {}
    return context_for(projector, document)


# --- output options of every query: --csv, --fen, -o, --details (issue 14) ----------------

CsvFlag = Annotated[bool, typer.Option("--csv", help="Print the rows as CSV (one header row, "
                                                      "money in yuan, dates ISO).")]
FenFlag = Annotated[bool, typer.Option("--fen", help="With --csv: money in integer fen.")]
OutputFile = Annotated[str | None, typer.Option("--output", "-o", help="With --csv: write to FILE.")]
DetailsFlag = Annotated[bool, typer.Option("--details", help="Audit trails: each event's details.")]
_OUTPUT: contextvars.ContextVar[tuple[bool, bool, str | None, bool]] = contextvars.ContextVar(
    "output", default=(False, False, None, False))


def _with_options(command: Any, signature: inspect.Signature,
                  extra: list[inspect.Parameter]) -> Any:
    """Show Typer ``command`` as taking the wrapped function's options plus ``extra`` (the
    wrapper keeps the extra values in a ContextVar for the shared query path)."""
    command.__signature__ = signature.replace(parameters=[*signature.parameters.values(), *extra])
    command.__annotations__ = {p.name: p.annotation
                               for p in (*signature.parameters.values(), *extra)}
    return command


def _with_output_options(fn: Any) -> Any:
    """Give a query command ``--csv``, ``--fen``, ``-o/--output`` and ``--details`` (kept
    for ``render``), the way ``_with_as_of`` adds the as-of options."""
    signature = inspect.signature(fn, eval_str=True)
    names = {"csv_output": CsvFlag, "fen": FenFlag, "output": OutputFile, "details": DetailsFlag}
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                               default=None if name == "output" else False, annotation=annotation)
             for name, annotation in names.items()]

    @functools.wraps(fn)
    def command(*args: Any, csv_output: bool = False, fen: bool = False, output: str | None = None,
                details: bool = False, **kwargs: Any) -> Any:
        if (fen or output) and not csv_output:
            raise typer.BadParameter("--fen and -o/--output go with --csv: add --csv")
        if csv_output and kwargs.get("json_output"):
            raise typer.BadParameter("--csv and --json: give one of them")
        token = _OUTPUT.set((csv_output, fen, output, details))
        try:
            return fn(*args, **kwargs)
        finally:
            _OUTPUT.reset(token)

    return _with_options(command, signature, extra)


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
def q_reconcile(as_of: AsOf = None, json_output: JsonFlag = False) -> None:
    """Each control account against its sub-ledger as of a business date; exits 1 when any differs."""
    from ledger.projections.reconcile import query_reconcile

    _run_check(json_output, query_reconcile, as_of)


def _run_check(json_output: bool, fn: Any, *args: Any) -> None:
    """A query whose document says ``ok``: printed like any query, exit 1 when not ok."""
    outcome = {"ok": True}

    def run(projector: Any) -> dict[str, Any]:
        document: dict[str, Any] = fn(projector, *args)
        outcome["ok"] = bool(document["ok"])
        return document

    _run_query(json_output, run)
    if not outcome["ok"]:
        raise typer.Exit(1)


@query_app.command("audit")
def q_audit(entity: Annotated[str | None, typer.Option(help="Any entity id: customer, sale, rep, budget...")] = None,
            actor: Annotated[str | None, typer.Option(help="A user id: every decision they took or approved.")] = None,
            json_output: JsonFlag = False) -> None:
    """The decisions and events about one entity, or taken or approved by one user, in log
    order (exactly one of --entity and --actor)."""
    from ledger.projections.audit import query_actor, query_audit

    if (entity is None) == (actor is None):
        raise typer.BadParameter("give exactly one of --entity and --actor")
    if actor is not None:
        _run_query(json_output, query_actor, actor)
    else:
        _run_query(json_output, query_audit, entity)


@query_app.command("command")
def q_command(command_id: Annotated[str, typer.Option("--id", help="A command_id.")],
              actor: Annotated[str | None, typer.Option(help="Only this actor's command.")] = None,
              json_output: JsonFlag = False) -> None:
    """A command's answer and the events it produced."""
    from ledger.projections.audit import query_command

    _run_query(json_output, query_command, command_id, actor)


@query_app.command("late")
def q_late(date_from: Annotated[str | None, typer.Option("--from", help="First business date YYYY-MM-DD.")] = None,
           date_to: Annotated[str | None, typer.Option("--to", help="Last business date YYYY-MM-DD.")] = None,
           json_output: JsonFlag = False) -> None:
    """Events reported late (SPEC 2.6), by business date."""
    from ledger.projections.audit import query_late

    _run_query(json_output, query_late, date_from, date_to)


@query_app.command("sod")
def q_sod(json_output: JsonFlag = False) -> None:
    """Segregation-of-duty checks over every approval, and any violation; exits 1 on one."""
    from ledger.projections.audit import query_sod

    _run_check(json_output, query_sod)


@query_app.command("dso")
def q_dso(as_of: AsOf = None, json_output: JsonFlag = False) -> None:
    """Days sales outstanding as of a business date."""
    from ledger.projections.aging import query_dso

    _run_query(json_output, query_dso, as_of)


@query_app.command("disputes")
def q_disputes(entity: Annotated[str | None, typer.Option(help="Only the disputes of this entity.")] = None,
               open_only: Annotated[bool, typer.Option("--open", help="Only open disputes.")] = False,
               json_output: JsonFlag = False) -> None:
    """Disputes, open and resolved, by entity."""
    from ledger.projections.disputes import query_disputes

    _run_query(json_output, query_disputes, entity, open_only)


@query_app.command("trips")
def q_trips(rep: Annotated[str, typer.Option(help="Rep id.")],
            year: Annotated[int | None, typer.Option(help="Year YYYY (default: this year).")] = None,
            json_output: JsonFlag = False) -> None:
    """A rep's progress towards the incentive trips."""
    from ledger.projections.trips import query_trips

    _run_query(json_output, query_trips, rep, year)


@query_app.command("policies")
def q_policies(as_of: AsOf = None, json_output: JsonFlag = False) -> None:
    """Every policy's version and values in force, and the commission plan, as the adopt
    commands take them."""
    from ledger.projections.policies import query_policies

    _run_query(json_output, query_policies, as_of)


# --- as-of: every query at a past log position or recorded time (SPEC 4, 5.3) -------------

AtPosition = Annotated[int | None, typer.Option(
    "--at-position", min=0, help="Answer as the query did when the log ended at position N "
                                 "(replayed in a sandbox).")]
AtTime = Annotated[str | None, typer.Option(
    "--at-time", help="Answer as the query did at a recorded time (ISO 8601 with offset).")]
_AS_OF: contextvars.ContextVar[tuple[int | None, str | None]] = contextvars.ContextVar(
    "as_of", default=(None, None))


def _with_as_of(fn: Any) -> Any:
    """Give a query command ``--at-position`` and ``--at-time`` (kept for ``_run_query``)."""
    signature = inspect.signature(fn, eval_str=True)
    extra = [inspect.Parameter("at_position", inspect.Parameter.KEYWORD_ONLY, default=None,
                               annotation=AtPosition),
             inspect.Parameter("at_time", inspect.Parameter.KEYWORD_ONLY, default=None,
                               annotation=AtTime)]

    @functools.wraps(fn)
    def command(*args: Any, at_position: int | None = None, at_time: str | None = None,
                **kwargs: Any) -> Any:
        token = _AS_OF.set((at_position, at_time))
        try:
            return fn(*args, **kwargs)
        finally:
            _AS_OF.reset(token)

    return _with_options(command, signature, extra)


for _info in query_app.registered_commands:
    _info.callback = _with_output_options(_with_as_of(_info.callback))


def _as_of_stop(runtime: Runtime, json_output: bool) -> int | None:
    """The position an as-of query replays to, or None for the live projections."""
    from ledger.domain.calendar import parse_instant
    from ledger.replay.sandbox import position_at_time

    at_position, at_time = _AS_OF.get()
    problem = None
    if at_position is not None and at_time is not None:
        problem = ("at_time", "--at-position and --at-time: give one, not both")
    elif at_position is not None and at_position > runtime.position():
        problem = ("at_position", f"--at-position {at_position} is beyond the log's end "
                                  f"({runtime.position()})")
    elif at_time is not None:
        try:
            return position_at_time(runtime.source, parse_instant(at_time))
        except ValueError as e:
            problem = ("at_time", f"--at-time: {e}")
    if problem is not None:
        field, message = problem
        if json_output:
            _print_json({"rule": "invalid_field", "message": message,
                         "details": {"field": field}})
        else:
            err.print(f"[bold red]invalid_field[/]: {message}")
        raise typer.Exit(1)
    return at_position


# --- replay ------------------------------------------------------------------------------

replay_app = typer.Typer(help="Replay tooling (SPEC 4): what-if, drift. Reads the log, never "
                              "writes it.", no_args_is_help=True)
app.add_typer(replay_app, name="replay")


def _replay_failed(json_output: bool, problem: dict[str, Any]) -> None:
    if json_output:
        _print_json(problem)
    else:
        _print_problem(problem["rule"], problem["message"], problem.get("details") or {})
    raise typer.Exit(1)


# What to do about a refused query or replay (issue 14: errors name the fix).
_FIXES = {
    "unknown_reference": "check the id: `ledger query audit --entity ID` shows everything "
                         "the log knows about an id, `ledger query policies` the policies",
    "invalid_field": "dates are YYYY-MM-DD, months YYYY-MM, times ISO 8601 with an offset "
                     "(2025-03-03T18:00:00+08:00); `--help` on the command shows an example",
}


def _print_problem(rule: str, message: str, details: Any) -> None:
    """A refusal on stderr, one line: the rule, the message, and how to fix it."""
    fix = _FIXES.get(rule)
    hint = f" -- fix: {fix}" if fix is not None else ""
    err.print(f"[bold red]{rule}[/]: ", end="", highlight=False)
    err.print(f"{message}{hint}", highlight=False, markup=False, soft_wrap=True)


@replay_app.command("what-if")
def replay_what_if(
    exclude: Annotated[list[int] | None, typer.Option(
        "--exclude", help="Leave out the event at this log position (repeatable).")] = None,
    amend: Annotated[list[str] | None, typer.Option(
        "--amend", help='POSITION=JSON: replace fields of the event at POSITION, e.g. '
                        '\'57={"amount": 90000}\' (repeatable).')] = None,
    plan: Annotated[str | None, typer.Option(
        "--plan", help="Re-run under this commission plan: an adopted version (`ledger query "
                       "policies`) or a JSON FILE shaped as AdoptCommissionPlan takes it.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Re-run the projections in a sandbox with events left out or amended, or under another
    commission plan, and list each figure that changes; the log and the live projections
    are untouched.

    Example: ledger replay what-if --exclude 1234 --json"""
    from ledger.replay.plan_whatif import PlanWhatIfError, resolve_plan
    from ledger.replay.whatif import WhatIfError, parse_amend, what_if

    with _runtime() as runtime:
        try:
            amended = dict(parse_amend(text) for text in (amend or []))
            live = runtime.projector()
            values = resolve_plan(live, plan) if plan is not None else None
            document = what_if(live, exclude=exclude or [], amend=amended, plan=values)
        except WhatIfError as e:
            _replay_failed(json_output, e.as_dict())
            return
        except PlanWhatIfError as e:
            _replay_failed(json_output, {"rule": e.rule, "message": e.message,
                                         "details": {"field": "plan"}})
            return
    if json_output:
        _print_json(document)
        return
    render(document)


@replay_app.command("as-of", context_settings={"allow_extra_args": True,
                                               "ignore_unknown_options": True})
def replay_as_of(
    ctx: typer.Context,
    at_position: Annotated[int | None, typer.Option(
        "--at-position", min=0, help="The log position the query is answered at.")] = None,
    at_time: Annotated[str | None, typer.Option(
        "--at-time", help="A recorded time (ISO 8601 with offset): where the log ended then.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """What the ledger showed when the log ended at a position or a recorded time (SPEC 4).

    With a query after the options, answers that query as it answered then, e.g.
    `ledger replay as-of --at-time 2025-03-03T18:00:00+08:00 commission --rep R7 --period 2025-02 --json`
    (the same as `ledger query commission ... --at-time ...`). Without one, tells where the
    log ended: `{position, recorded_at, log_position}`."""
    from ledger.domain.calendar import parse_instant
    from ledger.replay.sandbox import position_at_time

    if ctx.args:
        args = [*ctx.args]
        if at_position is not None:
            args += ["--at-position", str(at_position)]
        if at_time is not None:
            args += ["--at-time", at_time]
        if json_output:
            args.append("--json")
        command = typer.main.get_command(app)
        try:
            command.main(["query", *args], prog_name="ledger", standalone_mode=False)
        except click.exceptions.ClickException as e:
            e.show()
            raise typer.Exit(2) from None
        return
    if (at_position is None) == (at_time is None):
        _replay_failed(json_output, {"rule": "invalid_field", "message":
                                     "give one of --at-position and --at-time",
                                     "details": {"field": "at_position"}})
    with _runtime() as runtime:
        end = runtime.position()
        if at_time is not None:
            try:
                position = position_at_time(runtime.source, parse_instant(at_time))
            except ValueError as e:
                _replay_failed(json_output, {"rule": "invalid_field",
                                             "message": f"--at-time: {e}",
                                             "details": {"field": "at_time"}})
                return
        else:
            position = min(at_position or 0, end)
        recorded = None
        if position:
            found = runtime.source.read(position - 1, position, 1)
            if found:
                recorded = found[0][1].timestamp.isoformat()
    document = {"position": position, "recorded_at": recorded, "log_position": end}
    if json_output:
        _print_json(document)
    else:
        out.print(f"the log ended at position {position:,} (recorded {recorded or '-'}); "
                  f"it is at {end:,} now", highlight=False)


@replay_app.command("drift")
def replay_drift(json_output: JsonFlag = False) -> None:
    """Rebuild every projection in a sandbox and compare it with the live tables; exits 1
    on any difference."""
    from ledger.replay.drift import drift

    with _runtime() as runtime:
        live = runtime.projector()
        live.catch_up()
        document = drift(live)
    if json_output:
        _print_json(document)
    else:
        render(document)
    if not document["ok"]:
        raise typer.Exit(1)


@replay_app.command("rebuild")
def replay_rebuild(
    projection: Annotated[list[str] | None, typer.Option(
        "--projection", help="Rebuild only this projection (repeatable); default: all.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Recompute projections from position 0 into a new generation of their tables, while
    queries keep answering from the current one; then switch over and drop the old one."""
    from rich.progress import TimeRemainingColumn

    from ledger.replay.rebuild import RebuildError, rebuild

    with _runtime() as runtime:
        total = runtime.position()
        try:
            if json_output:
                document = rebuild(runtime.projector(), projection)
            else:
                with Progress(TextColumn("{task.description}"), BarColumn(),
                              MofNCompleteColumn(), TextColumn("{task.fields[rate]} events/s"),
                              TimeRemainingColumn(), console=err, transient=True) as progress:
                    task = progress.add_task("rebuilding", total=total, rate="-")
                    started = time.perf_counter()

                    def advance(done: int, _total: int) -> None:
                        spent = time.perf_counter() - started
                        progress.update(task, completed=done,
                                        rate=f"{done / spent:,.0f}" if spent else "-")

                    document = rebuild(runtime.projector(), projection, progress=advance)
        except RebuildError as e:
            _replay_failed(json_output, e.as_dict())
            return
    if json_output:
        _print_json(document)
        return
    render(document)


# --- replay explain (SPEC 4, 5.3) -----------------------------------------------------------

explain_app = typer.Typer(help="The events behind one figure, in log order, with the rule and "
                               "policy version of each step and the running total.",
                          no_args_is_help=True)
replay_app.add_typer(explain_app, name="explain")


def _run_explain(json_output: bool, fn: Any, *args: Any) -> None:
    """Like ``_run_query`` (live projections caught up, or a sandbox for --at-position /
    --at-time), printing the explanation: the figure and value, then one line per step."""
    from ledger.projections.errors import QueryError

    with _runtime() as runtime:
        stop = _as_of_stop(runtime, json_output)
        try:
            document = runtime.query(fn, *args, stop=stop)
        except QueryError as e:
            _replay_failed(json_output, e.as_dict())
            return
    if json_output:
        _print_json(document)
        return
    render(document)  # the verdict line (figure and value), then the steps (ledger.reports)


@explain_app.command("commission")
def explain_commission_command(rep: Annotated[str, typer.Option(help="Rep id.")],
                               period: Annotated[str, typer.Option(help="Month YYYY-MM.")],
                               json_output: JsonFlag = False) -> None:
    """Explain a rep's statement total for a month, step by step.

    Each sale's share with its tier and rate, bonuses with the threshold met, override per
    trainee, clawbacks at the sale month's rate, fines, late adjustments, carried.

    Example: ledger replay explain commission --rep R2 --period 2024-03 --json"""
    from ledger.replay.explain import explain_commission

    _run_explain(json_output, explain_commission, rep, period)


@explain_app.command("receivable")
def explain_receivable_command(
    customer: Annotated[str, typer.Option(help="Customer id.")],
    sale: Annotated[str | None, typer.Option(help="Explain this sale's open amount only.")] = None,
    as_of: AsOf = None, json_output: JsonFlag = False,
) -> None:
    """Explain a customer's open receivables (or one sale's open amount) as of a date.

    Sales, customer credit, returns, allocations, FIFO settlements, write-offs, recoveries.

    Example: ledger replay explain receivable --customer C1 --sale S1 --as-of 2024-06-30"""
    from ledger.replay.explain import explain_receivable

    _run_explain(json_output, explain_receivable, customer, sale, as_of)


@explain_app.command("budget")
def explain_budget_command(budget: Annotated[str, typer.Option(help="Budget id.")],
                           json_output: JsonFlag = False) -> None:
    """Explain a budget's remaining, step by step.

    Allocation, adjustments, commitments, spends and the commitments they release.

    Example: ledger replay explain budget --budget B1"""
    from ledger.replay.explain import explain_budget

    _run_explain(json_output, explain_budget, budget)


for _info in explain_app.registered_commands:
    _info.callback = _with_as_of(_info.callback)


# --- serve -------------------------------------------------------------------------------


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    keys_file: Annotated[str | None, typer.Option(help="API keys JSON file (default: $LEDGER_API_KEYS_FILE).")] = None,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Worker processes answering requests; with more than one, the "
                            "supervising process runs the background projector.")] = 1,
) -> None:
    """Serve the HTTP API (SPEC 5.4)."""
    from ledger.api import ApiKeysError, serve

    try:
        serve(_settings(keys_file=keys_file), host, port, workers)
    except ApiKeysError as e:
        err.print(f"[bold red]cannot serve[/]: {e}")
        raise typer.Exit(1) from None


# --- keys --------------------------------------------------------------------------------

keys_app = typer.Typer(help="API keys of `ledger serve`: stored hashed, shown once.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")

KeysFile = Annotated[str | None, typer.Option(
    "--file", help="The keys file (default: $LEDGER_API_KEYS_FILE).")]


def _keys_file(path: str | None) -> str:
    from ledger.bootstrap import KEYS_FILE_ENV

    found = path or _settings().keys_file
    if not found:
        err.print(f"no keys file: pass --file PATH or set {KEYS_FILE_ENV}")
        raise typer.Exit(2)
    return found


@keys_app.command("add")
def keys_add(user: Annotated[str, typer.Argument(help="The registered user the key speaks for.")],
             file: KeysFile = None) -> None:
    """Make a new random key for USER: printed once, alone on stdout; only its SHA-256 is
    stored. Example: `ledger keys add svc-orders --file keys.json`."""
    from ledger.api import keyfile

    path = _keys_file(file)
    try:
        key, entry = keyfile.add(path, user)
    except keyfile.KeyFileError as e:
        err.print(str(e))
        raise typer.Exit(2) from None
    sys.stdout.write(key + "\n")
    err.print(f"key {entry.id} for {user} added to {path}; it is not shown again")


@keys_app.command("list")
def keys_list(file: KeysFile = None, json_output: JsonFlag = False) -> None:
    """The keys of the file: id, user, created, revoked (never the keys)."""
    from ledger.api import keyfile

    path = _keys_file(file)
    try:
        rows = [{k: v for k, v in r.items() if k != "sha256"}
                for r in keyfile.as_rows(keyfile.load(path))]
    except keyfile.KeyFileError as e:
        err.print(str(e))
        raise typer.Exit(2) from None
    if json_output:
        _print_json({"keys": rows})
        return
    for r in rows:
        out.print(f"{r['id']}  {r['user_id']}  created {r['created_at']}"
                  + (f"  revoked {r['revoked_at']}" if r["revoked_at"] else ""), highlight=False)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (`ledger keys list`).")],
                file: KeysFile = None) -> None:
    """Revoke a key; a running `ledger serve` stops accepting it within a second."""
    from ledger.api import keyfile

    path = _keys_file(file)
    try:
        entry = keyfile.revoke(path, key_id)
    except keyfile.KeyFileError as e:
        err.print(str(e))
        raise typer.Exit(2) from None
    err.print(f"key {entry.id} of {entry.user_id} revoked at {entry.revoked_at}")
# --- verify and keygen ---------------------------------------------------------------------


@app.command("verify")
def verify_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print only the JSON document.")] = False,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="Write a signed checkpoint of the verified log to FILE "
        "(key: $LEDGER_SIGNING_KEY_FILE).", dir_okay=False)] = None,
    against: Annotated[Path | None, typer.Option(
        "--against", help="Check the log against an earlier checkpoint FILE.", dir_okay=False)] = None,
    public_key: Annotated[str | None, typer.Option(
        "--public-key", help="The company's public key (hex) that --against requires; "
        "default: the key of $LEDGER_SIGNING_KEY_FILE when set.")] = None,
    seal: Annotated[bool, typer.Option(
        "--seal", help="Chain a log written before chaining existed (once), then verify.")] = False,
    bundle: Annotated[Path | None, typer.Option(
        "--bundle", help="Check an evidence FILE (`ledger export`) with no database.",
        dir_okay=False)] = None,
    database: Annotated[str | None, typer.Option(
        "--database", help="Database URL (default: $LEDGER_DATABASE_URL).")] = None,
) -> None:
    """Recompute the event log's hash chain and name the first break; exit 1 on a break
    (SPEC 4, 5.3). Also writes or checks signed checkpoints."""
    from ledger.replay import checkpoint as cps
    from ledger.replay.chain import ChainError, verify

    if bundle is not None:
        _verify_bundle(bundle, json_output, public_key)

    def config_error(message: str) -> typer.Exit:
        err.print(f"[bold red]configuration error[/]: {message}", highlight=False, soft_wrap=True)
        return typer.Exit(2)

    try:
        settings = _settings(database_url=database)
        db = settings.database()
        if db.kind == "sqlite" and not Path(db.env["SQLITE_DBNAME"]).exists():
            raise ConfigError(f"no database at {db.env['SQLITE_DBNAME']}: nothing to verify")
        if checkpoint is not None and against is not None:
            raise ConfigError("--checkpoint and --against are separate runs: give one of them")
        key_file = settings.signing_key_file
        key = cps.load_private_key(Path(key_file)) if key_file else None
        if checkpoint is not None and key is None:
            raise cps.CheckpointError(f"--checkpoint needs {cps.SIGNING_KEY_ENV} (see `ledger keygen`)")
        trusted = _public_key(public_key) if public_key else (
            cps.raw_public(key.public_key()) if key else None)
        earlier = cps.read(against) if against is not None else None
        runtime = Runtime(settings)
    except (ConfigError, cps.CheckpointError) as e:
        raise config_error(str(e)) from None
    with runtime:
        recorder: Any = runtime.recorder
        if seal:
            try:
                sealed = recorder.seal_chain()
            except ChainError as e:
                err.print(f"[bold red]cannot seal[/]: {e}", soft_wrap=True)
                raise typer.Exit(1) from None
            err.print(f"sealed: {sealed} events chained", soft_wrap=True)
        if earlier is not None:
            result = cps.check(recorder, earlier, trusted)
            document = result.as_dict(earlier)
            v = result.verification
        else:
            total = recorder.count_events(recorder.log_end()) if not json_output else 0
            with _progress() as progress:
                task = progress.add_task("verifying", total=total) if total > 20_000 else None
                v = verify(recorder, progress=(lambda n: progress.update(task, completed=n))
                           if task is not None else None)
            document = v.as_dict()
        if checkpoint is not None and v.ok:
            if key is None:  # checked above: --checkpoint needs LEDGER_SIGNING_KEY_FILE
                _config_error("--checkpoint needs LEDGER_SIGNING_KEY_FILE")
            cp = cps.sign(v, key)
            try:
                cps.write(cp, checkpoint)
            except OSError as e:
                raise config_error(f"cannot write {checkpoint}: {e.strerror}") from None
            document["checkpoint"] = {"file": str(checkpoint), "key_fingerprint": cp.key_fingerprint}
    if json_output:
        _print_json(document)
    else:
        _print_verification(document)
        if checkpoint is not None and "checkpoint" in document:
            out.print(f"signed checkpoint written to {checkpoint} (key "
                      f"{document['checkpoint']['key_fingerprint'][:16]}...)", soft_wrap=True)
        elif checkpoint is not None:
            err.print("[bold red]no checkpoint written[/]: the log has a break", soft_wrap=True)
    raise typer.Exit(0 if document["ok"] else 1)


# --- evidence export (SPEC 4, 5.3 ``export``) and ``verify --bundle`` ------------------------


@app.command("export")
def export_command(
    entity: Annotated[str, typer.Option("--entity", help="A rep (with --period), customer, sale "
                                                         "or budget id.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The evidence file to write.",
                                         dir_okay=False)],
    period: Annotated[str | None, typer.Option("--period", help="Month YYYY-MM (a rep's "
                                                                "statement).")] = None,
    as_of: AsOf = None,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="A signed checkpoint FILE (`ledger verify --checkpoint`): the "
        "file then proves its events against the signed root.", dir_okay=False)] = None,
    json_output: JsonFlag = False,
) -> None:
    """Write the evidence file of a disputed figure: its events with their hashes and
    inclusion proofs, the checkpoint, the explanation and the figures; `ledger verify
    --bundle FILE` checks it with no database.

    Example: ledger export --entity R2 --period 2024-03 -o evidence-R2-2024-03.json"""
    from ledger.replay import checkpoint as cps
    from ledger.replay.export import ExportError, export, write

    with _runtime() as runtime:
        try:
            document = export(runtime.recorder, runtime.projector(), entity, period, as_of,
                              checkpoint)
        except ExportError as e:
            _replay_failed(json_output, e.as_dict())
            return
        except cps.CheckpointError as e:
            _config_error(str(e))
    try:
        write(document, output)
    except OSError as e:
        _config_error(f"cannot write {output}: {e.strerror}")
    summary = {"file": str(output), "subject": document["subject"],
               "events": len(document["events"]), "selection": document["selection"],
               "log": document["log"], "checkpoint": document["checkpoint"] is not None,
               "figure": document["explanation"]["figure"],
               "value": document["explanation"]["value"]}
    if json_output:
        _print_json(summary)
        return
    out.print(f"evidence for {entity}: {summary['figure']} = {summary['value']:,} fen, "
              f"{summary['events']} events of {document['log']['tree_size']:,} with their "
              f"proofs{' and a signed checkpoint' if summary['checkpoint'] else ''}, written to "
              f"{output}; check it anywhere with `ledger verify --bundle {output}`",
              highlight=False, soft_wrap=True)


def _verify_bundle(path: Path, json_output: bool, public_key: str | None) -> NoReturn:
    """``verify --bundle FILE``: no database is opened or configured."""
    from ledger.replay.bundle import BundleError, read, verify_bundle

    try:
        trusted = _public_key(public_key) if public_key else None
        document = verify_bundle(read(path), trusted)
    except (BundleError, ConfigError) as e:
        _config_error(str(e))
    if json_output:
        _print_json(document)
    else:
        subject = document["bundle"]["subject"] or {}
        stated = document["stated"]
        if document["ok"]:
            out.print(f"[bold green]ok[/]: {path}: {document['bundle']['events']} events proven "
                      f"in the log of {document['bundle']['log']['tree_size']:,} events"
                      f"{' under a signed checkpoint' if document['bundle']['checkpoint'] else ''}; "
                      f"{subject.get('entity')} {stated['figure']} = {stated['value']:,} fen "
                      "replayed from them", highlight=False, soft_wrap=True)
        else:
            out.print(f"[bold red]FAILED[/]: {path}: {len(document['problems'])} problem(s)",
                      highlight=False)
            for p in document["problems"]:
                where = f" at position {p['position']}" if p["position"] is not None else ""
                out.print(f"  [bold red]{p['problem']}[/]{where}: ", end="", highlight=False)
                out.print(p["detail"], highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(0 if document["ok"] else 1)


def _public_key(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ConfigError(f"--public-key: expected 64 hex digits (a raw Ed25519 key), got {text!r}")
    return raw


def _print_verification(d: dict[str, Any]) -> None:
    """The verdict first, then the evidence (ledger.reports.replay.verify)."""
    from ledger.reports.replay import verify

    out.print(verify(d, out.width), highlight=False)


@app.command("keygen")
def keygen_command(
    path: Annotated[Path, typer.Argument(help="Where to write the private key (PEM); must not exist.",
                                         dir_okay=False)],
) -> None:
    """Write an Ed25519 signing key for checkpoints (set LEDGER_SIGNING_KEY_FILE to it)."""
    from ledger.replay import checkpoint as cps

    try:
        public = cps.raw_public(cps.keygen(path))
    except cps.CheckpointError as e:
        err.print(f"[bold red]configuration error[/]: {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out.print(f"private key written to {path} (keep it secret; mode 0600)\n"
              f"public key  {public.hex()}\nfingerprint {cps.fingerprint(public)}", highlight=False, soft_wrap=True)


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
    with _runtime(database_url=f"sqlite:///{path}") as runtime:
        ledger = runtime.ledger
        with _progress() as progress:
            report = import_lines(ledger, lines, progress)
            # commissions payable by the year's end are paid, through the command path too
            projector = runtime.projector()
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
        demo_summary(runtime, report, out, err, as_of=year_end)
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
        f"ledger query policies {db}",
        f"ledger verify {db}",
        f"ledger replay drift {db}",
        f"ledger keys add fin-li --file keys.json && "
        f"LEDGER_DATABASE_URL={url} ledger serve --keys-file keys.json",
    ]
    out.print("\nExplore the demo's database (add --json for the JSON documents):",
              highlight=False)
    for line in commands:
        out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


# --- an example in every command's help (issue 14) ------------------------------------------

_EXAMPLES = {
    "import": "ledger import commands.ndjson",
    "demo": "ledger demo --database ./ledger-demo.db",
    "serve": "ledger serve --port 8000 --keys-file keys.json",
    "verify": "ledger verify --checkpoint cp.json",
    "export": "ledger export --entity R2 --period 2024-03 -o evidence.json",
    "keygen": "ledger keygen signing.pem",
    "query commission": "ledger query commission --rep REP-001 --period 2025-06 (--csv -o slip.csv)",
    "query receivables": "ledger query receivables --customer CUST-0001 --as-of 2025-12-31",
    "query aging": "ledger query aging --as-of 2025-12-31 --csv --fen",
    "query budget": "ledger query budget --budget B-east-adver-2025Q2",
    "query ranks": "ledger query ranks --rep REP-001",
    "query trial-balance": "ledger query trial-balance --as-of 2025-12-31 --csv -o tb.csv",
    "query reconcile": "ledger query reconcile --as-of 2025-12-31",
    "query audit": "ledger query audit --entity REP-001 --details",
    "query command": "ledger query command --id demo-7-000319",
    "query late": "ledger query late --from 2025-01-01 --to 2025-03-31",
    "query sod": "ledger query sod",
    "query dso": "ledger query dso --as-of 2025-12-31",
    "query disputes": "ledger query disputes --open",
    "query trips": "ledger query trips --rep REP-001 --year 2025",
    "query policies": "ledger query policies --as-of 2025-06-30",
    "replay drift": "ledger replay drift",
    "replay as-of": "ledger replay as-of --at-position 5000 aging --as-of 2025-03-31",
    "replay rebuild": "ledger replay rebuild --projection commissions",
    "replay explain": "ledger replay explain commission --rep REP-001 --period 2025-06",
    "replay explain commission": "ledger replay explain commission --rep REP-001 --period 2025-06",
    "replay explain receivable": "ledger replay explain receivable --customer CUST-0001 --as-of 2025-12-31",
    "replay explain budget": "ledger replay explain budget --budget B-east-adver-2025Q2",
    "keys add": "ledger keys add svc-orders --file keys.json",
    "keys list": "ledger keys list --file keys.json",
    "keys revoke": "ledger keys revoke KEY_ID --file keys.json",
}


def _add_examples(group: typer.Typer, prefix: str = "") -> None:
    """Append ``Example: ...`` to the help of each command that does not show one."""
    for info in group.registered_commands:
        name = info.name or (info.callback.__name__.replace("_", "-") if info.callback else "")
        example = _EXAMPLES.get(f"{prefix}{name}")
        doc = info.help or (info.callback.__doc__ if info.callback else None) or ""
        if example and "Example" not in doc:
            info.help = f"{inspect.cleandoc(doc)}\n\nExample: {example}"
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _add_examples(sub.typer_instance, f"{prefix}{sub.name} ")


_add_examples(app)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
