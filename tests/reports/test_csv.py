"""``--csv`` of each query against its JSON document (issue 14): one header row, every
money figure equal to the JSON's fen (yuan x 100, or fen with --fen), dates ISO."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from ledger.cli import app
from ledger.reports.csv import sheet, to_csv
from ledger.reports.fmt import MONEY_KEYS

runner = CliRunner()
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    return header, [dict(zip(header, r, strict=True)) for r in reader]


def fen_of(text: str) -> int:
    assert re.fullmatch(r"-?\d+\.\d\d", text), f"not yuan with two decimals: {text!r}"
    return int(Decimal(text) * 100)


@pytest.mark.parametrize("name", ["commission", "receivables", "aging", "budget", "ranks",
                                  "trial-balance", "reconcile", "audit", "sod", "trips",
                                  "policies", "drift", "what-if", "explain"])
def test_csv_figures_equal_the_json(documents, name):
    document, _ = documents[name]
    columns, expected = sheet(document)
    for fen in (False, True):
        header, rows = parse(to_csv(document, fen=fen))
        assert header == columns
        assert len(rows) == len(expected)
        assert rows or name == "drift"  # no drift: the header row alone
        for got, want in zip(rows, expected, strict=True):
            for column in columns:
                value = want.get(column)
                money = column in MONEY_KEYS and isinstance(value, int) and not isinstance(value, bool)
                if name == "what-if" and column in ("live", "what_if", "difference"):
                    money = want["field"] in MONEY_KEYS
                if money:
                    assert (int(got[column]) if fen else fen_of(got[column])) == value, column
                elif value is None:
                    assert got[column] == ""
                elif isinstance(value, str) and ISO_DATE.match(value):
                    assert got[column] == value  # dates ISO as in the JSON


def test_commission_csv_carries_every_statement_figure(documents):
    document, _ = documents["commission"]
    _, rows = parse(to_csv(document, fen=True))
    figures = {r["ref"]: int(r["amount"]) for r in rows if r["line"] == "figure"}
    for key in ("commission", "morning_star_bonus", "opening_star_bonus", "override", "clawback",
                "fines", "adjustment", "carried", "total", "paid", "balance", "personal_sales"):
        assert figures[key] == document[key], key
    sales = [r for r in rows if r["line"] == "sale"]
    assert sum(int(r["share"]) for r in sales) == document["commission"]
    assert all(r["rep_id"] == document["rep_id"] and r["period"] == document["period"] for r in rows)


def test_aging_csv_sums_to_the_total(documents):
    document, _ = documents["aging"]
    _, rows = parse(to_csv(document))
    buckets = [fen_of(r["amount"]) for r in rows if r["dimension"] == "bucket"]
    assert sum(buckets) == document["total"]
    assert {r["name"]: fen_of(r["amount"]) for r in rows if r["dimension"] == "class"} == document["classes"]


def test_cli_csv_to_stdout_and_file_matches_json(demo_company, documents, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", demo_company["url"])
    args = ["query", "trial-balance", "--as-of", demo_company["year_end"].isoformat()]
    as_json = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    result = runner.invoke(app, [*args, "--csv", "--fen"])
    assert result.exit_code == 0, result.output
    header, rows = parse(result.stdout)
    assert header == ["account", "debit", "credit", "currency"]
    assert {r["currency"] for r in rows} == {as_json["currency"]} == {"CNY"}
    by_account = {r["account"]: (int(r["debit"]), int(r["credit"])) for r in rows}
    for a in as_json["accounts"]:
        assert by_account[a["account"]] == (a["debit"], a["credit"])
    assert by_account["total"] == (as_json["debit_total"], as_json["credit_total"])
    target = tmp_path / "tb.csv"
    written = runner.invoke(app, [*args, "--csv", "-o", str(target)])
    assert written.exit_code == 0, written.output
    _, file_rows = parse(target.read_text(encoding="utf-8"))
    assert [(r["account"], fen_of(r["debit"])) for r in file_rows] == [
        (r["account"], int(r["debit"])) for r in rows]


def test_cli_output_options_name_the_fix(demo_company, monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", demo_company["url"])
    fen_alone = runner.invoke(app, ["query", "aging", "--fen"])
    assert fen_alone.exit_code == 2
    assert "add --csv" in fen_alone.output
    both = runner.invoke(app, ["query", "aging", "--csv", "--json"])
    assert both.exit_code == 2
    assert "give one of them" in both.output


def test_cli_terminal_layout_is_the_payslip(demo_company, documents, monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", demo_company["url"])
    monkeypatch.setenv("COLUMNS", "80")
    document, _ = documents["commission"]
    result = runner.invoke(app, ["query", "commission", "--rep", document["rep_id"],
                                 "--period", document["period"]])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Commission statement {document['rep_id']}  {document['period']}")
    assert "Bonuses" in result.stdout and "= total" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
