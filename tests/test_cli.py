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
    # at 80 columns no figure is cut short
    assert "…" not in result.stdout
    # it ends with the commands that explore the database it built, and they work
    tail = result.stdout.split("Explore the demo's database", 1)[1].splitlines()[1:]
    commands = [line.strip() for line in tail if line.strip().startswith("ledger query")]
    assert len(commands) >= 5
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert all(f"--database {url}" in c for c in commands), commands
    aging = runner.invoke(app, [*commands[0].split()[1:], "--json"])
    assert aging.exit_code == 0, aging.output
    assert json.loads(aging.stdout)["total"] > 0
    # the demo's log is intact and its projections match a rebuild
    for name in ("verify", "replay drift"):
        line = next(x.strip() for x in tail if x.strip().startswith(f"ledger {name} "))
        checked = runner.invoke(app, [*line.split()[1:], "--json"])
        assert checked.exit_code == 0, checked.output
        assert json.loads(checked.stdout)["ok"] is True


# --- failing gracefully (SPEC 5.3, issue 11) ----------------------------------------------------


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_json_errors_for_malformed_dates_and_periods_are_json_and_exit_1(tmp_path, fresh_database,
                                                                         monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    path = ndjson(tmp_path / "in.ndjson", company_bodies())
    assert runner.invoke(app, ["import", str(path)]).exit_code == 0
    cases = [
        (["query", "aging", "--as-of", "2024-02-30"], "as_of"),
        (["query", "aging", "--as-of", "yesterday"], "as_of"),
        (["query", "trial-balance", "--as-of", "0001-01-01"], "as_of"),
        (["query", "receivables", "--customer", "C1", "--as-of", "9999-99-99"], "as_of"),
        (["query", "commission", "--rep", "R2", "--period", "9999-12"], "period"),
        (["query", "commission", "--rep", "R2", "--period", "2024-13"], "period"),
    ]
    for args, field in cases:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 1, (args, result.output)
        doc = json.loads(result.stdout)  # standard output holds only the JSON document
        assert doc["rule"] == "invalid_field" and doc["details"]["field"] == field, (args, doc)
        plain = runner.invoke(app, args)
        assert plain.exit_code == 1 and plain.stdout == "", (args, plain.output)
        assert "invalid_field" in _one_line(plain.stderr)


def test_a_configuration_error_is_one_line_on_stderr_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad_urls = ["mysql://localhost/ledger", "sqlite://relative.db", "postgresql://localhost",
                f"sqlite:///{tmp_path}/no/such/dir/ledger.db"]
    for url in bad_urls:
        monkeypatch.setenv("LEDGER_DATABASE_URL", url)
        for args in (["query", "aging", "--json"], ["query", "reconcile"]):
            result = runner.invoke(app, args)
            assert result.exit_code == 2, (url, args, result.output)
            assert result.stdout == ""
            assert _one_line(result.stderr).startswith("ledger: "), result.stderr
        monkeypatch.delenv("LEDGER_DATABASE_URL")
        result = runner.invoke(app, ["query", "aging", "--database", url])
        assert result.exit_code == 2, (url, result.output)
        _one_line(result.stderr)
    missing = runner.invoke(app, ["import", str(tmp_path / "missing.ndjson"), "--json"])
    assert missing.exit_code == 2
    assert "cannot read" in _one_line(missing.stderr)
    assert not (tmp_path / "ledger.db").exists()


def test_every_command_takes_database(tmp_path, fresh_database, monkeypatch):
    import typer.main

    def leaves(command, path=()):
        subs = getattr(command, "commands", None)
        if not subs:
            yield path, command
            return
        for name, sub in subs.items():
            yield from leaves(sub, (*path, name))

    root = typer.main.get_command(app)
    found = dict(leaves(root))
    assert {("import",), ("query", "aging"), ("query", "commission"), ("demo",), ("serve",)} <= set(found)
    for path, command in found.items():
        assert any(p.name == "database" for p in command.params), path
    # it is the database the command uses: nothing in the working directory, no variable
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    path = ndjson(tmp_path / "in.ndjson", company_bodies() + [sale("S1", 5)])
    imported = runner.invoke(app, ["import", str(path), "--database", fresh_database.url])
    assert imported.exit_code == 0, imported.output
    q = runner.invoke(app, ["query", "receivables", "--customer", "C1", "--json",
                            "--database", fresh_database.url])
    assert q.exit_code == 0, q.output
    doc = json.loads(q.stdout)
    assert (doc["open_total"], doc["currency"]) == (50_000, "CNY")
    # given before the command too
    q2 = runner.invoke(app, ["--database", fresh_database.url, "query", "aging", "--json"])
    assert q2.exit_code == 0 and json.loads(q2.stdout)["total"] == 50_000, q2.output
    assert not (work / "ledger.db").exists()
    # and it lasts only for that command
    later = runner.invoke(app, ["query", "aging", "--json"])
    assert later.exit_code == 0 and json.loads(later.stdout)["total"] == 0


def test_hostile_lines_in_an_import_file_reject_those_lines_only(tmp_path, fresh_database,
                                                                 monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    assert runner.invoke(app, ["import", str(ndjson(tmp_path / "c.ndjson", company_bodies()))]).exit_code == 0
    from ledger.application import Ledger

    with Ledger(fresh_database) as led:
        events = led.max_position()
    overflow = sale("S-OVER", 10**10, 10**10, credit_approved_by="fin")
    nul = cmd("RegisterCustomer", "sa", customer_id="C\u0000", name="x", credit_limit=0, region="e")
    year_one = cmd("FineRep", "fin", fine_id="F1", rep_id="R2", amount=1, reason="r",
                   approved_by="mgr", occurred_at="0001-01-01T00:00:00+14:00")
    good = sale("S-GOOD", 1)
    deep = '{"command": "OpenDispute", "command_id": "deep", "actor": "sa", "event_refs": ' + \
        "[" * 1000 + "]" * 1000 + "}"
    path = ndjson(tmp_path / "hostile.ndjson", [overflow, nul, year_one, good], extra_lines=[deep])
    result = runner.invoke(app, ["import", str(path), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["applied"] == 1
    assert [(r["line"], r["rule"]) for r in report["rejected"]] == [
        (1, "invalid_field"), (2, "invalid_field"), (3, "invalid_field"), (5, "invalid_field")]
    with Ledger(fresh_database) as led:
        assert led.max_position() > events  # the good sale only
    for args in (["query", "aging", "--json"], ["query", "reconcile", "--json"],
                 ["query", "receivables", "--customer", "C1", "--json"]):
        q = runner.invoke(app, args)
        assert q.exit_code == 0, (args, q.output)
    assert json.loads(runner.invoke(app, ["query", "aging", "--json"]).stdout)["total"] == 10_000


def test_errors_name_the_rule_and_the_fix(tmp_path, fresh_database, monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    result = runner.invoke(app, ["query", "commission", "--rep", "NOPE", "--period", "2025-01"])
    assert result.exit_code == 1
    assert "unknown_reference" in result.stderr and "fix: check the id" in result.stderr
    result = runner.invoke(app, ["query", "aging", "--as-of", "31/12/2025"])
    assert result.exit_code == 1
    assert "invalid_field" in result.stderr and "YYYY-MM-DD" in result.stderr
    assert result.stdout == ""
