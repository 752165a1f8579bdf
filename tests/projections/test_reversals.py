"""Reversals (SPEC 2.7) in every projection, on SQLite and PostgreSQL: receivables and
aging (reopened items keep their due dates), customer credit, budgets, commission
statements (a fine of an open month leaves it; of a closed month, the next close books an
adjustment), payouts, the general ledger (the reverse of the reversed entry, dated on the
reversal's business date), reconcile and the audit trail. Figures worked by hand."""

from __future__ import annotations

from support import all_applied, at, cmd, sale, setup_company

from ledger.projections import ALL_PROJECTIONS
from ledger.projections.aging import query_aging
from ledger.projections.audit import query_audit, query_command
from ledger.projections.budgets import query_budget
from ledger.projections.commissions import query_commission, statement_months
from ledger.bootstrap import projector_over
from ledger.projections.engine import Projector
from ledger.projections.general_ledger import postings, trial_balance
from ledger.projections.kpis import KpisProjection, query_kpis
from ledger.projections.receivables import query_receivables
from ledger.projections.reconcile import query_reconcile


def _projector(ledger) -> Projector:
    projector = projector_over(ledger, [cls() for cls in (*ALL_PROJECTIONS, KpisProjection)])
    projector.catch_up()
    return projector


def _accounts(tb: dict) -> dict[str, tuple[int, int]]:
    return {a["account"]: (a["debit"], a["credit"]) for a in tb["accounts"]}


def _checks(projector) -> dict[str, tuple[int, int, int]]:
    report = query_reconcile(projector)
    assert report["ok"] is True, report
    return {c["name"]: (c["general_ledger"], c["subledger"], c["difference"])
            for c in report["checks"]}


def _reverse(target: dict, reversal_id: str, day: str, approved_by: str = "dir") -> dict:
    return cmd("Reverse", "fin", reversal_id=reversal_id, target_command_id=target["command_id"],
               reason="recorded by mistake", approved_by=approved_by, **at(day))


# --- a payment ---------------------------------------------------------------------------


