"""The service layer (issue 9, point 4): typed answers from ``Ledger.handle``, their
documents from ``Ledger.execute``, which rejections are stored, batches split around log
readers, the import use case outside the CLI, and the unit of work as the one module of
the service that touches the eventsourcing library."""

from __future__ import annotations

import ast
from pathlib import Path

import msgspec
from support import at, cmd, sale, setup_company

from ledger.application import Ledger
from ledger.service.answers import Applied, Duplicate, Refused, Rejected, document, is_stored
from ledger.service.batches import LOG_READERS, segments
from ledger.service.importing import IMPORT_BATCH, import_lines, iter_batches

SRC = Path(__file__).resolve().parents[1] / "src" / "ledger"


def test_handle_answers_typed_values_and_execute_their_documents(ledger: Ledger):
    setup_company(ledger)
    body = sale("S1", 2)
    applied, duplicate, rejected = ledger.handle([body, body, sale("S2", unit_price=0)])
    assert isinstance(applied, Applied)
    assert (applied.command_id, applied.command, applied.events) == (body["command_id"], "RecordSale", 4)
    assert applied.position == ledger.max_position()
    assert isinstance(duplicate, Duplicate)
    assert duplicate.original == applied.stored() == {
        "command_id": body["command_id"], "command": "RecordSale", "status": "applied",
        "result": applied.result}
    assert type(rejected) is Rejected and is_stored(rejected)
    assert rejected.rule == "price_approval"  # below the list price, with no approval
    # the dict edge: the same answers as documents
    again = ledger.execute([body])
    assert again == [document(Duplicate(command_id=body["command_id"], command="RecordSale",
                                        original=applied.stored()))]
    assert msgspec.json.encode(applied) == msgspec.json.encode(document(applied))


def test_a_stored_rejection_answers_its_repeat_a_refused_one_is_judged_again(ledger: Ledger):
    setup_company(ledger)
    body = sale("S1", unit_price=0)
    [first] = ledger.handle([body])
    [repeat] = ledger.handle([body])
    assert isinstance(repeat, Duplicate) and repeat.original == document(first)
    # the same id for another body: refused, never stored, so refused again (not a duplicate)
    other = {**sale("S2"), "command_id": body["command_id"]}
    answers = ledger.handle([other]) + ledger.handle([other])
    assert [type(a) for a in answers] == [Refused, Refused]
    assert not any(is_stored(a) for a in answers)
    assert answers[0].rule == "invalid_field" and answers[0].details == {"field": "command_id"}
    # a body without command_id, and one that is not an object: refused, named as they can be
    nameless, junk = ledger.handle([{"command": "RecordSale"}, 7])
    assert (type(nameless), nameless.command, nameless.command_id) == (Refused, "RecordSale", None)
    assert (type(junk), junk.command, junk.command_id) == (Refused, None, None)


def test_within_a_batch_a_repeat_answers_the_first_even_if_it_is_never_stored(ledger: Ledger):
    setup_company(ledger)
    body = sale("S1")
    other = {**sale("S2"), "command_id": body["command_id"]}
    first, refused, repeat = ledger.handle([body, other, body])
    assert isinstance(first, Applied) and isinstance(refused, Refused)
    assert isinstance(repeat, Duplicate) and repeat.original == first.stored()


def test_batches_end_before_a_log_reader_and_run_it_alone():
    close = {"command": "CloseMonth"}
    bodies = [{"command": "A"}, {"command": "B"}, close, close, {"command": "C"}, 3]
    assert "CloseMonth" in LOG_READERS
    assert list(segments(bodies)) == [[bodies[0], bodies[1]], [close], [close], [bodies[4], 3]]
    assert list(segments([])) == []


def test_import_lines_counts_each_line_from_typed_answers(ledger: Ledger):
    setup_company(ledger)
    bodies = [sale("S1"), sale("S2", unit_price=0)]
    lines = [msgspec.json.encode(b) for b in bodies] + [b"", b"not json",
                                                        msgspec.json.encode(bodies[0])]
    report = import_lines(ledger, lines)
    assert report == {"applied": 1, "duplicates": 1, "rejected": [
        {"line": 2, "command_id": bodies[1]["command_id"], "rule": "price_approval",
         "message": report["rejected"][0]["message"]},
        {"line": 4, "command_id": None, "rule": "invalid_field",
         "message": report["rejected"][1]["message"]}]}
    assert report["rejected"][1]["message"].startswith("line is not JSON: ")
    assert list(iter_batches(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert IMPORT_BATCH == 1000


def test_import_lines_batches_are_judged_in_order_across_batch_ends(ledger: Ledger):
    """A command in the next batch sees the one before it (the batch end is invisible)."""
    setup_company(ledger)
    users = [cmd("RegisterUser", "admin", user_id=f"u{i}", name=f"U{i}", roles=["sales_admin"])
             for i in range(IMPORT_BATCH)]
    follow = cmd("RegisterCustomer", f"u{IMPORT_BATCH - 1}", customer_id="C9", name="Nine",
                 credit_limit=1, payment_terms_days=30, region="east", **at("2024-03-05"))
    report = import_lines(ledger, [msgspec.json.encode(b) for b in [*users, follow]])
    assert report == {"applied": IMPORT_BATCH + 1, "duplicates": 0, "rejected": []}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_only_the_unit_of_work_touches_the_library():
    touching = {p.relative_to(SRC).as_posix()
                for p in [*sorted((SRC / "service").glob("*.py")), SRC / "application.py"]
                if any(m == "eventsourcing" or m.startswith("eventsourcing.") for m in _imports(p))}
    assert touching == {"service/unit_of_work.py"}
    # the edges reach the command path through the service, and the import is not the CLI's
    cli = (SRC / "cli.py").read_text()
    assert "def import_lines" not in cli and "ledger.service.importing" in cli
