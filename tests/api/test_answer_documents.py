"""The command answers' JSON documents, key by key and in order (issue 9: answers are typed
inside the service and encoded at the edges; the documents stay byte-identical). Each test
pins the keys in the order the edge writes them, the values the rules give, and the bytes
the HTTP edge sends; written against the dict answers before the service layer was split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
from apiclient import Api
from support import cmd, sale
from typer.testing import CliRunner

APPLIED = ["command_id", "command", "status", "result", "events", "position"]
STORED_APPLIED = ["command_id", "command", "status", "result"]
REJECTED = ["command_id", "command", "status", "rule", "message", "details"]
DUPLICATE = ["command_id", "command", "status", "original"]


def keys(document: Any) -> list[str]:
    return list(document)


def same_bytes(response: Any) -> None:
    """The body is exactly msgspec's encoding of the document it decodes to (no spaces,
    keys in the order decoded): what any edge encoding the same document writes."""
    assert response.content == msgspec.json.encode(json.loads(response.content))


def test_applied_answer_over_http(api: Api):
    body = sale("S1")
    r = api.post(body)
    same_bytes(r)
    answer = r.json()
    assert keys(answer) == APPLIED
    assert (answer["command_id"], answer["command"], answer["status"]) == (
        body["command_id"], "RecordSale", "applied")
    assert answer["events"] == 4  # the sale, the claims of its id and invoice, its command record
    assert answer["position"] == api.ledger.max_position()
    assert r.headers["X-Ledger-Position"] == str(answer["position"])


def test_duplicate_answer_over_http_names_the_log_position(api: Api):
    body = sale("S1")
    first = api.post(body).json()
    api.post(sale("S2"))
    r = api.post(body)
    same_bytes(r)
    answer = r.json()
    assert keys(answer) == [*DUPLICATE, "position"]
    assert answer["status"] == "duplicate"
    assert keys(answer["original"]) == STORED_APPLIED
    assert answer["original"] == {k: first[k] for k in STORED_APPLIED}
    assert answer["position"] == api.ledger.max_position() > first["position"]


def test_rejected_answers_over_http(api: Api):
    r = api.post(sale("S1", unit_price=0))  # a rule's rejection: stored, repeated as such
    same_bytes(r)
    assert r.status_code == 422
    assert keys(r.json()) == REJECTED
    again = api.post([{**sale("S9"), "command_id": r.json()["command_id"], "lines": []}])
    # the same id with another body: never stored, answered invalid_field
    assert keys(again.json()[0]) == REJECTED
    assert again.json()[0]["rule"] == "invalid_field"
    refusal = api.post(sale("S2", actor="fin"), user="sa")  # the API's own refusal
    same_bytes(refusal)
    assert refusal.status_code == 403
    assert keys(refusal.json()) == REJECTED
    assert refusal.json()["details"] == {"actor": "fin", "user": "sa"}
    bad = api.post([{"command": "RecordSale"}, 7])  # no command_id; not an object
    same_bytes(bad)
    assert [keys(a) for a in bad.json()] == [REJECTED, REJECTED]
    assert [a["command_id"] for a in bad.json()] == [None, None]


def test_duplicate_of_a_rejection_over_http(api: Api):
    body = sale("S1", unit_price=0)
    first = api.post(body).json()
    r = api.post([body])
    same_bytes(r)
    [answer] = r.json()
    assert keys(answer) == [*DUPLICATE, "position"]
    assert keys(answer["original"]) == REJECTED
    assert answer["original"] == first
    assert api.post(body).status_code == 422  # a duplicate answers its first status


def test_the_dict_edge_has_the_same_keys(ledger):
    from support import setup_company

    setup_company(ledger)
    body = sale("S1")
    [applied, duplicate, rejected, nameless] = ledger.execute(
        [body, body, sale("S2", unit_price=0), {"command": "RecordSale"}])
    assert [keys(applied), keys(duplicate), keys(rejected), keys(nameless)] == [
        APPLIED, DUPLICATE, REJECTED, REJECTED]
    assert keys(duplicate["original"]) == STORED_APPLIED
    assert ledger.execute_one(body) == {
        "command_id": body["command_id"], "command": "RecordSale", "status": "duplicate",
        "original": {k: applied[k] for k in STORED_APPLIED}}


def test_import_report_document(ledger, fresh_database, tmp_path: Path, monkeypatch):
    from ledger.cli import app

    lines = [cmd("RegisterUser", "admin", user_id="sa", name="SA", roles=["sales_admin"]),
             cmd("RegisterUser", "admin", user_id="x", name="X", roles=["nope"])]
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"\n".join([msgspec.json.encode(b) for b in lines] + [b"{", b""]
                                + [msgspec.json.encode(lines[0])]))
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    result = CliRunner().invoke(app, ["import", str(path), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert keys(report) == ["applied", "duplicates", "rejected"]
    assert (report["applied"], report["duplicates"]) == (1, 1)
    assert [keys(r) for r in report["rejected"]] == [["line", "command_id", "rule", "message"]] * 2
    assert [(r["line"], r["command_id"], r["rule"]) for r in report["rejected"]] == [
        (2, lines[1]["command_id"], "invalid_field"), (3, None, "invalid_field")]
    assert result.stdout.encode() == msgspec.json.encode(report) + b"\n"