def test_payment_reversal_in_receivables_aging_trial_balance_reconcile_and_audit(ledger):
    setup_company(ledger)
    # S1 10,000 due 2024-03-31 (VAT 1,150); S2 20,000 due 2024-04-04 (VAT 2,301)
    all_applied(ledger, [sale("S1", 1, day="2024-03-01"), sale("S2", 2, day="2024-03-05")])
    p1 = cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=35_000,
             received_on="2024-04-01", **at("2024-04-01"))
    all_applied(ledger, [p1])
    projector = _projector(ledger)
    before = query_receivables(projector, "C1", as_of="2024-04-10")
    assert (before["open_total"], before["customer_credit"], before["items"]) == (0, 5_000, [])
    assert query_aging(projector, as_of="2024-04-10")["total"] == 0
    assert _accounts(trial_balance(projector)) == {
        "cash": (35_000, 0), "receivables": (0, 0), "customer_credit": (0, 5_000),
        "vat_payable": (0, 3_451), "revenue": (0, 26_549)}

    v1 = _reverse(p1, "V1", "2024-04-10")
    all_applied(ledger, [v1])
    projector.catch_up()

    after = query_receivables(projector, "C1", as_of="2024-04-10")
    assert (after["open_total"], after["customer_credit"]) == (30_000, 0)
    assert [(i["sale_id"], i["open"], i["due_on"], i["days_past_due"], i["class"], i["bucket"])
            for i in after["items"]] == [
        ("S1", 10_000, "2024-03-31", 10, "in_collection", "1-30"),
        ("S2", 20_000, "2024-04-04", 6, "in_collection", "1-30")]
    # the reversal counts from its own business date: on 9 April the payment still stood
    on_9th = query_receivables(projector, "C1", as_of="2024-04-09")
    assert (on_9th["open_total"], on_9th["customer_credit"]) == (0, 5_000)
    aging = query_aging(projector, as_of="2024-04-10")
    assert (aging["total"], aging["classes"]["in_collection"], aging["buckets"]["1-30"]) == (
        30_000, 30_000, 30_000)
    assert query_aging(projector, as_of="2024-04-09")["total"] == 0
    # KPIs: the reversal takes back the collection in its own period
    r2 = {r["rep_id"]: r for r in query_kpis(projector, "2024-04")["reps"]}["R2"]
    assert (r2["collections"], r2["open"]) == (0, 30_000)
    r2 = {r["rep_id"]: r for r in query_kpis(projector, as_of="2024-04-09")["reps"]}["R2"]
    assert (r2["collections"], r2["open"]) == (30_000, 0)

    assert _accounts(trial_balance(projector)) == {
        "cash": (0, 0), "receivables": (30_000, 0), "customer_credit": (0, 0),
        "vat_payable": (0, 3_451), "revenue": (0, 26_549)}
    tb_9th = trial_balance(projector, as_of="2024-04-09")
    assert _accounts(tb_9th)["cash"] == (35_000, 0)
    assert tb_9th["debit_total"] == tb_9th["credit_total"] == 35_000
    # the payment's entry and its reversal read together under the payment's id
    assert [(r["day"], r["account"], r["debit"], r["credit"], r["event"])
            for r in postings(projector, ref="P1")] == [
        ("2024-04-01", "cash", 35_000, 0, "PaymentRecorded"),
        ("2024-04-01", "receivables", 0, 30_000, "PaymentRecorded"),
        ("2024-04-01", "customer_credit", 0, 5_000, "PaymentRecorded"),
        ("2024-04-10", "cash", 0, 35_000, "PaymentReversed"),
        ("2024-04-10", "receivables", 30_000, 0, "PaymentReversed"),
        ("2024-04-10", "customer_credit", 5_000, 0, "PaymentReversed")]
    checks = _checks(projector)
    assert checks["receivables"] == (30_000, 30_000, 0)
    assert checks["customer_credit"] == (0, 0, 0)

    # the audit trail: the reversal under its id, the command it reverses and the sales
    (entry,) = query_audit(projector, "V1")["entries"]
    assert (entry["event"], entry["command"], entry["command_id"], entry["actor"],
            entry["approved_by"], entry["reason"], entry["policy_version"]) == (
        "Customer.PaymentReversed", "Reverse", v1["command_id"], "fin", ["dir"],
        "recorded by mistake", "approvals=default")
    assert entry["details"]["target_command_id"] == p1["command_id"]
    assert entry["details"]["payment_id"] == "P1"
    assert [e["event"] for e in query_audit(projector, p1["command_id"])["entries"]] == [
        "Customer.PaymentReversed"]
    assert [e["event"] for e in query_audit(projector, "S1")["entries"]] == [
        "Customer.SaleRecorded", "Customer.PaymentRecorded", "Customer.PaymentReversed"]
    assert [e["event"] for e in query_audit(projector, "P1")["entries"]] == [
        "Customer.PaymentRecorded", "Customer.PaymentReversed"]
    command = query_command(projector, v1["command_id"])
    assert command["answer"]["result"]["credit_removed"] == 5_000


# --- a fine --------------------------------------------------------------------------------


def _fined_company(ledger):
    """R1 (SM) sells 20,000 yuan on 5 March: commission 20,000 x 0.9 / 1.17 x 20% =
    3,076.92 and 晨星 4,000.00; fined 20.00 on 21 March."""
    setup_company(ledger)
    fine = cmd("FineRep", "fin", fine_id="F1", rep_id="R1", amount=2_000, reason="late report",
               approved_by="mgr", **at("2024-03-21"))
    all_applied(ledger, [sale("S1", 200, rep="R1", day="2024-03-05"), fine])
    return fine


