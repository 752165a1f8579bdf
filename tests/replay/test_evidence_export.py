"""Evidence export (SPEC 4, 5.3 ``ledger export``) and ``ledger verify --bundle``: the file
holds the events behind a figure with their hashes and inclusion proofs, the checkpoint,
the explanation and the figures; it is checked in a process with no database configured,
and each kind of tampering fails with its named problem and exit 1. Both stores."""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest
from support import all_applied, at, cmd, sale, setup_company
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.cli import app
from ledger.domain.model import Customer, Rep
from ledger.projections.budgets import query_budget
from ledger.projections.commissions import query_commission
from ledger.bootstrap import projector_for
from ledger.projections.receivables import query_receivables
from ledger.replay import checkpoint as cps
from ledger.replay.bundle import verify_bundle
from ledger.replay.chain import verify
from ledger.replay.export import ExportError, export, write
from eventsourcing.utils import get_topic

NOW = datetime(2024, 5, 2, 2, 0, tzinfo=timezone.utc)
LEDGER = Path(sys.executable).parent / "ledger"
runner = CliRunner()


def build(ledger: Ledger) -> None:
    """R2 (trained by R1) sells in March to C1 and C2, R1 sells too, R2 is fined; March is
    closed; a budget with a spent expense; a sale of April after the close."""
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 100, day="2024-03-05"),
        sale("S2", 50, customer="C2", day="2024-03-20"),
        sale("S3", 20, rep="R1", day="2024-03-07"),
        cmd("FineRep", "fin", fine_id="F1", rep_id="R2", amount=5_000, reason="late report",
            approved_by="mgr", **at("2024-03-25")),
        cmd("AllocateBudget", "fin", budget_id="B1", department="east", category="advertising",
            period="2024-Q2", amount=100_000, approved_by="dir", **at("2024-03-26")),
        cmd("SubmitExpense", "mgr", expense_id="E1", budget_id="B1", amount=30_000,
            description="posters", planned_on="2024-04-10", **at("2024-03-27")),
        cmd("ApproveExpense", "dir", expense_id="E1", **at("2024-03-28")),
        cmd("RecordExpenseSpend", "fin", expense_id="E1", amount=28_000, invoice_no="INV-E1",
            paid_on="2024-04-12", **at("2024-04-12")),
    ])
    all_applied(ledger, [cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01"))])
    all_applied(ledger, [sale("S4", 3, day="2024-04-15")])


def _run(args: list[str], cwd: Path, database_url: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DATABASE_URL"}
    if database_url is not None:
        env["LEDGER_DATABASE_URL"] = database_url
    return subprocess.run([str(LEDGER), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _position(ledger: Ledger, cls: type, **fields) -> int:
    topic = get_topic(cls)
    for n in ledger.app.recorder.select_notifications(start=1, limit=100_000, topics=[topic]):
        e = ledger.app.mapper.to_domain_event(n)
        if all(getattr(e, k) == v for k, v in fields.items()):
            return n.id
    raise AssertionError(f"no {topic} {fields}")


@pytest.fixture
def company(fresh_database):
    with Ledger(fresh_database, clock=lambda: NOW) as led:
        build(led)
        yield led


def test_a_bundle_verifies_in_a_process_with_no_database(company, tmp_path):
    ledger = company
    live = projector_for(ledger)
    document = export(ledger.app.recorder, live, "R2", "2024-03")
    statement = query_commission(live, "R2", "2024-03")
    # the figures and the explanation are the live ones, to the fen
    assert document["figures"]["total"] == statement["total"] == document["explanation"]["value"]
    assert document["explanation"]["steps"][-1]["running_total"] == statement["total"]
    assert document["subject"]["kind"] == "commission" and document["selection"] == "aggregates"
    # a subset of the log, with every step's event, each proven in the tree of the whole log
    positions = [e["position"] for e in document["events"]]
    assert positions == sorted(positions) and len(positions) < ledger.max_position()
    s1 = _position(ledger, Customer.SaleRecorded, sale_id="S1")
    s2 = _position(ledger, Customer.SaleRecorded, sale_id="S2")
    fine = _position(ledger, Rep.Fined, fine_id="F1")
    assert {s1, s2, fine} <= set(positions)
    assert document["log"]["tree_size"] == ledger.max_position() == verify(ledger.app.recorder).events
    file = tmp_path / "evidence.json"
    write(document, file)

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    for url in (None, "postgresql://nobody@127.0.0.1:1/nowhere"):
        result = _run(["verify", "--bundle", str(file), "--json"], empty, url)
        assert result.returncode == 0, result.stdout + result.stderr
        answer = json.loads(result.stdout)
        assert answer["ok"] is True and answer["problems"] == []
        assert answer["replayed"] == {"figure": "total", "value": statement["total"]}
        assert answer["bundle"]["events"] == len(positions)
        assert list(empty.iterdir()) == []  # no ./ledger.db made
    human = _run(["verify", "--bundle", str(file)], empty, None)
    assert human.returncode == 0 and "ok" in human.stdout


def _tampered(document: dict, position: int, **fields) -> dict:
    """The document with the stored payload of the event at ``position`` edited."""
    bad = copy.deepcopy(document)
    entry = next(e for e in bad["events"] if e["position"] == position)
    state = msgspec.json.decode(base64.b64decode(entry["state"]))
    state.update(fields)
    entry["state"] = base64.b64encode(msgspec.json.encode(state)).decode()
    return bad


def _problems(document: dict) -> set[tuple[str, int | None]]:
    return {(p["problem"], p["position"]) for p in verify_bundle(document)["problems"]}


def test_each_tampering_fails_with_its_named_problem(company, tmp_path):
    ledger = company
    live = projector_for(ledger)
    key = tmp_path / "company.pem"
    cps.keygen(key)
    checkpoint = tmp_path / "cp.json"
    cps.write(cps.sign(verify(ledger.app.recorder), cps.load_private_key(key)), checkpoint)
    all_applied(ledger, [sale("S5", 2, day="2024-04-20")])  # the log grows after the checkpoint
    document = msgspec.json.decode(msgspec.json.encode(
        export(ledger.app.recorder, live, "R2", "2024-03", checkpoint=checkpoint)))
    assert document["checkpoint"]["tree_size"] < document["log"]["tree_size"]
    assert document["consistency_proof"]
    assert verify_bundle(document)["ok"] is True
    s1 = _position(ledger, Customer.SaleRecorded, sale_id="S1")
    total = document["figures"]["total"]

    # 1. an amount changed in a stored payload: the chain hash no longer matches
    gross = json.loads(base64.b64decode(
        next(e for e in document["events"] if e["position"] == s1)["state"]))["gross"]
    altered = _tampered(document, s1, gross=gross - 100_000)
    assert ("altered", s1) in _problems(altered)
    # ... and with the hash recomputed to fit, the inclusion proof fails instead
    from ledger.replay.chain import event_hash

    entry = next(e for e in altered["events"] if e["position"] == s1)
    entry["hash"] = event_hash(bytes.fromhex(entry["prev_hash"]), s1, entry["originator_id"],
                               entry["originator_version"], entry["topic"],
                               base64.b64decode(entry["state"])).hex()
    found = _problems(altered)
    assert ("not_included", s1) in found and ("altered", s1) not in found
    # 2. an event removed: a step names it, and the replay no longer reaches the figure
    removed = copy.deepcopy(document)
    removed["events"] = [e for e in removed["events"] if e["position"] != s1]
    found = _problems(removed)
    assert ("missing_event", s1) in found and ("explanation_differs", None) in found
    # 3. a figure changed
    figure = copy.deepcopy(document)
    figure["figures"]["total"] = total + 1
    assert _problems(figure) == {("figure_differs", None)}
    # 4. the signature changed
    signed = copy.deepcopy(document)
    sig = bytearray(bytes.fromhex(signed["checkpoint"]["signature"]))
    sig[0] ^= 1
    signed["checkpoint"]["signature"] = sig.hex()
    assert _problems(signed) == {("signature", document["checkpoint"]["position"])}
    # 5. the checkpoint's root swapped for the log's (a checkpoint that never signed it)
    swapped = copy.deepcopy(document)
    swapped["checkpoint"]["root"] = swapped["log"]["root"]
    assert ("consistency", document["checkpoint"]["position"]) in _problems(swapped)
    # a pinned key other than the signer's
    other = tmp_path / "other.pem"
    stranger = cps.raw_public(cps.keygen(other))
    assert ("key_untrusted", document["checkpoint"]["position"]) in {
        (p["problem"], p["position"]) for p in verify_bundle(document, stranger)["problems"]}

    # through the CLI, with no database: a non-zero exit naming the problem
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    for name, bad, problem in (("altered", _tampered(document, s1, gross=gross - 100_000), "altered"),
                               ("removed", removed, "missing_event"),
                               ("figure", figure, "figure_differs"),
                               ("signature", signed, "signature")):
        path = tmp_path / f"{name}.json"
        path.write_bytes(msgspec.json.encode(bad))
        result = _run(["verify", "--bundle", str(path), "--json"], empty, None)
        assert result.returncode == 1, result.stdout + result.stderr
        assert problem in {p["problem"] for p in json.loads(result.stdout)["problems"]}
        human = _run(["verify", "--bundle", str(path)], empty, None)
        assert human.returncode == 1 and "FAILED" in human.stdout and problem in human.stdout
    assert list(empty.iterdir()) == []
    not_json = tmp_path / "not.json"
    not_json.write_text("{")
    result = _run(["verify", "--bundle", str(not_json)], empty, None)
    assert result.returncode == 2 and "not JSON" in result.stderr


def test_customer_sale_and_budget_bundles(company):
    ledger = company
    live = projector_for(ledger)
    customer = export(ledger.app.recorder, live, "C1")
    assert customer["subject"]["kind"] == "receivable" and customer["subject"]["sale_id"] is None
    assert customer["explanation"]["value"] == query_receivables(live, "C1")["open_total"]
    assert customer["figures"] == msgspec.json.decode(msgspec.json.encode(query_receivables(live, "C1")))
    one_sale = export(ledger.app.recorder, live, "S2")
    assert (one_sale["subject"]["customer_id"], one_sale["subject"]["sale_id"]) == ("C2", "S2")
    s2 = next(i for i in query_receivables(live, "C2")["items"] if i["sale_id"] == "S2")
    assert one_sale["explanation"]["value"] == s2["open"] == 50 * 10_000
    budget = export(ledger.app.recorder, live, "B1")
    # allocated 100,000; spent 28,000 (the 30,000 commitment released): 72,000 remain
    assert budget["explanation"]["value"] == query_budget(live, "B1")["remaining"] == 72_000
    as_of = export(ledger.app.recorder, live, "C1", as_of="2024-03-31")
    assert as_of["figures"]["as_of"] == "2024-03-31"
    assert as_of["explanation"]["value"] == query_receivables(live, "C1", "2024-03-31")["open_total"]
    for document in (customer, one_sale, budget, as_of):
        answer = verify_bundle(msgspec.json.decode(msgspec.json.encode(document)))
        assert answer["ok"] is True, answer["problems"]


def test_export_refuses_what_it_cannot_export(company, tmp_path, monkeypatch):
    ledger = company
    live = projector_for(ledger)
    with pytest.raises(ExportError) as e:
        export(ledger.app.recorder, live, "R2")
    assert (e.value.rule, e.value.details["field"]) == ("invalid_field", "period")
    with pytest.raises(ExportError) as e:
        export(ledger.app.recorder, live, "NOBODY")
    assert e.value.rule == "unknown_reference"
    # through the CLI: the JSON problem, exit 1; a written file and its summary
    monkeypatch.setenv("LEDGER_DATABASE_URL", ledger.database.url)
    result = runner.invoke(app, ["export", "--entity", "NOBODY", "-o", str(tmp_path / "x.json"),
                                 "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["rule"] == "unknown_reference"
    out = tmp_path / "r2.json"
    result = runner.invoke(app, ["export", "--entity", "R2", "--period", "2024-03", "-o", str(out),
                                 "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    document = json.loads(out.read_text())
    assert summary["value"] == document["figures"]["total"] == document["explanation"]["value"]
    assert summary["events"] == len(document["events"])


def test_a_payload_that_no_longer_decodes_is_named_not_a_traceback(company):
    ledger = company
    document = msgspec.json.decode(msgspec.json.encode(
        export(ledger.app.recorder, projector_for(ledger), "R2", "2024-03")))
    s1 = _position(ledger, Customer.SaleRecorded, sale_id="S1")
    entry = next(e for e in document["events"] if e["position"] == s1)
    entry["state"] = base64.b64encode(b'{"gross": "a lot"').decode()
    found = _problems(document)
    assert ("altered", s1) in found and ("malformed", None) in found
