"""``ledger verify`` and ``ledger keygen`` (SPEC 5.3): the JSON document, exit statuses,
signed checkpoints written and checked, configuration errors."""

from __future__ import annotations

import json

import rawsql
from support import applied, sale, setup_company
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.cli import app
from ledger.config import parse_database_url

runner = CliRunner()


def build(db, sales=3):
    with Ledger(db) as led:
        setup_company(led)
        for i in range(sales):
            applied(led, sale(f"S{i}"))
        return led.max_position()


def test_verify_json_answers_the_contract_and_exits_1_on_a_break(fresh_database, monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    end = build(fresh_database)
    result = runner.invoke(app, ["verify", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"ok", "events", "position", "head", "first_break"} <= doc.keys()
    assert (doc["ok"], doc["events"], doc["position"], doc["first_break"]) == (True, end, end, None)
    assert len(doc["head"]) == 64 and doc["tree_size"] == end
    assert doc["rate"]["events_per_second"] > 0 and doc["rate"]["sha256_per_second"] > 0
    *_, state = rawsql.event(fresh_database, 5)
    rawsql.run(fresh_database, "UPDATE {events} SET state = ? WHERE {pos} = ?", (state[:-1] + b" ", 5))
    result = runner.invoke(app, ["verify", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert (doc["first_break"]["position"], doc["first_break"]["kind"]) == (5, "altered")
    human = runner.invoke(app, ["verify"])
    assert human.exit_code == 1 and "BREAK at position 5: altered" in human.stdout


def test_keygen_checkpoint_and_against_through_the_cli(fresh_database, monkeypatch, tmp_path):
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    build(fresh_database, sales=1)
    key = tmp_path / "company.pem"
    made = runner.invoke(app, ["keygen", str(key)])
    assert made.exit_code == 0 and "fingerprint" in made.stdout
    assert runner.invoke(app, ["keygen", str(key)]).exit_code == 2  # never overwrites
    cp_file = tmp_path / "cp.json"
    no_key = runner.invoke(app, ["verify", "--checkpoint", str(cp_file)])
    assert no_key.exit_code == 2 and "LEDGER_SIGNING_KEY_FILE" in no_key.stderr
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(key))
    written = runner.invoke(app, ["verify", "--json", "--checkpoint", str(cp_file)])
    assert written.exit_code == 0, written.output
    cp = json.loads(cp_file.read_text())
    assert {"position", "head", "tree_size", "root", "signed_at", "public_key", "signature"} <= cp.keys()
    with Ledger(fresh_database) as led:
        applied(led, sale("S-later"))
    against = runner.invoke(app, ["verify", "--json", "--against", str(cp_file)])
    assert against.exit_code == 0, against.output
    doc = json.loads(against.stdout)
    assert doc["ok"] and doc["against"]["consistency"] and doc["against"]["key_trusted"]
    assert doc["events"] > cp["tree_size"]
    # a rewritten early event: the chain breaks, and the log no longer extends the checkpoint
    *_, state = rawsql.event(fresh_database, 2)
    rawsql.run(fresh_database, "UPDATE {events} SET state = ? WHERE {pos} = ?", (state + b" ", 2))
    failed = runner.invoke(app, ["verify", "--against", str(cp_file)])
    assert failed.exit_code == 1
    assert "checkpoint head: FAILED" in failed.stdout and "the log does NOT extend it" in failed.stdout


def test_verify_seal_chains_an_unchained_log(fresh_database, monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    end = build(fresh_database, sales=1)
    rawsql.run(fresh_database, "DELETE FROM {chain}")
    before = json.loads(runner.invoke(app, ["verify", "--json"]).stdout)
    assert before["first_break"]["kind"] == "missing" and before["first_break"]["position"] == 1
    sealed = runner.invoke(app, ["verify", "--json", "--seal"])
    assert sealed.exit_code == 0 and json.loads(sealed.stdout)["events"] == end
    assert f"sealed: {end} events chained" in sealed.stderr


def test_a_bad_database_url_or_checkpoint_file_is_a_configuration_error(tmp_path):
    bad = runner.invoke(app, ["verify", "--database", "mysql://x/y"])
    assert bad.exit_code == 2 and "sqlite:///" in bad.stderr
    missing = runner.invoke(app, ["verify", "--database", f"sqlite:///{tmp_path}/typo.db"])
    assert missing.exit_code == 2 and "nothing to verify" in missing.stderr
    assert not (tmp_path / "typo.db").exists()
    (tmp_path / "cp.json").write_text("{}")
    url = f"sqlite:///{tmp_path}/l.db"
    Ledger(parse_database_url(url)).close()
    wrong = runner.invoke(app, ["verify", "--database", url, "--against", str(tmp_path / "cp.json")])
    assert wrong.exit_code == 2 and "is not a ledger checkpoint" in wrong.stderr
    short = runner.invoke(app, ["verify", "--database", url, "--public-key", "abcd"])
    assert short.exit_code == 2 and "expected 64 hex digits" in short.stderr