def test_fine_reversal_of_an_open_month_leaves_its_statement(ledger):
    fine = _fined_company(ledger)
    projector = _projector(ledger)
    march = query_commission(projector, "R1", "2024-03")
    assert (march["closed"], march["fines"], march["total"]) == (False, 2_000, 705_692)
    all_applied(ledger, [_reverse(fine, "V1", "2024-03-25", approved_by="mgr")])
    projector.catch_up()
    march = query_commission(projector, "R1", "2024-03")
    assert (march["fines"], march["total"]) == (0, 707_692)
    assert [line for line in march["lines"] if line["type"] == "fine"] == []
    all_applied(ledger, [cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01"))])
    projector.catch_up()
    march = query_commission(projector, "R1", "2024-03")
    assert (march["closed"], march["fines"], march["total"]) == (True, 0, 707_692)
    accounts = _accounts(trial_balance(projector))
    assert "other_income" not in accounts or accounts["other_income"] == (0, 0)
    assert accounts["commission_payable"] == (0, 707_692)
    assert _checks(projector)["commission_payable"] == (707_692, 707_692, 0)


def test_fine_reversal_of_a_closed_month_is_an_adjustment_of_the_next_close(ledger):
    fine = _fined_company(ledger)
    all_applied(ledger, [cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01"))])
    projector = _projector(ledger)
    assert query_commission(projector, "R1", "2024-03")["total"] == 705_692
    v1 = _reverse(fine, "V1", "2024-04-15", approved_by="mgr")
    result = all_applied(ledger, [v1])[0]["result"]
    assert (result["period"], result["closed_period"]) == ("2024-03", True)
    projector.catch_up()
    # the closed month stays as booked; April (the next to close) shows the adjustment
    march = query_commission(projector, "R1", "2024-03")
    assert (march["fines"], march["total"]) == (2_000, 705_692)
    april = query_commission(projector, "R1", "2024-04")
    assert (april["closed"], april["total"]) == (False, 2_000)
    (adj,) = [line for line in april["lines"] if line["type"] == "adjustment"]
    assert adj["amount"] == 2_000 and adj["period"] == "2024-03"
    assert [(f["kind"], f["id"], f["date"]) for f in adj["facts"]] == [
        ("fine_reversal", "F1", "2024-03-21")]
    close = all_applied(ledger, [cmd("CloseMonth", "fin", period="2024-04", **at("2024-05-01"))])
    assert close[0]["result"]["adjustments"] == [
        {"rep_id": "R1", "period": "2024-03", "amount": 2_000}]
    projector.catch_up()
    april = query_commission(projector, "R1", "2024-04")
    assert (april["closed"], april["total"]) == (True, 2_000)
    (adj,) = [line for line in april["lines"] if line["type"] == "adjustment"]
    assert (adj["booked"]["fines"], adj["revised"]["fines"]) == (2_000, 0)
    # the general ledger: the fine and its reversal both on the fine's date (as the
    # statements count the reversed fine: a late fact of March), so other income never
    # shows it; the accruals are neutral to fines (April's credits its total less the
    # fine's change its adjustment carries)
    accounts = _accounts(trial_balance(projector))
    assert accounts["other_income"] == (0, 0)
    assert accounts["commission_payable"] == (0, 707_692)
    assert [(r["day"], r["event"], r["account"], r["debit"], r["credit"])
            for r in postings(projector, ref="F1")] == [
        ("2024-03-21", "Fined", "commission_payable", 2_000, 0),
        ("2024-03-21", "Fined", "other_income", 0, 2_000),
        ("2024-03-21", "FineReversed", "commission_payable", 0, 2_000),
        ("2024-03-21", "FineReversed", "other_income", 2_000, 0),
    ]
    march_end = _accounts(trial_balance(projector, as_of="2024-03-31"))
    assert march_end["other_income"] == (0, 0)
    # March's accrual credits its total plus its fine (705,692 + 2,000); April's credits
    # its total (the adjustment's +2,000) less the fine's change (-2,000): nothing
    assert march_end["commission_payable"] == (0, 707_692)
    for day in ("2024-03-20", "2024-03-21", "2024-03-31", "2024-04-15", "2024-04-30"):
        report = query_reconcile(projector, as_of=day)
        assert report["ok"] is True, (day, report)
    assert _checks(projector)["commission_payable"] == (707_692, 707_692, 0)
    entries = query_audit(projector, "F1")["entries"]
    assert [e["event"] for e in entries] == ["Rep.Fined", "Rep.FineReversed"]
    assert entries[1]["approved_by"] == ["mgr"]
    assert [e["event"] for e in query_audit(projector, fine["command_id"])["entries"]] == [
        "Rep.FineReversed"]


# --- an expense spend ------------------------------------------------------------------


def test_spend_reversal_in_budget_trial_balance_and_reconcile(ledger):
    setup_company(ledger)
    spend = cmd("RecordExpenseSpend", "fin", expense_id="E1", amount=55_000, invoice_no="I-1",
                paid_on="2024-03-02", **at("2024-03-02"))
    all_applied(ledger, [
        cmd("AllocateBudget", "fin", budget_id="B1", department="mkt", category="advertising",
            period="2024", amount=100_000, approved_by="dir", **at("2024-01-02")),
        cmd("SubmitExpense", "sa", expense_id="E1", budget_id="B1", amount=60_000,
            description="ads", planned_on="2024-03-01", **at("2024-01-10")),
        cmd("ApproveExpense", "mgr", expense_id="E1", **at("2024-01-11")),
        spend,
    ])
    projector = _projector(ledger)
    b = query_budget(projector, "B1")
    assert (b["allocated"], b["committed"], b["spent"], b["remaining"]) == (
        100_000, 0, 55_000, 45_000)
    all_applied(ledger, [_reverse(spend, "V1", "2024-03-20")])
    projector.catch_up()
    b = query_budget(projector, "B1")
    assert (b["allocated"], b["committed"], b["spent"], b["remaining"]) == (
        100_000, 60_000, 0, 40_000)
    (e1,) = b["expenses"]
    assert (e1["expense_id"], e1["status"], e1["spent"]) == ("E1", "approved", 0)
    accounts = _accounts(trial_balance(projector))
    assert accounts["cash"] == (0, 0)
    assert accounts["marketing_expense:advertising"] == (0, 0)
    assert _accounts(trial_balance(projector, as_of="2024-03-19")) == {
        "cash": (0, 55_000), "marketing_expense:advertising": (55_000, 0)}
    assert _checks(projector)["marketing_expense:advertising"] == (0, 0, 0)
    assert [e["event"] for e in query_audit(projector, "E1")["entries"]][-2:] == [
        "Budget.ExpenseSpent", "Budget.SpendReversed"]


# --- a payout ------------------------------------------------------------------------------


def test_payout_reversal_raises_the_statement_balance_again(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 200, rep="R1", day="2024-03-05"),
                         cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01"))])
    payout = cmd("PayCommission", "fin", payout_id="PO1", rep_id="R1", period="2024-03",
                 amount=707_692, paid_on="2024-05-10", **at("2024-05-10"))
    all_applied(ledger, [payout])
    projector = _projector(ledger)
    march = query_commission(projector, "R1", "2024-03")
    assert (march["total"], march["paid"], march["balance"]) == (707_692, 707_692, 0)
    all_applied(ledger, [_reverse(payout, "V1", "2024-05-11")])
    projector.catch_up()
    march = query_commission(projector, "R1", "2024-03")
    assert (march["total"], march["paid"], march["balance"]) == (707_692, 0, 707_692)
    assert [(x["type"], x["payout_id"], x["date"], x["amount"]) for x in march["lines"]
            if x["type"].startswith("payout")] == [
        ("payout", "PO1", "2024-05-10", 707_692),
        ("payout_reversal", "PO1", "2024-05-11", -707_692)]
    assert statement_months(projector, "R1")[0]["balance"] == 707_692
    accounts = _accounts(trial_balance(projector))
    assert (accounts["cash"], accounts["commission_payable"]) == ((0, 0), (0, 707_692))
    on_10th = _accounts(trial_balance(projector, as_of="2024-05-10"))
    assert (on_10th["cash"], on_10th["commission_payable"]) == ((0, 707_692), (0, 0))
    assert _checks(projector)["commission_payable"] == (707_692, 707_692, 0)
    entries = query_audit(projector, "PO1")["entries"]
    assert [e["event"] for e in entries] == ["Rep.CommissionPaid", "Rep.PayoutReversed"]


# --- property: any history with many reversals still balances and reconciles -----------

import pytest  # noqa: E402
import test_reconcile as rec  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from stores import require_postgres  # noqa: E402

# half the steps reverse one of the payments, spends, fines or payouts so far
_reversal_heavy = {
    "history": st.lists(st.tuples(st.integers(0, 119), st.one_of(
        rec.ops, st.tuples(st.just("reverse"), st.integers(0, 30)))), min_size=3, max_size=24),
    "closes": st.sets(st.sampled_from(("2024-01", "2024-02", "2024-03"))),
    "batch_size": st.sampled_from((3, 1000)),
}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**_reversal_heavy)
def test_histories_with_reversals_balance_and_reconcile_sqlite(history, closes, batch_size):
    """``test_reconcile``'s checks (trial balance as of every month end, receivables =
    aging, reconcile ok, each statement before its close = what the close accrues)."""
    rec._any_history("sqlite", history, closes, batch_size)


@pytest.mark.postgres
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**_reversal_heavy)
def test_histories_with_reversals_balance_and_reconcile_postgres(history, closes, batch_size):
    require_postgres()
    rec._any_history("postgres", history, closes, batch_size)


# --- reversals under the later-date joins (SPEC 1) -------------------------------------


def _reconciled_on(projector, days: list[str]) -> None:
    for day in days:
        report = query_reconcile(projector, as_of=day)
        assert report["ok"] is True, (day, report)
        tb = trial_balance(projector, as_of=day)
        assert tb["debit_total"] == tb["credit_total"], day


def test_reversal_of_a_recovery_held_until_a_later_write_off(ledger):
    """A recovery received on 1 March on a sale written off on 20 March counts from 20
    March (customer credit until then); its payment reversed on 10 March: the held credit
    goes on 10 March and the join of 20 March nets to nothing, in receivables, KPIs and
    the general ledger, and every date reconciles."""
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 1, day="2024-01-10"),
        cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1", amount=10_000,
            approved_by="dir", reason="uncollectable", **at("2024-03-20")),
    ])
    p1 = cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=4_000,
             received_on="2024-03-01", allocations=[{"sale_id": "S1", "amount": 4_000}],
             **at("2024-03-01"))
    all_applied(ledger, [p1])
    projector = _projector(ledger)
    assert query_receivables(projector, "C1", as_of="2024-03-05")["customer_credit"] == 4_000
    assert query_receivables(projector, "C1")["recovered"] == 4_000
    all_applied(ledger, [_reverse(p1, "V1", "2024-03-10")])
    projector.catch_up()
    figures = {day: query_receivables(projector, "C1", as_of=day)
               for day in ("2024-03-05", "2024-03-10", "2024-03-25")}
    # the day before the reversal the payment stands: held as credit
    assert (figures["2024-03-05"]["customer_credit"], figures["2024-03-05"]["recovered"]) == (
        4_000, 0)
    assert (figures["2024-03-10"]["customer_credit"], figures["2024-03-10"]["recovered"]) == (0, 0)
    assert (figures["2024-03-25"]["customer_credit"], figures["2024-03-25"]["written_off"],
            figures["2024-03-25"]["recovered"]) == (0, 10_000, 0)
    assert [(r["day"], r["account"], r["debit"], r["credit"])
            for r in postings(projector, ref="P1") if r["event"] == "PaymentReversed"] == [
        ("2024-03-10", "cash", 0, 4_000), ("2024-03-10", "customer_credit", 4_000, 0),
        ("2024-03-20", "customer_credit", 0, 4_000),
        ("2024-03-20", "bad_debt_recovery_income", 4_000, 0)]
    march = _accounts(trial_balance(projector, as_of="2024-03-31"))
    assert (march["cash"], march["customer_credit"], march["bad_debt_recovery_income"]) == (
        (0, 0), (0, 0), (0, 0))
    assert query_kpis(projector, "2024-03")["total"]["recoveries"] == 0
    _reconciled_on(projector, ["2024-03-01", "2024-03-09", "2024-03-10", "2024-03-19",
                               "2024-03-20", "2024-04-30"])


