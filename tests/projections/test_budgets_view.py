"""Budget projection (SPEC 2.4 figures, SPEC 3 Budgets, SPEC 5.3 ``budget``): allocated,
adjustments, committed, spent, remaining, utilisation and expenses by status, to the fen,
on SQLite and PostgreSQL. Figures: ``scenarios.build_budget``."""

from __future__ import annotations

import pytest
from scenarios import build_budget, clocked, projector  # noqa: F401

from ledger.projections.budgets import BudgetsProjection, query_budget, query_budgets
from ledger.projections.errors import QueryError
from support import all_applied, budget_state, cmd


@pytest.fixture
def company(clocked):  # noqa: F811
    build_budget(clocked)
    return projector(clocked, BudgetsProjection)


def test_budget_figures(company):
    b = query_budget(company, "B1")
    assert {k: b[k] for k in ("budget_id", "allocated", "committed", "spent", "remaining")} == {
        "budget_id": "B1", "allocated": 1_150_000, "committed": 550_000, "spent": 320_000,
        "remaining": 280_000,
    }
    assert (b["allocation"], b["adjustments"], b["utilisation"]) == (1_000_000, 150_000, "0.7565")
    assert (b["department"], b["category"], b["period"]) == ("marketing", "advertising", "2024-Q2")
    assert b["adjustment_list"] == [
        {"delta": 200_000, "approved_by": "dir", "reason": "trade fair", "date": "2024-04-05"},
        {"delta": -50_000, "approved_by": "dir", "reason": "cut", "date": "2024-04-25"},
    ]
    assert b["by_status"] == {
        "submitted": {"count": 1, "amount": 100_000},
        "approved": {"count": 2, "amount": 550_000},
        "spent": {"count": 1, "amount": 300_000},
        "rejected": {"count": 1, "amount": 200_000},
    }


def test_expenses_in_filing_order_with_their_status(company):
    expenses = query_budget(company, "B1")["expenses"]
    assert [(x["expense_id"], x["status"], x["amount"], x["approved_amount"], x["spent"])
            for x in expenses] == [
        ("E1", "spent", 300_000, 300_000, 320_000),
        ("E2", "approved", 500_000, 500_000, 0),
        ("E3", "rejected", 200_000, 200_000, 0),
        ("E4", "submitted", 100_000, 0, 0),
        ("E5", "approved", 50_000, 50_000, 0),
    ]
    e1, e3, e5 = expenses[0], expenses[2], expenses[4]
    assert (e1["approved_by"], e1["approved_on"], e1["invoice_no"], e1["paid_on"]) == (
        "mgr", "2024-04-11", "FP-1", "2024-05-20")
    assert (e3["rejected_by"], e3["rejected_on"], e3["reason"]) == ("fin", "2024-04-20", "cancelled")
    assert (e5["activity"], e5["late_activity"], e5["approved_by"]) == (True, True, "dir")
    assert (e5["filed_on"], e5["planned_on"], e5["submitted_by"]) == ("2024-04-22", "2024-04-30", "sa")


def test_the_projection_agrees_with_the_budget_aggregate(clocked, company):  # noqa: F811
    figures = budget_state(clocked, "B1").figures
    b = query_budget(company, "B1")
    assert (b["allocated"], b["committed"], b["spent"], b["remaining"]) == (
        figures.allocated, figures.committed, figures.spent, figures.remaining)


def test_figures_follow_each_new_event(clocked, company):  # noqa: F811
    # E2 withdrawn: its 500,000 commitment is released; E5 spent below its approval
    all_applied(clocked, [
        cmd("RejectExpense", "mgr", expense_id="E2", reason="postponed"),
        cmd("RecordExpenseSpend", "fin", expense_id="E5", amount=45_000, invoice_no="FP-2",
            paid_on="2024-05-01"),
    ])
    company.catch_up(batch_size=1)
    b = query_budget(company, "B1")
    assert (b["allocated"], b["committed"], b["spent"], b["remaining"], b["utilisation"]) == (
        1_150_000, 0, 365_000, 785_000, "0.3174")  # 365,000 / 1,150,000 = 0.31739...


def test_every_budget_with_company_totals(clocked, company):  # noqa: F811
    all_applied(clocked, [cmd("AllocateBudget", "fin", budget_id="B2", department="sales",
                              category="hospitality", period="2024-06", amount=0, approved_by="dir")])
    company.catch_up()
    listing = query_budgets(company)
    assert [(b["budget_id"], b["allocated"], b["remaining"], b["utilisation"])
            for b in listing["budgets"]] == [("B1", 1_150_000, 280_000, "0.7565"), ("B2", 0, 0, "0")]
    assert listing["totals"] == {"allocated": 1_150_000, "committed": 550_000, "spent": 320_000,
                                 "remaining": 280_000}


def test_unknown_budget(company):
    with pytest.raises(QueryError) as e:
        query_budget(company, "B9")
    assert e.value.rule == "unknown_reference"
