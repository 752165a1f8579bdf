"""A return of a sale that has been (partly) written off (SPEC 2.2, 2.3, 2.5 Clawback, 3):
the return reduces the open amount first, then cancels the written-off amount not yet
recovered, and only the part already paid becomes customer credit. End to end, to the
fen, on SQLite and PostgreSQL: the command's answer and the Customer's figures, payment
allocations afterwards, the receivables and aging views, the general ledger's entry
(Cr bad_debt_expense for the cancelled part), reconciliation, and commissions (the
write-off already clawed back the commission of the written-off amount: the return does
not claw it back again).

Sale of 1 x X = 10,000 fen (VAT 13% included: 1,150 of a full return, 1,035 of 9,000)."""

from __future__ import annotations

from support import all_applied, applied, at, cmd, customer_state, refused, sale, setup_company

from ledger.domain.money import yuan
from ledger.projections import ALL_PROJECTIONS
from ledger.projections.aging import query_aging
from ledger.projections.audit import query_audit
from ledger.projections.commissions import query_commission
from ledger.bootstrap import projector_over
from ledger.projections.engine import Projector
from ledger.projections.general_ledger import postings, trial_balance
from ledger.projections.kpis import KpisProjection, query_kpis
from ledger.projections.receivables import query_receivables
from ledger.projections.reconcile import query_reconcile


def _write_off(writeoff_id: str, sale_id: str, amount: int, day: str) -> dict:
    return cmd("WriteOffReceivable", "fin", writeoff_id=writeoff_id, sale_id=sale_id,
               amount=amount, approved_by="dir", reason="customer bankrupt", **at(day))


def _return(return_id: str, sale_id: str, amount: int, day: str) -> dict:
    return cmd("RecordReturn", "sa", return_id=return_id, sale_id=sale_id, amount=amount,
               approved_by="mgr", reason="goods back", **at(day))


def _pay(payment_id: str, amount: int, day: str, allocations: list[tuple[str, int]] | None = None) -> dict:
    body = cmd("RecordPayment", "fin", payment_id=payment_id, customer_id="C1", amount=amount,
               received_on=day, **at(day))
    if allocations is not None:
        body["allocations"] = [{"sale_id": s, "amount": a} for s, a in allocations]
    return body


def _projector(ledger) -> Projector:
    projector = projector_over(ledger, [cls() for cls in (*ALL_PROJECTIONS, KpisProjection)])
    projector.catch_up()
    return projector


def _lines(projector: Projector, ref: str) -> list[tuple[str, str, int, int]]:
    return [(p["day"], p["account"], p["debit"], p["credit"]) for p in postings(projector, ref=ref)]


def _checks(projector: Projector) -> dict[str, tuple[int, int, int]]:
    report = query_reconcile(projector)
    assert report["ok"] is True, report
    return {c["name"]: (c["general_ledger"], c["subledger"], c["difference"])
            for c in report["checks"]}


def _balance(projector: Projector, account: str) -> int:
    """Debit minus credit of ``account`` over every posting."""
    return sum(p["debit"] - p["credit"] for p in postings(projector, account=account))


# --- the whole sale written off, then returned ------------------------------------------------