def test_reversal_takes_back_its_own_credit_lot_and_nothing_else(ledger):
    """Credit a payment created and a sale took since is used: the reversal is
    ``exceeds_open_amount`` even when other credit came in later; a payment whose lot is
    whole is reversed, and the next sale takes credit only from what is left, dated by
    that lot (receivables, KPIs and GL agree on every date)."""
    setup_company(ledger)
    p1 = cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=5_000,
             received_on="2024-03-01", **at("2024-03-01"))
    p2 = cmd("RecordPayment", "fin", payment_id="P2", customer_id="C1", amount=5_000,
             received_on="2024-03-10", **at("2024-03-10"))
    p3 = cmd("RecordPayment", "fin", payment_id="P3", customer_id="C1", amount=6_000,
             received_on="2024-03-12", **at("2024-03-12"))
    # S1 (10,000 on 5 March) takes P1's 5,000 of credit
    all_applied(ledger, [p1, sale("S1", 1, day="2024-03-05"), p2, p3])
    answer = ledger.execute_one(_reverse(p1, "V1", "2024-03-15"))
    assert (answer["status"], answer["rule"]) == ("rejected", "exceeds_open_amount"), answer
    # S1's open 5,000 is settled by FIFO from P2 on 10 March; P3's 6,000 is credit, more
    # than P1 created, but P1's own credit went to S1
    assert (answer["details"]["used"], answer["details"]["credit_balance"]) == (5_000, 6_000)
    v3 = all_applied(ledger, [_reverse(p3, "V3", "2024-03-20")])[0]
    assert v3["result"]["credit_removed"] == 6_000
    # a later sale dated 25 March takes no credit: P1's lot is used, P3's is gone
    all_applied(ledger, [sale("S2", 1, day="2024-03-25")])
    projector = _projector(ledger)
    doc = query_receivables(projector, "C1", as_of="2024-03-31")
    assert (doc["open_total"], doc["customer_credit"]) == (10_000, 0)
    assert query_receivables(projector, "C1", as_of="2024-03-19")["customer_credit"] == 6_000
    assert query_kpis(projector, as_of="2024-03-31")["total"]["open"] == 10_000
    _reconciled_on(projector, ["2024-03-01", "2024-03-12", "2024-03-19", "2024-03-20",
                               "2024-03-31"])


