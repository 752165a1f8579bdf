"""The replay CLI (SPEC 5.3): every ``ledger query`` at ``--at-position`` / ``--at-time``,
``ledger replay what-if`` and ``ledger replay drift``, each with ``--json``."""

from __future__ import annotations

import json

from support import cmd, sale, setup_company
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.cli import app

runner = CliRunner()


def _json(args: list[str]) -> tuple[int, dict]:
    result = runner.invoke(app, args)
    return result.exit_code, json.loads(result.stdout)


def test_every_query_takes_at_position(fresh_database, monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    with Ledger(fresh_database) as ledger:
        setup_company(ledger)
        ledger.execute_one(sale("S1", 3))
        position = ledger.max_position()
    code, then = _json(["query", "receivables", "--customer", "C1", "--json"])
    assert code == 0 and then["open_total"] == 30_000
    with Ledger(fresh_database) as ledger:
        ledger.execute_one(sale("S2", 2))
    code, now = _json(["query", "receivables", "--customer", "C1", "--json"])
    assert now["open_total"] == 50_000
    result = runner.invoke(app, ["query", "receivables", "--customer", "C1", "--json",
                                 "--at-position", str(position)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == then
    for args in (["aging"], ["trial-balance"], ["reconcile"], ["ranks", "--rep", "R2"],
                 ["commission", "--rep", "R2", "--period", "2024-03"], ["audit", "--entity", "C1"]):
        code, doc = _json(["query", *args, "--json", "--at-position", str(position)])
        assert code == 0, (args, doc)
    code, doc = _json(["query", "aging", "--json", "--at-position", "99999"])
    assert code == 1 and doc["rule"] == "invalid_field"
    code, doc = _json(["query", "aging", "--json", "--at-time", "not a time"])
    assert code == 1 and doc["details"]["field"] == "at_time"


def test_replay_what_if_and_drift(fresh_database, monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    with Ledger(fresh_database) as ledger:
        setup_company(ledger)
        ledger.execute_one(sale("S1", 3))
        payment = cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1",
                      amount=10_000, received_on="2024-03-06")
        ledger.execute_one(payment)
        notes = ledger.app.recorder.select_notifications(start=1, limit=10_000)
        p1 = next(n.id for n in notes if n.topic == "ledger:Customer.PaymentRecorded")
        end = ledger.max_position()
    code, doc = _json(["replay", "drift", "--json"])
    assert code == 0 and doc == {"ok": True, "position": end, "differences": []}
    code, doc = _json(["replay", "what-if", "--exclude", str(p1), "--json"])
    assert code == 0, doc
    assert {"projection": "receivables", "key": "C1", "field": "open_total", "live": 20_000,
            "what_if": 30_000, "difference": 10_000} in doc["changes"]
    code, doc = _json(["replay", "what-if", "--amend", f'{p1}={{"nope": 1}}', "--json"])
    assert code == 1 and doc["rule"] == "invalid_field"
    with Ledger(fresh_database) as ledger:
        assert ledger.max_position() == end


def test_replay_rebuild(fresh_database, monkeypatch):
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    with Ledger(fresh_database) as ledger:
        setup_company(ledger)
        ledger.execute_one(sale("S1", 3))
    code, before = _json(["query", "receivables", "--customer", "C1", "--json"])
    code, doc = _json(["replay", "rebuild", "--projection", "receivables", "--json"])
    assert code == 0, doc
    assert doc["projections"] == [{"name": "receivables", "from_generation": 1,
                                   "to_generation": 2}]
    code, after = _json(["query", "receivables", "--customer", "C1", "--json"])
    assert after == before
    code, doc = _json(["replay", "rebuild", "--projection", "nope", "--json"])
    assert code == 1 and doc["rule"] == "invalid_field"


def test_replay_as_of_answers_a_query_then_or_says_where_the_log_ended(fresh_database,
                                                                       monkeypatch):
    from datetime import datetime, timezone

    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    with Ledger(fresh_database) as ledger:
        setup_company(ledger)
        ledger.execute_one(sale("S1", 3))
        position = ledger.max_position()
    moment = datetime.now(timezone.utc).isoformat()
    with Ledger(fresh_database) as ledger:
        ledger.execute_one(sale("S2", 2))
        end = ledger.max_position()
    code, doc = _json(["replay", "as-of", "--at-time", moment, "--json"])
    assert code == 0 and doc["position"] == position and doc["log_position"] == end
    code, doc = _json(["replay", "as-of", "--at-position", str(position), "--json",
                       "receivables", "--customer", "C1"])
    assert code == 0, doc
    assert doc["open_total"] == 30_000
    code, doc = _json(["replay", "as-of", "--at-time", moment, "--json",
                       "receivables", "--customer", "C1"])
    assert doc["open_total"] == 30_000
    code, doc = _json(["replay", "as-of", "--json"])
    assert code == 1 and doc["rule"] == "invalid_field"