def test_return_of_a_fully_written_off_sale_cancels_the_bad_debt_not_credit(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), _write_off("W1", "S1", 10_000, "2024-05-10")])
    answer = applied(ledger, _return("RT1", "S1", 10_000, "2024-06-03"))
    assert answer["result"] == {"return_id": "RT1", "vat": 1_150, "to_open": 0,
                                "to_written_off": 10_000, "to_credit": 0, "commission_amount": 0,
                                "closed_period": False}
    state = customer_state(ledger, "C1")
    item = state.receivables["S1"]
    assert (item.open, item.written_off, item.recovered, item.returned_written_off,
            item.unrecovered) == (0, 10_000, 0, 10_000, 0)
    assert state.credit == 0  # no credit for goods never paid for
    assert "S1" not in state.active and state.open_sum == 0
    # nothing is left to recover: an allocation to S1 is refused, and a payment without
    # allocations has no open item: it all becomes credit (money actually paid)
    refused(ledger, _pay("P1", 1, "2024-06-10", [("S1", 1)]), "overpayment_allocation",
            sale_id="S1", open=0, unrecovered=0, asked=1)
    assert applied(ledger, _pay("P2", 500, "2024-06-10"))["result"]["to_credit"] == 500

    projector = _projector(ledger)
    # the bad debt is there until the return, gone after it
    assert query_aging(projector, "2024-05-31")["classes"]["bad_debt"] == 10_000
    aging = query_aging(projector, "2024-06-30")
    assert (aging["total"], aging["classes"]["bad_debt"]) == (0, 0)
    before = query_receivables(projector, "C1", "2024-05-31")
    assert (before["written_off"], before["customer_credit"]) == (10_000, 0)
    assert [(i["sale_id"], i["open"], i["written_off"], i["class"]) for i in before["items"]] == [
        ("S1", 0, 10_000, "bad_debt")]
    after = query_receivables(projector, "C1", "2024-06-30")
    assert (after["open_total"], after["written_off"], after["customer_credit"], after["items"]) == (
        0, 0, 500, [])
    # the return reverses the sale's revenue and VAT, and the write-off's expense
    assert _lines(projector, "W1") == [
        ("2024-05-10", "bad_debt_expense", 10_000, 0),
        ("2024-05-10", "receivables", 0, 10_000),
    ]
    assert _lines(projector, "RT1") == [
        ("2024-06-03", "revenue", 8_850, 0),
        ("2024-06-03", "vat_payable", 1_150, 0),
        ("2024-06-03", "bad_debt_expense", 0, 10_000),
    ]
    assert _balance(projector, "bad_debt_expense") == 0
    assert _balance(projector, "customer_credit") == -500  # P2 only
    tb = trial_balance(projector)
    assert tb["debit_total"] == tb["credit_total"]
    checks = _checks(projector)
    assert checks["receivables"] == (0, 0, 0)
    assert checks["customer_credit"] == (500, 500, 0)
    assert checks["bad_debt_unrecovered"] == (0, 0, 0)
    # KPIs: the return counts in returns (gross back), nothing was collected
    kpis = query_kpis(projector, "2024-06")["total"]
    assert (kpis["returns"], kpis["collections"], kpis["open"]) == (10_000, 0, 0)
    # the audit trail shows the split
    (entry,) = query_audit(projector, "RT1")["entries"]
    assert entry["details"]["to_written_off"] == 10_000


def test_partial_payment_write_off_and_return(ledger):
    """Sale 10,000; payment 3,000; write-off 5,000 (open 2,000); return 9,000: 2,000 closes
    the open amount, 5,000 cancels the write-off, the 2,000 already paid becomes credit."""
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 1),
        _pay("P1", 3_000, "2024-03-20", [("S1", 3_000)]),
        _write_off("W1", "S1", 5_000, "2024-05-10"),
    ])
    result = applied(ledger, _return("RT1", "S1", 9_000, "2024-06-03"))["result"]
    assert (result["to_open"], result["to_written_off"], result["to_credit"], result["vat"]) == (
        2_000, 5_000, 2_000, 1_035)
    state = customer_state(ledger, "C1")
    item = state.receivables["S1"]
    assert (item.open, item.unrecovered, state.credit) == (0, 0, 2_000)
    assert "S1" not in state.active

    projector = _projector(ledger)
    assert _lines(projector, "RT1") == [
        ("2024-06-03", "revenue", 7_965, 0),
        ("2024-06-03", "vat_payable", 1_035, 0),
        ("2024-06-03", "receivables", 0, 2_000),
        ("2024-06-03", "bad_debt_expense", 0, 5_000),
        ("2024-06-03", "customer_credit", 0, 2_000),
    ]
    assert query_aging(projector, "2024-05-31")["classes"]["bad_debt"] == 5_000
    assert query_aging(projector, "2024-06-30")["classes"]["bad_debt"] == 0
    r = query_receivables(projector, "C1", "2024-06-30")
    assert (r["open_total"], r["written_off"], r["customer_credit"]) == (0, 0, 2_000)
    checks = _checks(projector)
    assert checks["customer_credit"] == (2_000, 2_000, 0)
    assert checks["bad_debt_unrecovered"] == (0, 0, 0)


