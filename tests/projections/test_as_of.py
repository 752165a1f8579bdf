"""Every as-of figure right (SPEC 1, 2.3, 3): a fact that joins two dated facts counts
only from the later of their dates (the money is customer credit until then), fines reach
the general ledger on their own date, ``reconcile --as-of D`` agrees on every date, and
the aging buckets are named by the policy's ``bucket_limits``. Worked examples to the fen,
on SQLite and PostgreSQL (the ``ledger`` fixture)."""

from __future__ import annotations

import json

from support import all_applied, at, cmd, sale, setup_company
from typer.testing import CliRunner

from ledger.cli import app
from ledger.domain.policies import DEFAULT_POLICIES
from ledger.domain.receivables import BUCKETS, bucket_names, credit_pieces
from ledger.projections import ALL_PROJECTIONS
from ledger.projections.aging import query_aging
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


def _tb(projector, as_of=None) -> dict[str, int]:
    """account -> debit - credit as of the date (accounts with a balance only)."""
    doc = trial_balance(projector, as_of=as_of)
    assert doc["debit_total"] == doc["credit_total"]
    return {a["account"]: a["debit"] - a["credit"] for a in doc["accounts"]
            if a["debit"] - a["credit"]}


def _checks(projector, as_of=None) -> dict[str, tuple[int, int]]:
    doc = query_reconcile(projector, as_of)
    assert doc["ok"] is True, doc
    assert doc["as_of"] == as_of
    return {c["name"]: (c["general_ledger"], c["subledger"]) for c in doc["checks"]}


def _items(doc) -> list[tuple[str, int]]:
    return [(i["sale_id"], i["open"]) for i in doc["items"]]


# --- customer credit settling a back-dated sale ------------------------------------------


def test_credit_that_arose_later_settles_a_back_dated_sale_only_from_its_own_date(ledger):
    """Payment P1 (10 March, 50,000) finds no open item: customer credit. Sale S1 is then
    recorded back-dated to 1 March (30,000): the credit settles it, but only from 10 March.
    As of 5 March S1 is open and there is no credit yet."""
    setup_company(ledger)
    all_applied(ledger, [
        cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=50_000,
            received_on="2025-03-10", **at("2025-03-10")),
        sale("S1", 3, day="2025-03-01"),
    ])
    projector = _projector(ledger)
    early = query_receivables(projector, "C1", as_of="2025-03-05")
    assert (early["open_total"], early["customer_credit"]) == (30_000, 0)
    assert _items(early) == [("S1", 30_000)]
    late = query_receivables(projector, "C1", as_of="2025-03-10")
    assert (late["open_total"], late["customer_credit"], _items(late)) == (0, 20_000, [])
    # the general ledger: the sale on 1 March, the credit settling it on 10 March
    assert _tb(projector, "2025-03-05") == {"receivables": 30_000, "vat_payable": -3_451,
                                            "revenue": -26_549}
    assert _tb(projector, "2025-03-10") == {"cash": 50_000, "customer_credit": -20_000,
                                            "vat_payable": -3_451, "revenue": -26_549}
    s1 = [(p["day"], p["account"], p["debit"], p["credit"]) for p in postings(projector, ref="S1")]
    assert s1 == [
        ("2025-03-01", "receivables", 30_000, 0), ("2025-03-01", "revenue", 0, 26_549),
        ("2025-03-01", "vat_payable", 0, 3_451),
        ("2025-03-10", "customer_credit", 30_000, 0), ("2025-03-10", "receivables", 0, 30_000),
    ]
    for day in ("2025-02-28", "2025-03-01", "2025-03-05", "2025-03-09", "2025-03-10", None):
        checks = _checks(projector, day)
        assert checks["receivables"][0] == checks["receivables"][1]
    assert _checks(projector, "2025-03-05")["receivables"] == (30_000, 30_000)
    assert _checks(projector, "2025-03-05")["customer_credit"] == (0, 0)
    assert _checks(projector, "2025-03-10")["customer_credit"] == (20_000, 20_000)
    assert query_aging(projector, as_of="2025-03-05")["total"] == 30_000
    assert query_kpis(projector, as_of="2025-03-05")["total"]["open"] == 30_000
    assert query_kpis(projector, as_of="2025-03-10")["total"]["open"] == 0


