"""Every query's JSON answer, byte for byte, over two fixed stores (issue 9: the structure
may change, the answers may not).

Two SQLite stores are built through the real command path with a frozen clock (every
recorded time and every event timestamp is the same instant, so the answers do not depend
on when the test runs): the demo company, and the company ``tests/event_samples``'s
generator builds (it holds an event of every stored type). Then each query of SPEC 5.3 is
asked through the CLI with ``--json`` and its output compared with
``tests/answers/<store>.json``, recorded before the restructuring.

``LEDGER_UPDATE_GOLDEN=1`` rewrites the recorded answers: only for an intended change of
a document, reviewed in the diff.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

ANSWERS = Path(__file__).parent / "answers"
UPDATE_ENV = "LEDGER_UPDATE_GOLDEN"
FROZEN = datetime(2026, 2, 6, 4, 0, tzinfo=UTC)  # after every command's business time


def _frozen() -> datetime:
    return FROZEN


@pytest.fixture(scope="module")
def frozen_time() -> Iterator[None]:
    """Every event timestamp the library makes is FROZEN while the stores are built."""
    import eventsourcing.domain as es_domain

    saved = es_domain.datetime_now_with_tzinfo
    es_domain.datetime_now_with_tzinfo = _frozen
    try:
        yield
    finally:
        es_domain.datetime_now_with_tzinfo = saved


def _open(url: str) -> Any:
    from ledger.application import Ledger
    from ledger.config import parse_database_url

    return Ledger(parse_database_url(url), clock=_frozen)


def build_demo(url: str) -> dict[str, Any]:
    """The demo company of the report tests (seed 7), with its closing payouts."""
    from ledger.service.importing import import_lines
    from ledger.demo import Company, commission_payouts
    from ledger.projections.commissions import statement_months
    from ledger.bootstrap import projector_for

    company = Company(seed=7, reps=8, customers=15)
    commands = list(company.commands())
    year_end = date(company.year, 12, 31)
    with _open(url) as ledger:
        import_lines(ledger, [msgspec.json.encode(b) for b in commands])
        projector = projector_for(ledger)
        projector.catch_up()
        months = {r: statement_months(projector, r) for r in company.rep_ids}
        payouts = commission_payouts(months, year_end, 7)
        report = import_lines(ledger, [msgspec.json.encode(b) for b in payouts])
        if report["rejected"]:
            raise RuntimeError(report["rejected"])
    return {"company": company, "commands": commands, "year": company.year}


def build_samples(url: str) -> dict[str, Any]:
    """The company ``tests/event_samples/generate.py`` builds: every stored event type."""
    sys.path.insert(0, str(Path(__file__).parent / "event_samples"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    import itertools

    import support
    from ledger.demo import Company

    # the generator's command ids come from support's counter: restart it, so the ids (and
    # the queries naming them) do not depend on the tests that ran before in this process
    support._ids = itertools.count(1)
    company = Company(seed=3, reps=12, customers=20)
    commands = list(company.commands())
    with _open(url) as ledger:
        for i in range(0, len(commands), 500):
            ledger.execute(commands[i:i + 500])
        extra = generate.extra_commands() + generate.money_commands(ledger)
        for answer in ledger.execute(extra):
            if answer["status"] != "applied":
                raise RuntimeError(answer)
        generate.reversal_commands(ledger)
        ledger.execute(generate.grant_commands())
        shared = {**generate.cmd("OpenDispute", "fin-wang", dispute_id="D-SHARED",
                                 entity="CUST-0001", claim="sample of a shared command id"),
                  "command_id": "AdjustBudget-3"}
        ledger.execute_one(shared)
    return {"company": company, "commands": commands + extra, "year": company.year}


def queries(built: dict[str, Any]) -> list[list[str]]:
    """The CLI queries asked of a store: every query of SPEC 5.3, over many keys."""
    company, commands, year = built["company"], built["commands"], built["year"]
    reps = list(company.rep_ids)
    customers = [c.customer_id for c in company.cust]
    budgets = sorted({c["budget_id"] for c in commands if c["command"] == "AllocateBudget"})
    sales = [c["sale_id"] for c in commands if c["command"] == "RecordSale"]
    users = sorted({c["actor"] for c in commands})
    command_ids = [commands[i]["command_id"] for i in (0, len(commands) // 2, -1)]
    mid, end = f"{year}-06-30", f"{year}-12-31"
    out: list[list[str]] = []
    for rep in reps:
        for month in (3, 7, 12):
            out.append(["query", "commission", "--rep", rep, "--period", f"{year}-{month:02d}"])
        out.append(["query", "ranks", "--rep", rep])
        out.append(["query", "trips", "--rep", rep, "--year", str(year)])
    for month in range(1, 13):
        out.append(["query", "commission", "--rep", reps[0], "--period", f"{year}-{month:02d}"])
    out.append(["query", "commission", "--rep", reps[1], "--period", f"{year + 1}-01"])
    for customer in customers:
        out.append(["query", "receivables", "--customer", customer, "--as-of", end])
    for customer in customers[:4]:
        out.append(["query", "receivables", "--customer", customer, "--as-of", mid])
        out.append(["query", "receivables", "--customer", customer, "--as-of", f"{year + 1}-02-05"])
    for day in (f"{year}-03-31", mid, end, f"{year + 1}-02-06"):
        out.append(["query", "aging", "--as-of", day])
        out.append(["query", "trial-balance", "--as-of", day])
        out.append(["query", "reconcile", "--as-of", day])
        out.append(["query", "dso", "--as-of", day])
        out.append(["query", "policies", "--as-of", day])
    for budget in budgets:
        out.append(["query", "budget", "--budget", budget])
    for entity in [customers[0], reps[0], reps[-1], sales[0], sales[len(sales) // 2], budgets[0]]:
        out.append(["query", "audit", "--entity", entity])
    for user in users:
        out.append(["query", "audit", "--actor", user])
    for command_id in command_ids:
        out.append(["query", "command", "--id", command_id])
    out.append(["query", "late", "--from", f"{year}-01-01", "--to", f"{year + 1}-12-31"])
    out.append(["query", "sod"])
    out.append(["query", "disputes"])
    out.append(["query", "disputes", "--open"])
    out.append(["replay", "explain", "commission", "--rep", reps[0], "--period", f"{year}-03"])
    out.append(["replay", "explain", "receivable", "--customer", customers[0], "--as-of", end])
    out.append(["replay", "explain", "budget", "--budget", budgets[0]])
    out.append(["replay", "drift"])
    out.append(["replay", "what-if", "--exclude", "40"])
    out.append(["query", "aging", "--as-of", end, "--at-position", "2000"])
    out.append(["query", "commission", "--rep", reps[0], "--period", f"{year}-03",
                "--at-position", "3000"])
    return out


def answers(url: str, built: dict[str, Any]) -> dict[str, str]:
    from ledger.cli import app

    runner = CliRunner()
    out: dict[str, str] = {}
    for argv in queries(built):
        result = runner.invoke(app, [*argv, "--json", "--database", url])
        out[" ".join(argv)] = f"exit {result.exit_code}\n{result.stdout}"
    return out


@pytest.mark.parametrize("store", ["demo", "samples"])
def test_every_answer_is_byte_identical(store: str, tmp_path: Path, frozen_time: None) -> None:
    url = f"sqlite:///{tmp_path / (store + '.db')}"
    built = build_demo(url) if store == "demo" else build_samples(url)
    found = answers(url, built)
    path = ANSWERS / f"{store}.json"
    if os.environ.get(UPDATE_ENV) == "1":
        ANSWERS.mkdir(exist_ok=True)
        path.write_bytes(msgspec.json.format(msgspec.json.encode(found), indent=1) + b"\n")
        return
    expected = msgspec.json.decode(path.read_bytes())
    assert list(found) == list(expected), "the set of queries changed"
    differ = [q for q in expected if found[q] != expected[q]]
    assert not differ, (f"{len(differ)} of {len(expected)} answers changed, first "
                        f"{differ[0]!r}:\n--- recorded\n{expected[differ[0]][:3000]}\n--- now\n"
                        f"{found[differ[0]][:3000]}")
    # the answers are documents, not failures: most queries answered with exit 0
    assert sum(v.startswith("exit 0\n") for v in found.values()) > 0.9 * len(found)