def test_a_later_payment_recovers_at_most_what_the_return_left_unrecovered(ledger):
    """Written off 10,000, 4,000 returned: 6,000 is left to recover, no more."""
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), _write_off("W1", "S1", 10_000, "2024-05-10")])
    result = applied(ledger, _return("RT1", "S1", 4_000, "2024-06-03"))["result"]
    assert (result["to_open"], result["to_written_off"], result["to_credit"]) == (0, 4_000, 0)
    assert customer_state(ledger, "C1").receivables["S1"].unrecovered == 6_000
    refused(ledger, _pay("P1", 7_000, "2024-06-20", [("S1", 6_001)]), "overpayment_allocation",
            sale_id="S1", open=0, unrecovered=6_000, asked=6_001)
    result = applied(ledger, _pay("P1", 7_000, "2024-06-20", [("S1", 6_000)]))["result"]
    assert result["applied"] == [{"sale_id": "S1", "amount": 6_000, "kind": "recovery"}]
    assert result["to_credit"] == 1_000
    item = customer_state(ledger, "C1").receivables["S1"]
    assert (item.recovered, item.unrecovered) == (6_000, 0)
    # the rest of the sale (6,000) is now paid: returning it is credit, it cancels nothing
    result = applied(ledger, _return("RT2", "S1", 6_000, "2024-06-25"))["result"]
    assert (result["to_open"], result["to_written_off"], result["to_credit"]) == (0, 0, 6_000)

    projector = _projector(ledger)
    assert query_aging(projector, "2024-06-10")["classes"]["bad_debt"] == 6_000
    assert query_aging(projector, "2024-06-30")["classes"]["bad_debt"] == 0
    # bad-debt expense 10,000 - 4,000 cancelled = 6,000, all recovered
    assert _balance(projector, "bad_debt_expense") == 6_000
    assert _balance(projector, "bad_debt_recovery_income") == -6_000
    checks = _checks(projector)
    assert checks["bad_debt_unrecovered"] == (0, 0, 0)
    assert checks["customer_credit"] == (7_000, 7_000, 0)


def test_a_recovery_before_the_return_is_money_paid_it_becomes_credit(ledger):
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 1), _write_off("W1", "S1", 10_000, "2024-05-10"),
        _pay("P1", 4_000, "2024-05-20", [("S1", 4_000)]),
    ])
    result = applied(ledger, _return("RT1", "S1", 10_000, "2024-06-03"))["result"]
    assert (result["to_open"], result["to_written_off"], result["to_credit"]) == (0, 6_000, 4_000)
    projector = _projector(ledger)
    checks = _checks(projector)
    assert checks["bad_debt_unrecovered"] == (0, 0, 0)
    assert checks["customer_credit"] == (4_000, 4_000, 0)


# --- commissions: the write-off's clawback is not taken twice ---------------------------------


def _statement(ledger, projector: Projector, rep_id: str, period: str, day: str) -> dict:
    """The statement before the close (the facts so far) and after it: the same figures."""
    projector.catch_up()
    before = query_commission(projector, rep_id, period)
    all_applied(ledger, [cmd("CloseMonth", "fin", period=period, **at(day))])
    projector.catch_up()
    after = query_commission(projector, rep_id, period)
    assert after["closed"] and not before["closed"]
    strip = ("closed", "payable_on")
    assert {k: v for k, v in after.items() if k not in strip} == {
        k: v for k, v in before.items() if k not in strip}
    return after


def _clawbacks(statement: dict) -> list[tuple[str, str, int, int]]:
    return [(line["ref_id"], line["kind"], line["gross"], line["amount"])
            for line in statement["lines"] if line["type"] == "clawback"]


def test_a_return_after_a_write_off_in_a_later_month_claws_back_only_the_paid_part(ledger):
    """R2 sells 20,000 yuan in March (rate 20%); 5,000 is paid. April: 10,000 written off,
    clawed back at March's 20%: 10,000 x 0.9 / 1.17 x 20% = 1,538.46. May: 18,000 returned:
    5,000 closes the open amount, 10,000 cancels the write-off (already clawed back), 3,000
    was paid. May claws back 8,000 x 0.9 / 1.17 x 20% = 1,230.77, not 18,000's 2,769.23."""
    setup_company(ledger, credit_limit=10**12)
    all_applied(ledger, [
        cmd("RecordSale", "sa", sale_id="S1", customer_id="C1", rep_id="R2", invoice_no="INV-S1",
            lines=[{"sku": "X", "quantity": 1, "unit_price": yuan(20_000)}],
            price_approved_by="dir", **at("2024-03-05")),
        _pay("P1", yuan(5_000), "2024-03-25", [("S1", yuan(5_000))]),
    ])
    projector = _projector(ledger)
    march = _statement(ledger, projector, "R2", "2024-03", "2024-04-01")
    assert (march["personal_sales"], march["rate"]) == (yuan(20_000), "0.2")

    all_applied(ledger, [_write_off("W1", "S1", yuan(10_000), "2024-04-15")])
    april = _statement(ledger, projector, "R2", "2024-04", "2024-05-01")
    assert _clawbacks(april) == [("W1", "write_off", yuan(10_000), 153_846)]

    result = applied(ledger, _return("RT1", "S1", yuan(18_000), "2024-05-10"))["result"]
    assert (result["to_open"], result["to_written_off"], result["to_credit"]) == (
        yuan(5_000), yuan(10_000), yuan(3_000))
    may = _statement(ledger, projector, "R2", "2024-05", "2024-06-01")
    assert _clawbacks(may) == [("RT1", "return", yuan(8_000), 123_077)]
    # April's negative total (-1,538.46) carries into May (SPEC 2.5, carry_negative)
    assert (may["personal_sales"], may["clawback"], may["carried"], may["total"]) == (
        0, 123_077, -153_846, -123_077 - 153_846)
    # in all, the rep gave back the commission of the 18,000 not paid for, once
    assert 153_846 + 123_077 == round(yuan(18_000) * 0.9 / 1.17 * 0.2)
    assert _checks(projector)["commission_payable"][2] == 0


