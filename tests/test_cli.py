"""The ``ledger`` command (SPEC 5.3): import's report and exit status, query --json, demo."""

from __future__ import annotations

import json

import msgspec
from typer.testing import CliRunner

from ledger.cli import app
from support import USERS, cmd, sale

runner = CliRunner()


def ndjson(path, bodies, extra_lines=()):
    lines = [msgspec.json.encode(b).decode() for b in bodies] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def company_bodies():
    bodies = [cmd("RegisterUser", "admin", user_id=u, name=u, roles=r) for u, r in USERS.items()]
    return bodies + [
        cmd("RegisterCustomer", "sa", customer_id="C1", name="Acme", credit_limit=100_000,
            payment_terms_days=30, region="east"),
        cmd("RegisterRep", "sa", rep_id="R2", name="Rep", region="east"),
        cmd("SetListPrice", "sa", sku="X", unit_price=10_000, effective_from="2024-01-01",
            approved_by="dir"),
    ]


def test_import_counts_every_line_once_and_exits_1_on_a_rejection(tmp_path, fresh_database, monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    good = sale("S1", 5)
    over = sale("S2", 6)  # 60,000 on top of 50,000: past the 100,000 limit
    path = ndjson(tmp_path / "in.ndjson", company_bodies() + [good, good, over],
                  extra_lines=["", "{not json"])
    result = runner.invoke(app, ["import", str(path), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    n = len(company_bodies())
    assert report["applied"] == n + 1
    assert report["duplicates"] == 1
    assert report["rejected"] == [
        {"line": n + 3, "command_id": over["command_id"], "rule": "credit_limit",
         "message": report["rejected"][0]["message"]},
        {"line": n + 5, "command_id": None, "rule": "invalid_field",
         "message": report["rejected"][1]["message"]},
    ]
    assert report["rejected"][1]["message"].startswith("line is not JSON")
    assert "exceeds limit 100000 by 10000" in report["rejected"][0]["message"]
    # the same file again: everything is a duplicate or rejected again, nothing new applied
    again = json.loads(runner.invoke(app, ["import", str(path), "--json"]).stdout)
    assert (again["applied"], again["duplicates"]) == (0, n + 3)  # the rejection's too
    assert [r["rule"] for r in again["rejected"]] == ["invalid_field"]


def test_import_of_a_clean_file_exits_0_and_query_answers_json(tmp_path, fresh_database, monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    path = ndjson(tmp_path / "in.ndjson", company_bodies() + [sale("S1", 5)])
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "rejected 0" in result.stdout
    q = runner.invoke(app, ["query", "receivables", "--customer", "C1", "--as-of", "2024-03-31", "--json"])
    assert q.exit_code == 0, q.output
    doc = json.loads(q.stdout)
    assert (doc["open_total"], doc["credit_available"]) == (50_000, 50_000)
    assert [(i["sale_id"], i["class"], i["bucket"]) for i in doc["items"]] == [("S1", "receivable", "not_due")]
    missing = runner.invoke(app, ["query", "receivables", "--customer", "NOPE", "--json"])
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["rule"] == "unknown_reference"


def test_demo_builds_the_company_and_reconciles(tmp_path):
    result = runner.invoke(app, ["demo", "--database", str(tmp_path / "demo.db")])
    assert result.exit_code == 0, result.output
    assert "Reconciliation: OK" in result.stdout
    assert "Receivables aging as of" in result.stdout
    assert "Top commission statements, 2025-12" in result.stdout
    assert "late_activity_filing" in result.stdout and "budget_exceeded" in result.stdout