def test_credit_lots_are_taken_oldest_first_each_from_its_own_date(ledger):
    """Credit from P1 (5 March, 10,000) and P2 (12 March, 30,000, recorded first); S1
    back-dated to 1 March (30,000) takes 10,000 from 5 March and 20,000 from 12 March; S2
    (20 March, 10,000) takes the 10,000 left of P2's lot from 20 March."""
    setup_company(ledger)
    all_applied(ledger, [
        cmd("RecordPayment", "fin", payment_id="P2", customer_id="C1", amount=30_000,
            received_on="2025-03-12", **at("2025-03-12")),
        cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=10_000,
            received_on="2025-03-05", **at("2025-03-05")),
        sale("S1", 3, day="2025-03-01"),
        sale("S2", 1, day="2025-03-20"),
    ])
    projector = _projector(ledger)
    days = ("2025-03-04", "2025-03-05", "2025-03-12", "2025-03-19", "2025-03-20")
    opens = [query_receivables(projector, "C1", as_of=d) for d in days]
    assert [(_items(r), r["customer_credit"]) for r in opens] == [
        ([("S1", 30_000)], 0), ([("S1", 20_000)], 0), ([], 10_000), ([], 10_000), ([], 0)]
    s1 = [(p["day"], p["account"], p["debit"] - p["credit"])
          for p in postings(projector, ref="S1") if p["account"] == "customer_credit"]
    assert s1 == [("2025-03-05", "customer_credit", 10_000), ("2025-03-12", "customer_credit", 20_000)]
    for day in days:
        _checks(projector, day)


def test_credit_pieces_rule():
    lots = [(7, "2025-03-12", 20_000), (9, "2025-03-05", 10_000)]
    assert credit_pieces(lots, {}, 25_000, "2025-03-01") == [
        (9, "2025-03-05", 10_000), (7, "2025-03-12", 15_000)]
    assert credit_pieces(lots, {9: 10_000, 7: 15_000}, 4_000, "2025-03-20") == [
        (7, "2025-03-20", 4_000)]
    # more than the lots hold (not in a consistent log): the rest from the sale's date
    assert credit_pieces(lots, {9: 10_000, 7: 15_000}, 6_000, "2025-03-20") == [
        (7, "2025-03-20", 5_000), (None, "2025-03-20", 1_000)]


# --- a payment applied to a sale dated after it ------------------------------------------


def test_payment_fifo_to_a_later_sale_is_customer_credit_until_the_sale(ledger):
    """S1 is dated 20 March; payment P1 received 10 March (40,000) is recorded after it:
    FIFO settles S1 (30,000), 10,000 is credit. As of 15 March the sale does not exist
    yet: the 40,000 is all customer credit and receivables are 0, not -30,000."""
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 3, day="2025-03-20"),
        cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=40_000,
            received_on="2025-03-10", **at("2025-03-10")),
    ])
    projector = _projector(ledger)
    assert _tb(projector, "2025-03-15") == {"cash": 40_000, "customer_credit": -40_000}
    assert _checks(projector, "2025-03-15")["receivables"] == (0, 0)
    assert _checks(projector, "2025-03-15")["customer_credit"] == (40_000, 40_000)
    mid = query_receivables(projector, "C1", as_of="2025-03-15")
    assert (mid["open_total"], mid["customer_credit"], _items(mid)) == (0, 40_000, [])
    end = query_receivables(projector, "C1", as_of="2025-03-20")
    assert (end["open_total"], end["customer_credit"], _items(end)) == (0, 10_000, [])
    assert _tb(projector, "2025-03-20") == {"cash": 40_000, "customer_credit": -10_000,
                                            "vat_payable": -3_451, "revenue": -26_549}
    p1 = [(p["day"], p["account"], p["debit"], p["credit"]) for p in postings(projector, ref="P1")]
    assert p1 == [
        ("2025-03-10", "cash", 40_000, 0), ("2025-03-10", "customer_credit", 0, 40_000),
        ("2025-03-20", "customer_credit", 30_000, 0), ("2025-03-20", "receivables", 0, 30_000),
    ]