def test_a_return_that_only_cancels_a_written_off_amount_claws_back_nothing(ledger):
    """The whole sale written off in April (clawed back then), returned in May: May has
    nothing to claw back; its statement only carries April's negative total in."""
    setup_company(ledger, credit_limit=10**12)
    all_applied(ledger, [sale("S1", 150, rep="R2", day="2024-03-05")])  # 15,000 yuan: 15%
    projector = _projector(ledger)
    _statement(ledger, projector, "R2", "2024-03", "2024-04-01")
    all_applied(ledger, [_write_off("W1", "S1", yuan(15_000), "2024-04-15")])
    april = _statement(ledger, projector, "R2", "2024-04", "2024-05-01")
    assert _clawbacks(april) == [("W1", "write_off", yuan(15_000), 173_077)]
    all_applied(ledger, [_return("RT1", "S1", yuan(15_000), "2024-05-10")])
    may = _statement(ledger, projector, "R2", "2024-05", "2024-06-01")
    assert (may["personal_sales"], may["clawback"], may["total"], may["lines"]) == (
        0, 0, -173_077, [{"type": "carried", "period": "2024-04", "amount": -173_077}])
    assert _checks(projector)["commission_payable"][2] == 0


def test_a_same_month_write_off_and_return_are_not_charged_twice(ledger):
    """Sale, write-off and return in March: the write-off claws the commission back; the
    return of the written-off amount does not also take it out of personal sales."""
    setup_company(ledger, credit_limit=10**12)
    all_applied(ledger, [
        sale("S1", 200, rep="R2", day="2024-03-05"),  # 20,000 yuan: 20%
        _write_off("W1", "S1", yuan(20_000), "2024-03-20"),
        _return("RT1", "S1", yuan(20_000), "2024-03-25"),
    ])
    projector = _projector(ledger)
    march = _statement(ledger, projector, "R2", "2024-03", "2024-04-01")
    assert (march["personal_sales"], march["commission"], march["clawback"]) == (
        yuan(20_000), 307_692, 307_692)
    assert [line for line in march["lines"] if line["type"] == "return"] == []
    assert _checks(projector)["commission_payable"][2] == 0


def test_goods_returned_after_a_recovery_are_not_clawed_back_twice(ledger):
    """Sale 20,000 yuan (20%), written off in April (the whole commission clawed back),
    5,000 yuan recovered, then everything returned in May: 15,000 cancels the bad debt,
    5,000 (the recovered money) becomes credit, and the return counts nothing for
    commissions: the rep already lost the whole sale's commission, once."""
    setup_company(ledger, credit_limit=10**12)
    all_applied(ledger, [sale("S1", 200, rep="R2", day="2024-03-05")])
    projector = _projector(ledger)
    _statement(ledger, projector, "R2", "2024-03", "2024-04-01")
    all_applied(ledger, [
        _write_off("W1", "S1", yuan(20_000), "2024-04-15"),
        _pay("P1", yuan(5_000), "2024-04-20", [("S1", yuan(5_000))]),
    ])
    april = _statement(ledger, projector, "R2", "2024-04", "2024-05-01")
    assert april["clawback"] == 307_692
    answer = ledger.execute_one(_return("RT1", "S1", yuan(20_000), "2024-05-10"))
    assert answer["status"] == "applied", answer
    result = answer["result"]
    assert (result["to_open"], result["to_written_off"], result["to_credit"],
            result["commission_amount"]) == (0, yuan(15_000), yuan(5_000), 0)
    may = _statement(ledger, projector, "R2", "2024-05", "2024-06-01")
    # nothing clawed back in May; April's negative total carries in (SPEC 2.5)
    assert (may["personal_sales"], may["clawback"], may["carried"], may["total"]) == (
        0, 0, -307_692, -307_692)
    assert _checks(projector)["commission_payable"][2] == 0
