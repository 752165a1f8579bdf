"""Small companies with every figure worked by hand, for the receivables, aging, KPI,
budget and audit projection tests; and helpers to build projectors and compare tables.

Receivables scenario (``build_receivables``). List price of X: 100.00 (10,000 fen).
Terms 30 days. R1 (east, trainer) and R2 (east, user ``rep_user``) from ``setup_company``;
R3 is registered here in region west.

| business date | fact                                                         | effect (fen)                  |
|---------------|--------------------------------------------------------------|-------------------------------|
| 2024-01-10    | S1 to C1 by R2: 10 x X = 100,000, due 2024-02-09              | S1 open 100,000               |
| 2024-02-01    | S2 to C1 by R2: 5 x X = 50,000, due 2024-03-02                | S2 open 50,000                |
| 2024-02-15    | S3 to C2 by R1: 20 x X = 200,000, due 2024-03-16              | S3 open 200,000               |
| 2024-02-20    | P1 from C1, 30,000, no allocation: FIFO to S1 (oldest due)    | S1 open 70,000                |
| 2024-03-01    | RT1: return of 10,000 on S2 (all of it reduces S2's open)     | S2 open 40,000                |
| 2024-04-01    | C1's credit limit set to 50,000 (terms 30)                    |                               |
| 2024-04-15    | W1: write-off of 20,000 on S1                                 | S1 open 50,000, w/o 20,000    |
| 2024-05-10    | P2 from C1, 65,000, 60,000 allocated to S1: 50,000 settles    | S1 open 0, unrecovered 10,000,|
|               | its open amount, 10,000 recovers the write-off; the 5,000    | S2 open 35,000                |
|               | left settles S2 FIFO                                          |                               |
| 2024-05-20    | C2 flagged at risk                                            | C2's open amounts: doubtful   |
| 2024-06-01    | P3 from C2, 250,000, FIFO: 200,000 settles S3, 50,000 credit  | S3 open 0, C2 credit 50,000   |
| 2024-06-10    | S4 to C2 by R3: 3 x X = 30,000 (credit override: at risk);    | S4 open 0, C2 credit 20,000   |
|               | C2's credit settles all of it                                 |                               |
| 2024-06-20    | S5 to C1 by R2: 2 x 9,500 = 19,000 (5% below list: manager   | S5 open 19,000, due 07-20     |
|               | mgr approves; credit override by dir: S2 is doubtful)         |                               |

The ledger's clock stands at 2024-07-01 10:00 in Shanghai (``NOW``): "today".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.config import Database
from ledger.projections.audit import AuditProjection
from ledger.projections.budgets import BudgetsProjection
from ledger.bootstrap import projector_over
from ledger.projections.engine import Projection, Projector
from ledger.projections.kpis import KpisProjection
from ledger.projections.receivables import ReceivablesProjection
from support import all_applied, at, cmd, sale, setup_company

NOW = datetime(2024, 7, 1, 2, 0, tzinfo=timezone.utc)  # 2024-07-01 10:00 in Asia/Shanghai

MINE: tuple[type[Projection], ...] = (
    ReceivablesProjection, BudgetsProjection, AuditProjection, KpisProjection,
)


def projector(ledger: Ledger, *classes: type[Projection], generation: int = 1,
              batch_size: int = 1000) -> Projector:
    """A projector of ``classes`` (default: this suite's four), caught up."""
    p = projector_over(ledger, [cls(generation) for cls in (classes or MINE)])
    p.catch_up(batch_size=batch_size)
    return p


def build_receivables(ledger: Ledger) -> None:
    setup_company(ledger)
    all_applied(ledger, [
        cmd("RegisterRep", "sa", rep_id="R3", name="West", region="west"),
        sale("S1", 10, day="2024-01-10"),
        sale("S2", 5, day="2024-02-01"),
        sale("S3", 20, customer="C2", rep="R1", day="2024-02-15"),
        cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=30_000,
            received_on="2024-02-20", **at("2024-02-20")),
        cmd("RecordReturn", "sa", return_id="RT1", sale_id="S2", amount=10_000, approved_by="mgr",
            reason="damaged", **at("2024-03-01")),
        cmd("SetCreditTerms", "fin", customer_id="C1", credit_limit=50_000, payment_terms_days=30,
            approved_by="dir", **at("2024-04-01")),
        cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1", amount=20_000,
            approved_by="dir", reason="dispute settled", **at("2024-04-15")),
        cmd("RecordPayment", "fin", payment_id="P2", customer_id="C1", amount=65_000,
            received_on="2024-05-10", allocations=[{"sale_id": "S1", "amount": 60_000}],
            **at("2024-05-10")),
        cmd("FlagCustomerAtRisk", "mgr", customer_id="C2", at_risk=True, reason="late payer",
            **at("2024-05-20")),
        cmd("RecordPayment", "fin", payment_id="P3", customer_id="C2", amount=250_000,
            received_on="2024-06-01", **at("2024-06-01")),
        sale("S4", 3, customer="C2", rep="R3", day="2024-06-10", credit_approved_by="dir"),
        sale("S5", 2, 9_500, day="2024-06-20", price_approved_by="mgr", credit_approved_by="dir"),
    ])