def test_explicit_allocation_to_a_later_sale_counts_from_the_sale_date(ledger):
    """Same with an allocation, and a sale dated before the payment beside it: the
    allocation to S0 (1 March) counts on 10 March, the one to S1 (20 March) on 20 March."""
    setup_company(ledger)
    all_applied(ledger, [
        sale("S0", 1, day="2025-03-01"),
        sale("S1", 2, day="2025-03-20"),
        cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=30_000,
            received_on="2025-03-10", allocations=[{"sale_id": "S1", "amount": 20_000},
                                                   {"sale_id": "S0", "amount": 10_000}],
            **at("2025-03-10")),
    ])
    projector = _projector(ledger)
    mid = query_receivables(projector, "C1", as_of="2025-03-15")
    assert (mid["open_total"], mid["customer_credit"], _items(mid)) == (0, 20_000, [])
    assert _checks(projector, "2025-03-15")["receivables"] == (0, 0)
    assert _checks(projector, "2025-03-15")["customer_credit"] == (20_000, 20_000)
    end = query_receivables(projector, "C1", as_of="2025-03-20")
    assert (end["open_total"], end["customer_credit"]) == (0, 0)
    assert _checks(projector, "2025-03-20")["customer_credit"] == (0, 0)


def test_recovery_received_before_its_write_off_is_credit_until_the_write_off(ledger):
    """S1 (1 March, 50,000) written off 40,000 on 20 March; a payment received 10 March,
    recorded afterwards, allocates 45,000 to S1: 10,000 settles the open part (from
    10 March), 35,000 recovers the write-off, which counts from 20 March."""
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 5, day="2025-03-01"),
        cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1", amount=40_000,
            approved_by="dir", reason="insolvent", **at("2025-03-20")),
        cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=45_000,
            received_on="2025-03-10", allocations=[{"sale_id": "S1", "amount": 45_000}],
            **at("2025-03-10")),
    ])
    projector = _projector(ledger)
    mid = _checks(projector, "2025-03-15")
    assert mid["receivables"] == (40_000, 40_000)
    assert mid["customer_credit"] == (35_000, 35_000)
    assert mid["bad_debt_unrecovered"] == (0, 0)
    end = _checks(projector, "2025-03-20")
    assert end["receivables"] == (0, 0)
    assert end["customer_credit"] == (0, 0)
    assert end["bad_debt_unrecovered"] == (5_000, 5_000)
    assert _tb(projector, "2025-03-20")["bad_debt_recovery_income"] == -35_000


def test_return_dated_before_the_write_off_it_cancels(ledger):
    """S1 (1 March, 50,000) written off in full on 20 March; a return dated 10 March,
    recorded after the write-off, cancels 30,000 of it: as of 15 March that part is
    customer credit, from 20 March it reduces the bad debt."""
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 5, day="2025-03-01"),
        cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S1", amount=50_000,
            approved_by="dir", reason="insolvent", **at("2025-03-20")),
        cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=30_000, approved_by="mgr",
            reason="goods back", **at("2025-03-10")),
    ])
    projector = _projector(ledger)
    mid = _checks(projector, "2025-03-15")
    assert (mid["receivables"], mid["customer_credit"], mid["bad_debt_unrecovered"]) == (
        (50_000, 50_000), (30_000, 30_000), (0, 0))
    end = _checks(projector, "2025-03-20")
    assert (end["receivables"], end["customer_credit"], end["bad_debt_unrecovered"]) == (
        (0, 0), (0, 0), (20_000, 20_000))


# --- fines on their own date ----------------------------------------------------------


