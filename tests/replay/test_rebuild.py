"""Rebuild (SPEC 4): a new generation filled from position 0 while queries answer from the
current one; then an atomic switch and the old generation dropped. Both stores."""

from __future__ import annotations

import threading

import pytest
from projections.scenarios import NOW, build_receivables, clocked, dump  # noqa: F401
from support import sale

from ledger.bootstrap import projector_for
from ledger.projections.receivables import query_receivables
from ledger.replay.rebuild import RebuildError, rebuild


def _tables(projector) -> set[str]:
    with projector.transaction(commit=False) as sql:
        if projector.is_postgres:
            rows = sql.all("SELECT tablename AS name FROM pg_tables WHERE schemaname = "
                           "current_schema()")
        else:
            rows = sql.all("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r["name"] for r in rows}


def test_rebuild_switches_generation_with_identical_tables(clocked):
    ledger = clocked
    build_receivables(ledger)
    live = projector_for(ledger)
    live.catch_up()
    before = dump(live)
    answer = query_receivables(live, "C1")
    document = rebuild(projector_for(ledger), grace=0)
    assert {p["name"]: (p["from_generation"], p["to_generation"])
            for p in document["projections"]}["receivables"] == (1, 2)
    assert document["events"] == ledger.max_position()
    after = projector_for(ledger)
    assert {p.name: p.generation for p in after.projections}["receivables"] == 2
    assert dump(after) == before
    assert query_receivables(after, "C1") == answer
    tables = _tables(after)
    assert "receivables_customers_g2" in tables and "receivables_customers_g1" not in tables
    # a long-lived projector (a server's) follows the switch
    assert live.follow_generations() is True
    assert query_receivables(live, "C1") == answer


def test_rebuild_of_one_projection_and_unknown_names(clocked):
    ledger = clocked
    build_receivables(ledger)
    projector_for(ledger).catch_up()
    document = rebuild(projector_for(ledger), ["budgets"], grace=0)
    assert [p["name"] for p in document["projections"]] == ["budgets"]
    gens = {p.name: p.generation for p in projector_for(ledger).projections}
    assert gens["budgets"] == 2 and gens["receivables"] == 1
    with pytest.raises(RebuildError, match="unknown projection"):
        rebuild(projector_for(ledger), ["nope"], grace=0)


def test_queries_answer_consistently_during_a_rebuild(clocked):
    """Readers on the live projector during a rebuild always see the whole answer."""
    ledger = clocked
    build_receivables(ledger)
    live = projector_for(ledger)
    live.catch_up()
    expected = query_receivables(live, "C1")
    errors: list[BaseException] = []
    answers: list[dict] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                live.follow_generations()
                answers.append(query_receivables(live, "C1"))
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        rebuild(projector_for(ledger), grace=0.5)
        ledger.execute_one(sale("S9", 1, day="2024-06-30"))
    finally:
        stop.set()
        reader.join()
    assert not errors, errors
    assert answers and all(a == expected for a in answers)
