"""Two writers racing on the same budget, customer credit, sale or command id cannot both
pass a check (ARCHITECTURE, Domain; issue 3). Each writer is its own ``Ledger`` (its own
connection pool and aggregate cache, as a separate process would have) on the same real
store; a barrier holds both just before their save so that both judge the same state."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ledger.application import Ledger
from support import applied, at, cmd, sale, setup_company


class RacingLedger(Ledger):
    """Waits at a shared barrier before its first save."""

    def __init__(self, database: Any, barrier: threading.Barrier) -> None:
        super().__init__(database)
        self.barrier = barrier
        self.waited = False

    def _before_save(self) -> None:
        if not self.waited:
            self.waited = True
            try:
                self.barrier.wait(timeout=10)
            except threading.BrokenBarrierError:
                pass


def race(database: Any, bodies: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    barrier = threading.Barrier(len(bodies))
    writers = [RacingLedger(database, barrier) for _ in bodies]
    try:
        with ThreadPoolExecutor(len(bodies)) as pool:
            answers = list(pool.map(lambda wb: wb[0].execute_one(wb[1]), zip(writers, bodies)))
        return answers, sum(w.conflicts for w in writers)
    finally:
        for w in writers:
            w.close()


def statuses(answers: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return sorted((a["status"], a.get("rule")) for a in answers)


def topics_in_log(ledger: Ledger, topic: str) -> int:
    notes = ledger.app.recorder.select_notifications(start=1, limit=1_000_000, topics=[topic])
    return len(notes)


def test_budget_race_one_approval_wins(ledger, fresh_database):
    setup_company(ledger)
    ledger.execute([
        cmd("AllocateBudget", "fin", budget_id="B1", department="mkt", category="advertising",
            period="2024-Q1", amount=100_000, approved_by="dir", **at("2024-01-02")),
        cmd("SubmitExpense", "sa", expense_id="E1", budget_id="B1", amount=60_000,
            description="a", planned_on="2024-02-20", **at("2024-01-03")),
        cmd("SubmitExpense", "sa", expense_id="E2", budget_id="B1", amount=60_000,
            description="b", planned_on="2024-02-20", **at("2024-01-03")),
    ])
    answers, conflicts = race(fresh_database, [
        cmd("ApproveExpense", "mgr", expense_id="E1", **at("2024-01-04")),
        cmd("ApproveExpense", "mgr2", expense_id="E2", **at("2024-01-04")),
    ])
    assert statuses(answers) == [("applied", None), ("rejected", "budget_exceeded")], answers
    assert conflicts >= 1  # the loser met the winner's save and was replayed
    loser = next(a for a in answers if a["status"] == "rejected")
    assert loser["details"]["shortfall"] == 20_000
    assert topics_in_log(ledger, "ledger:Budget.ExpenseApproved") == 1


def test_credit_race_one_sale_wins(ledger, fresh_database):
    setup_company(ledger, credit_limit=100_000)
    answers, conflicts = race(fresh_database, [sale("S1", 6), sale("S2", 6)])
    assert statuses(answers) == [("applied", None), ("rejected", "credit_limit")]
    assert conflicts >= 1
    loser = next(a for a in answers if a["status"] == "rejected")
    assert (loser["details"]["exposure"], loser["details"]["shortfall"]) == (120_000, 20_000)
    assert topics_in_log(ledger, "ledger:Customer.SaleRecorded") == 1


def test_sale_open_amount_race_one_write_off_wins(ledger, fresh_database):
    setup_company(ledger)
    applied(ledger, sale("S1", 5))
    answers, conflicts = race(fresh_database, [
        cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1", amount=50_000,
            approved_by="dir", reason="insolvent", **at("2024-09-01")),
        cmd("WriteOffReceivable", "fin2", writeoff_id="W2", sale_id="S1", amount=50_000,
            approved_by="dir2", reason="insolvent", **at("2024-09-01")),
    ])
    assert statuses(answers) == [("applied", None), ("rejected", "exceeds_open_amount")]
    assert conflicts >= 1
    assert topics_in_log(ledger, "ledger:Customer.ReceivableWrittenOff") == 1


@pytest.mark.parametrize("writers", [4])
def test_concurrent_repeats_of_one_command_apply_once(ledger, fresh_database, writers):
    setup_company(ledger)
    records_before = topics_in_log(ledger, "ledger:CommandRecord.Recorded")
    body = sale("S1", 3)
    answers, _ = race(fresh_database, [dict(body) for _ in range(writers)])
    assert [a["status"] for a in answers].count("applied") == 1
    assert [a["status"] for a in answers].count("duplicate") == writers - 1
    first = next(a for a in answers if a["status"] == "applied")
    for a in answers:
        if a["status"] == "duplicate":
            assert a["original"]["result"] == first["result"]
    assert topics_in_log(ledger, "ledger:Customer.SaleRecorded") == 1
    assert topics_in_log(ledger, "ledger:CommandRecord.Recorded") == records_before + 1