def build_budget(ledger: Ledger) -> None:
    """Budget B1 (marketing / advertising / 2024-Q2), every figure by hand:

    | date       | fact                                                   | allocated | committed | spent   |
    |------------|--------------------------------------------------------|-----------|-----------|---------|
    | 2024-04-01 | allocated 1,000,000 (dir)                              | 1,000,000 | 0         | 0       |
    | 2024-04-05 | adjusted +200,000 (dir, "trade fair")                  | 1,200,000 |           |         |
    | 2024-04-10 | E1 300,000 filed by sa, approved by mgr (04-11)        |           | 300,000   |         |
    | 2024-04-12 | E2 500,000 filed, approved (04-13)                     |           | 800,000   |         |
    | 2024-04-14 | E3 200,000 filed, approved by mgr2 (04-15)             |           | 1,000,000 |         |
    | 2024-04-20 | E3 withdrawn by fin ("cancelled"): releases 200,000     |           | 800,000   |         |
    | 2024-04-21 | E4 100,000 filed, never decided                        |           |           |         |
    | 2024-04-22 | E5 activity 50,000 for 04-30 (late filing), by dir     |           | 850,000   |         |
    | 2024-04-25 | adjusted -50,000 (dir, "cut")                          | 1,150,000 |           |         |
    | 2024-05-20 | E1 spent 320,000 (within 10% of 300,000), FP-1         |           | 550,000   | 320,000 |

    remaining = 1,150,000 - 550,000 - 320,000 = 280,000;
    utilisation = 870,000 / 1,150,000 = 0.756521... -> "0.7565".
    """
    setup_company(ledger)
    all_applied(ledger, [
        cmd("AllocateBudget", "fin", budget_id="B1", department="marketing", category="advertising",
            period="2024-Q2", amount=1_000_000, approved_by="dir", **at("2024-04-01")),
        cmd("AdjustBudget", "fin", budget_id="B1", delta=200_000, approved_by="dir",
            reason="trade fair", **at("2024-04-05")),
        cmd("SubmitExpense", "sa", expense_id="E1", budget_id="B1", amount=300_000,
            description="print ads", planned_on="2024-05-20", **at("2024-04-10")),
        cmd("ApproveExpense", "mgr", expense_id="E1", **at("2024-04-11")),
        cmd("SubmitExpense", "sa", expense_id="E2", budget_id="B1", amount=500_000,
            description="tv spot", planned_on="2024-06-01", **at("2024-04-12")),
        cmd("ApproveExpense", "mgr", expense_id="E2", **at("2024-04-13")),
        cmd("SubmitExpense", "sa", expense_id="E3", budget_id="B1", amount=200_000,
            description="radio", planned_on="2024-06-01", **at("2024-04-14")),
        cmd("ApproveExpense", "mgr2", expense_id="E3", **at("2024-04-15")),
        cmd("RejectExpense", "fin", expense_id="E3", reason="cancelled", **at("2024-04-20")),
        cmd("SubmitExpense", "sa", expense_id="E4", budget_id="B1", amount=100_000,
            description="flyers", planned_on="2024-06-15", **at("2024-04-21")),
        cmd("SubmitExpense", "sa", expense_id="E5", budget_id="B1", amount=50_000,
            description="road show", planned_on="2024-04-30", activity=True, **at("2024-04-22")),
        cmd("ApproveExpense", "dir", expense_id="E5", **at("2024-04-23")),
        cmd("AdjustBudget", "fin", budget_id="B1", delta=-50_000, approved_by="dir", reason="cut",
            **at("2024-04-25")),
        cmd("RecordExpenseSpend", "fin", expense_id="E1", amount=320_000, invoice_no="FP-1",
            paid_on="2024-05-20", **at("2024-05-20")),
    ])


# --- comparing projections ----------------------------------------------------------------------


def dump(p: Projector) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the projector's projections, keyed by logical table
    name, sorted, with integers normalised (so two generations compare equal)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with p.transaction(commit=False) as sql:
        for proj in p.projections:
            for table in proj.tables:
                rows = sql.all(f"SELECT * FROM {proj.t(table)}")
                out[f"{proj.name}.{table}"] = sorted(
                    (tuple(_norm(v) for v in r.values()) for r in rows), key=repr,
                )
    return out


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "as_integer_ratio") and not isinstance(value, float):
        return int(value)
    return value


@pytest.fixture
def clocked(fresh_database: Database) -> Iterator[Ledger]:
    """A ledger on each backend whose clock stands at ``NOW``."""
    with Ledger(fresh_database, clock=lambda: NOW) as led:
        yield led