def test_a_write_off_dated_before_the_reversal_that_reopened_its_sale_counts_from_it(ledger):
    """A reopened amount exists from the reversal's date: a write-off of it recorded later
    but dated earlier joins the reopening and counts from the reversal's date (SPEC 1), so
    the sale is never negative as of any date."""
    setup_company(ledger)
    p1 = cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=10_000,
             received_on="2024-03-10", **at("2024-03-10"))
    all_applied(ledger, [sale("S1", 1, day="2024-03-01"), p1, _reverse(p1, "V1", "2024-03-20"),
                         cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1",
                             amount=10_000, approved_by="dir", reason="uncollectable",
                             **at("2024-03-15"))])
    projector = _projector(ledger)
    opens = {day: query_receivables(projector, "C1", as_of=day)["open_total"]
             for day in ("2024-03-05", "2024-03-15", "2024-03-19", "2024-03-20")}
    assert opens == {"2024-03-05": 10_000, "2024-03-15": 0, "2024-03-19": 0, "2024-03-20": 0}
    assert query_receivables(projector, "C1", as_of="2024-03-19")["written_off"] == 0
    assert query_receivables(projector, "C1", as_of="2024-03-20")["written_off"] == 10_000
    assert [(r["day"], r["account"]) for r in postings(projector, ref="W1")] == [
        ("2024-03-20", "bad_debt_expense"), ("2024-03-20", "receivables")]
    assert query_kpis(projector, as_of="2024-03-19")["total"]["open"] == 0
    _reconciled_on(projector, ["2024-03-10", "2024-03-15", "2024-03-19", "2024-03-20"])