def test_a_fine_reaches_the_general_ledger_on_its_own_date(ledger):
    """F1 (2,000, 10 March) shows as other income as of 15 March, before March closes;
    the close's accrual does not post it again; commission payable reconciles with the
    commissions sub-ledger on every date."""
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 200, day="2024-03-05"),  # R2: 20,000 yuan -> 20%
        cmd("FineRep", "fin", fine_id="F1", rep_id="R2", amount=2_000, reason="late report",
            approved_by="mgr", **at("2024-03-10")),
    ])
    projector = _projector(ledger)
    assert _tb(projector, "2024-03-09").get("other_income") is None
    mid = _tb(projector, "2024-03-15")
    assert (mid["other_income"], mid["commission_payable"]) == (-2_000, 2_000)
    assert _checks(projector, "2024-03-15")["commission_payable"] == (-2_000, -2_000)
    all_applied(ledger, [cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01"))])
    projector.catch_up()
    # R2: commission 3,076.92 + 晨星 1,500 + 开星 1,000 - fine 20 = 555,692 fen total;
    # R1 (SM, R2's trainer): override 5% of 20,000 yuan = 100,000 fen
    end = _tb(projector, "2024-03-31")
    assert end["other_income"] == -2_000
    assert end["commission_payable"] == -(307_692 + 150_000 + 100_000 - 2_000 + 100_000)
    accrual = postings(projector, ref="2024-03")
    assert "other_income" not in {p["account"] for p in accrual}
    assert {p["day"] for p in accrual} == {"2024-03-31"}
    for day in ("2024-03-09", "2024-03-10", "2024-03-30", "2024-03-31", None):
        _checks(projector, day)
    assert _checks(projector, "2024-03-31")["commission_payable"] == (655_692, 655_692)


def test_a_late_fine_in_a_closed_month_posts_on_its_date_and_once(ledger):
    """F2 is dated 20 March after March closed: it posts on 20 March at once; April's
    statement carries it as an adjustment, and April's accrual leaves it out."""
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 200, day="2024-03-05"),
        cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01")),
        cmd("FineRep", "fin", fine_id="F2", rep_id="R2", amount=3_000, reason="late report",
            approved_by="mgr", **at("2024-03-20")),
    ])
    projector = _projector(ledger)
    assert _tb(projector, "2024-03-25")["other_income"] == -3_000
    for day in ("2024-03-19", "2024-03-20", "2024-03-31", "2024-04-15", None):
        _checks(projector, day)
    all_applied(ledger, [cmd("CloseMonth", "fin", period="2024-04", **at("2024-05-01"))])
    projector.catch_up()
    assert _tb(projector)["other_income"] == -3_000
    assert "other_income" not in {p["account"] for p in postings(projector, ref="2024-04")}
    for day in ("2024-03-31", "2024-04-29", "2024-04-30", None):
        _checks(projector, day)


# --- aging bucket names from the policy ------------------------------------------------


def test_bucket_names_follow_the_limits():
    assert bucket_names(DEFAULT_POLICIES["aging"]) == BUCKETS
    assert bucket_names({"bucket_limits": [10, 20]}) == ("not_due", "1-10", "11-20", "20+")
    assert bucket_names({"bucket_limits": [7]}) == ("not_due", "1-7", "7+")


def test_aging_and_receivables_name_buckets_by_the_adopted_limits(ledger):
    """With bucket_limits [10, 20] in force, an item 15 days past due is in ``11-20``
    (not ``31-60``), in both ``aging`` and ``receivables``; the report lists exactly the
    policy's buckets."""
    setup_company(ledger)
    values = {**DEFAULT_POLICIES["aging"], "bucket_limits": [10, 20]}
    all_applied(ledger, [
        cmd("AdoptPolicy", "dir", policy="aging", version="aging-short", effective_from="2024-01-01",
            values=values, **at("2024-01-01")),
        sale("S1", 1, day="2024-01-01"),  # due 31 January
        sale("S2", 2, day="2024-01-10"),  # due 9 February
    ])
    projector = _projector(ledger)
    aging = query_aging(projector, as_of="2024-02-15")  # S1 15 days past due, S2 6
    assert aging["buckets"] == {"not_due": 0, "1-10": 20_000, "11-20": 10_000, "20+": 0}
    assert aging["total"] == 30_000
    rec = query_receivables(projector, "C1", as_of="2024-02-15")
    assert [(i["sale_id"], i["days_past_due"], i["bucket"]) for i in rec["items"]] == [
        ("S1", 15, "11-20"), ("S2", 6, "1-10")]
    later = query_receivables(projector, "C1", as_of="2024-03-15")
    assert [i["bucket"] for i in later["items"]] == ["20+", "20+"]


# --- CLI ------------------------------------------------------------------------------


def test_cli_reconcile_as_of(ledger, fresh_database, monkeypatch):
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 3, day="2025-03-20"),
        cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=40_000,
            received_on="2025-03-10", **at("2025-03-10")),
    ])
    monkeypatch.setenv("LEDGER_DATABASE_URL", fresh_database.url)
    runner = CliRunner()
    result = runner.invoke(app, ["query", "reconcile", "--as-of", "2025-03-15", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["ok"], doc["as_of"]) == (True, "2025-03-15")
    checks = {c["name"]: c for c in doc["checks"]}
    assert (checks["customer_credit"]["general_ledger"], checks["customer_credit"]["subledger"]) == (
        40_000, 40_000)
    bad = runner.invoke(app, ["query", "reconcile", "--as-of", "2025-02-30", "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["rule"] == "invalid_field"
