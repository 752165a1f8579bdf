"""RecordSale and RecordReturn: every rule of SPEC 5.2 / 2.1 / 2.2 with a passing and a
failing case, the numbers in each rejection, and the order of rules when several break."""

from __future__ import annotations

from support import (
    all_applied, applied, at, cmd, customer_state, facts_after, refused, sale, setup_company,
    topic_of,
)


def _line(sku: str, quantity: int, unit_price: int, tax_rate: str | None = None) -> dict:
    line = {"sku": sku, "quantity": quantity, "unit_price": unit_price}
    if tax_rate is not None:
        line["tax_rate"] = tax_rate
    return line


def _multi_line_sale(sale_id: str, **extra):
    """X 3 x 10,000 at 13%, Y 1 x 5,000 at 6%, Z 2 x 777 at 0%: gross 36,554 fen;
    VAT 3,451 (30,000 x 0.13/1.13 = 3,451.33) + 283 (5,000 x 0.06/1.06 = 283.02) + 0 = 3,734."""
    return cmd("RecordSale", "sa", sale_id=sale_id, customer_id="C1", rep_id="R2",
               invoice_no=f"INV-{sale_id}",
               lines=[_line("X", 3, 10_000), _line("Y", 1, 5_000, "0.06"), _line("Z", 2, 777, "0")],
               **at("2024-03-05"), **extra)


def _with_skus(ledger, **setup):
    setup_company(ledger, **setup)
    all_applied(ledger, [
        cmd("SetListPrice", "sa", sku="Y", unit_price=5_000, effective_from="2024-01-01", approved_by="dir"),
        cmd("SetListPrice", "sa", sku="Z", unit_price=777, effective_from="2024-01-01", approved_by="dir"),
    ])


# --- RecordSale: what a sale records ------------------------------------------------------


def test_sale_records_gross_vat_due_date_and_its_checks(ledger):
    setup_company(ledger)
    before = ledger.max_position()
    answer = applied(ledger, sale("S1", 2, day="2024-03-05", actor="svc"))
    assert answer["result"] == {
        "sale_id": "S1", "gross": 20_000, "vat": 2_301,  # 20,000 x 0.13 / 1.13 = 2,300.88
        "due_on": "2024-04-04", "credit_applied": 0, "exposure": 20_000, "closed_period": False,
    }
    assert answer["events"] == 4  # the sale, its id and invoice claims, the command record
    facts = facts_after(ledger, before)
    assert [topic_of(e) for e in facts] == ["Customer.SaleRecorded"]
    event = facts[0]
    assert (event.gross, event.vat, event.invoice_date, event.due_on) == (20_000, 2_301, "2024-03-05", "2024-04-04")
    assert event.lines == [{"sku": "X", "quantity": 2, "unit_price": 10_000, "tax_rate": "0.13",
                            "list_price": 10_000, "gross": 20_000, "vat": 2_301, "discount": "0"}]
    assert event.checks["price_tier"] is None and event.checks["credit_override"] is False
    assert event.policy == {"price_approval": "default", "credit": "default", "aging": "default",
                            "approvals": "default"}
    assert customer_state(ledger, "C1").receivables["S1"].open == 20_000


def test_vat_per_line_multi_line_and_zero_rate(ledger):
    _with_skus(ledger)
    before = ledger.max_position()
    result = applied(ledger, _multi_line_sale("S1"))["result"]
    assert (result["gross"], result["vat"]) == (36_554, 3_734)
    (event,) = facts_after(ledger, before)
    assert [(ln["gross"], ln["vat"], ln["tax_rate"]) for ln in event.lines] == [
        (30_000, 3_451, "0.13"), (5_000, 283, "0.06"), (1_554, 0, "0"),
    ]


def test_tax_rate_must_be_a_fraction_below_one(ledger):
    setup_company(ledger)
    for bad in ("1", "-0.1", "abc", "13%"):
        body = sale("S1")
        body["lines"][0]["tax_rate"] = bad
        refused(ledger, body, "invalid_field", field="lines[0].tax_rate")
    body = sale("S1")
    body["lines"][0]["tax_rate"] = "0.09"
    assert applied(ledger, body)["result"]["vat"] == 826  # 10,000 x 0.09 / 1.09 = 825.69


def test_vat_is_rounded_half_away_from_zero_once_per_line(ledger):
    setup_company(ledger)
    applied(ledger, cmd("SetListPrice", "sa", sku="T", unit_price=3, effective_from="2024-01-01",
                        approved_by="dir"))
    body = sale("S1")
    # at 20%: 3 x 0.2 / 1.2 = 0.5 -> 1 (half-even would give 0); 15 x 0.2 / 1.2 = 2.5 -> 3
    body["lines"] = [_line("T", 1, 3, "0.2"), _line("T", 1, 15, "0.2")]
    assert applied(ledger, body)["result"]["vat"] == 4


def test_the_invoice_date_is_the_business_date_in_company_time(ledger):
    setup_company(ledger)
    body = sale("S1")
    # 17:00 UTC on 5 March is 01:00 on 6 March in Asia/Shanghai
    body["occurred_at"] = body["reported_at"] = "2024-03-05T17:00:00+00:00"
    assert applied(ledger, body)["result"]["due_on"] == "2024-04-05"
    assert customer_state(ledger, "C1").receivables["S1"].invoice_date.isoformat() == "2024-03-06"


def test_in_one_batch_a_rejected_sale_leaves_nothing_for_the_next(ledger):
    setup_company(ledger, credit_limit=25_000)
    answers = ledger.execute([sale("S1", 2), sale("S2", 1), sale("S3", 1, 5_000, price_approved_by="dir")])
    assert [a["status"] for a in answers] == ["applied", "rejected", "applied"]
    assert (answers[1]["rule"], answers[1]["details"]["exposure"]) == ("credit_limit", 30_000)
    assert answers[2]["result"]["exposure"] == 25_000
    assert set(customer_state(ledger, "C1").receivables) == {"S1", "S3"}


# --- RecordSale: price approval (SPEC 2.1) -------------------------------------------------


def test_price_exactly_ten_percent_below_list_needs_and_accepts_a_manager(ledger):
    setup_company(ledger)
    refused(ledger, sale("S1", 1, 9_000), "price_approval", discount="0.1", required="manager",
            list_price=10_000, unit_price=9_000, manager_max_discount="0.1", policy_version="default")
    before = ledger.max_position()
    applied(ledger, sale("S1", 1, 9_000, price_approved_by="mgr"))
    (event,) = facts_after(ledger, before)
    assert (event.price_approved_by, event.checks["price_tier"], event.checks["largest_discount"]) == (
        "mgr", "manager", "0.1")


def test_price_just_above_ten_percent_below_list_needs_a_director(ledger):
    setup_company(ledger)
    refused(ledger, sale("S1", 1, 8_999, price_approved_by="mgr"), "price_approval",
            discount="0.1001", required="director", approver="mgr")
    refused(ledger, sale("S1", 1, 8_999), "price_approval", discount="0.1001", required="director")
    before = ledger.max_position()
    applied(ledger, sale("S1", 1, 8_999, price_approved_by="dir"))
    (event,) = facts_after(ledger, before)
    assert (event.price_approved_by, event.checks["price_tier"]) == ("dir", "director")


def test_a_director_approves_the_manager_tier_too_and_other_roles_approve_nothing(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1, 9_500, price_approved_by="dir"))
    # a role that may approve no price at all is not_authorized (SPEC 2.2, 5.2 order)
    for who in ("fin", "aud", "rep_user"):  # rep_user is R2's user: sell for R1
        refused(ledger, sale("S2", 1, 9_999, rep="R1", price_approved_by=who), "not_authorized",
                approver=who, field="price_approved_by", required=["director", "manager"])
    applied(ledger, sale("S2", 1, 9_999, price_approved_by="mgr2"))


def test_the_largest_line_discount_decides(ledger):
    setup_company(ledger)
    body = sale("S1", price_approved_by="mgr")
    body["lines"] = [_line("X", 1, 9_500), _line("X", 1, 8_500), _line("X", 1, 11_000)]
    refused(ledger, body, "price_approval", unit_price=8_500, discount="0.15", required="director")
    body = sale("S1", price_approved_by="dir")
    body["lines"] = [_line("X", 1, 9_500), _line("X", 1, 8_500), _line("X", 1, 11_000)]
    assert applied(ledger, body)["result"]["gross"] == 29_000


def test_no_approval_needed_at_or_above_list(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1, 10_000))
    applied(ledger, sale("S2", 1, 12_000))


# --- RecordSale: credit control (SPEC 2.1) -------------------------------------------------


def test_credit_limit_numbers_and_exposure_at_exactly_the_limit(ledger):
    setup_company(ledger, credit_limit=25_000)
    assert applied(ledger, sale("S1", 2))["result"]["exposure"] == 20_000
    refused(ledger, sale("S2", 1), "credit_limit", customer_id="C1", limit=25_000, exposure=30_000,
            shortfall=5_000, at_risk=False, doubtful=0)
    # the rejected sale left nothing: exactly at the limit is allowed
    assert applied(ledger, sale("S2", 1, 5_000, price_approved_by="dir"))["result"]["exposure"] == 25_000
    refused(ledger, sale("S3", 1, 1, price_approved_by="dir"), "credit_limit", exposure=25_001,
            shortfall=1)


def test_credit_override_by_finance_or_director_only(ledger):
    setup_company(ledger, credit_limit=25_000)
    applied(ledger, sale("S1", 2))
    for who in ("mgr", "sa", "aud"):
        refused(ledger, sale("S2", 1, credit_approved_by=who), "not_authorized",
                field="credit_approved_by", approver=who, required=["director", "finance"])
    before = ledger.max_position()
    answer = applied(ledger, sale("S2", 1, credit_approved_by="fin"))
    assert answer["result"]["exposure"] == 30_000
    (event,) = facts_after(ledger, before)
    assert event.credit_approved_by == "fin"
    assert (event.checks["credit_limit"], event.checks["exposure"], event.checks["shortfall"],
            event.checks["credit_override"]) == (25_000, 30_000, 5_000, True)
    answer = applied(ledger, sale("S3", 1, credit_approved_by="dir"))
    assert answer["result"]["exposure"] == 40_000


def test_doubtful_balance_more_than_90_days_past_due_needs_an_override(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1, day="2024-01-01"))  # due 2024-01-31
    # 2024-04-30 is 90 days past due: in collection, not doubtful
    applied(ledger, sale("S2", 1, day="2024-04-30"))
    # 2024-05-01 is 91 days past due: S1's 10,000 is doubtful (S2 is not due)
    refused(ledger, sale("S3", 1, day="2024-05-01"), "credit_limit", doubtful=10_000,
            at_risk=False, exposure=30_000, shortfall=0)
    applied(ledger, sale("S3", 1, day="2024-05-01", credit_approved_by="dir"))
    # once S1 is paid, nothing is doubtful any more
    applied(ledger, cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=10_000,
                        received_on="2024-05-02", allocations=[{"sale_id": "S1", "amount": 10_000}]))
    assert applied(ledger, sale("S4", 1, day="2024-05-02"))["result"]["exposure"] == 30_000


def test_at_risk_customer_sale_rejected_and_overridden(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1))
    applied(ledger, cmd("FlagCustomerAtRisk", "fin", customer_id="C1", at_risk=True, reason="lawsuit"))
    # at risk: all its open balances count as doubtful
    refused(ledger, sale("S2", 1), "credit_limit", at_risk=True, doubtful=10_000, shortfall=0)
    refused(ledger, sale("S2", 1, credit_approved_by="mgr"), "not_authorized", field="credit_approved_by")
    applied(ledger, sale("S2", 1, credit_approved_by="fin"))


def test_a_rejected_sale_does_not_count_in_the_next_exposure(ledger):
    setup_company(ledger, credit_limit=25_000)
    applied(ledger, sale("S1", 2))
    refused(ledger, sale("S2", 3), "credit_limit", exposure=50_000, shortfall=25_000)
    assert customer_state(ledger, "C1").open_total == 20_000
    assert applied(ledger, sale("S2", 1, 5_000, price_approved_by="dir"))["result"]["exposure"] == 25_000


def test_customer_credit_is_consumed_by_the_next_sale(ledger):
    setup_company(ledger, credit_limit=25_000)
    applied(ledger, sale("S1", 1))
    applied(ledger, cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=15_000,
                        received_on="2024-03-06"))
    assert customer_state(ledger, "C1").credit == 5_000
    # exposure = open 0 + 30,000 - credit 5,000 = 25,000: at the limit, allowed
    result = applied(ledger, sale("S2", 3))["result"]
    assert (result["credit_applied"], result["exposure"]) == (5_000, 25_000)
    state = customer_state(ledger, "C1")
    assert (state.credit, state.receivables["S2"].open, state.open_total) == (0, 25_000, 25_000)
    # the credit is gone: the next sale gets none and passes the limit
    refused(ledger, sale("S3", 1), "credit_limit", exposure=35_000, shortfall=10_000)


# --- RecordSale: authority and segregation -------------------------------------------------


def test_sale_actor_roles(ledger):
    setup_company(ledger)
    for who in ("fin", "mgr", "dir", "rep_user"):
        refused(ledger, sale("S1", actor=who), "not_authorized", actor=who,
                required=["sales_admin", "service"])
    refused(ledger, sale("S1", actor="aud"), "not_authorized", actor="aud", required=["OpenDispute"])
    applied(ledger, sale("S1", actor="sa"))
    applied(ledger, sale("S2", actor="svc"))


def test_segregation_approver_is_the_actor(ledger):
    setup_company(ledger, credit_limit=15_000)
    all_applied(ledger, [
        cmd("RegisterUser", "admin", user_id="sam", name="SAM", roles=["sales_admin", "manager"]),
        cmd("RegisterUser", "admin", user_id="saf", name="SAF", roles=["sales_admin", "finance"]),
    ])
    refused(ledger, sale("S1", 1, 9_500, actor="sam", price_approved_by="sam"),
            "segregation_of_duties", field="price_approved_by", user="sam")
    applied(ledger, sale("S1", 1, 9_500, actor="sam", price_approved_by="mgr"))
    refused(ledger, sale("S2", 1, actor="saf", credit_approved_by="saf"),
            "segregation_of_duties", field="credit_approved_by", user="saf")
    refused(ledger, sale("S2", 1, actor="saf"), "credit_limit", exposure=19_500, shortfall=4_500)
    applied(ledger, sale("S2", 1, actor="saf", credit_approved_by="fin"))


def test_segregation_approver_is_the_reps_own_user(ledger):
    setup_company(ledger, credit_limit=5_000)
    all_applied(ledger, [
        cmd("RegisterUser", "admin", user_id="boss", name="B", roles=["manager", "finance"]),
        cmd("RegisterRep", "sa", rep_id="R3", name="Boss as rep", region="east", user_id="boss"),
    ])
    refused(ledger, sale("S1", 1, 9_500, rep="R3", price_approved_by="boss"),
            "segregation_of_duties", field="price_approved_by", user="boss")
    refused(ledger, sale("S1", 1, 10_000, rep="R3", credit_approved_by="boss"),
            "segregation_of_duties", field="credit_approved_by", user="boss")
    # the same user approves a sale of another rep
    applied(ledger, sale("S1", 1, 9_500, rep="R2", price_approved_by="boss", credit_approved_by="boss"))
    applied(ledger, sale("S2", 1, 9_500, rep="R3", price_approved_by="mgr", credit_approved_by="fin"))


# --- RecordSale: order of rules (SPEC 5.2) -------------------------------------------------


def test_rule_order_when_several_rules_are_broken(ledger):
    setup_company(ledger, credit_limit=5_000)
    applied(ledger, cmd("RegisterUser", "admin", user_id="sam", name="SAM", roles=["sales_admin", "manager"]))
    applied(ledger, sale("S0", 1, 1_000, price_approved_by="dir"))
    # invalid_field beats unknown_reference (unknown customer, unknown actor)
    body = sale("S1", customer="C404", actor="ghost")
    body["lines"][0]["tax_rate"] = "2"
    refused(ledger, body, "invalid_field", field="lines[0].tax_rate")
    # unknown_reference beats the actor's bad role
    refused(ledger, sale("S1", customer="C404", actor="mgr"), "unknown_reference",
            field="customer_id", ref="C404")
    refused(ledger, sale("S1", rep="R404", actor="mgr"), "unknown_reference", field="rep_id")
    refused(ledger, sale("S1", actor="mgr", price_approved_by="ghost"), "unknown_reference",
            field="price_approved_by")
    # duplicate_id beats not_authorized
    refused(ledger, sale("S0", actor="mgr"), "duplicate_id", kind="sale", ref="S0")
    # not_authorized (actor) beats segregation, price and credit
    refused(ledger, sale("S1", 1, 5_000, actor="mgr", price_approved_by="mgr"), "not_authorized",
            field=None, actor="mgr")
    # not_authorized (the credit approver's fixed role) beats segregation and price
    refused(ledger, sale("S1", 1, 5_000, actor="sam", price_approved_by="sam", credit_approved_by="mgr"),
            "not_authorized", field="credit_approved_by")
    # segregation beats price_approval (sam cannot cover 50% anyway) and credit_limit
    refused(ledger, sale("S1", 1, 5_000, actor="sam", price_approved_by="sam"),
            "segregation_of_duties", field="price_approved_by")
    # price_approval beats credit_limit
    refused(ledger, sale("S1", 1, 5_000), "price_approval", required="director")
    # and credit_limit answers alone once the price is approved
    refused(ledger, sale("S1", 1, 5_000, price_approved_by="dir"), "credit_limit",
            limit=5_000, exposure=6_000, shortfall=1_000)


# --- RecordReturn (SPEC 2.2) ---------------------------------------------------------------


def test_return_reduces_open_and_records_vat(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 2))
    before = ledger.max_position()
    answer = applied(ledger, cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=5_000,
                                 approved_by="mgr", reason="damaged", **at("2024-03-08")))
    # 5,000 x 0.13 / 1.13 = 575.22
    assert answer["result"] == {"return_id": "RT1", "vat": 575, "to_open": 5_000,
                                "to_written_off": 0, "to_credit": 0, "commission_amount": 5_000,
                                "closed_period": False}
    (event,) = facts_after(ledger, before)
    assert topic_of(event) == "Customer.ReturnRecorded"
    assert (event.amount, event.vat, event.approved_by, event.reason) == (5_000, 575, "mgr", "damaged")
    state = customer_state(ledger, "C1")
    assert (state.receivables["S1"].open, state.credit) == (15_000, 0)


def test_return_exceeding_gross_less_earlier_returns(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1))
    applied(ledger, cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=4_000,
                        approved_by="mgr", reason="r"))
    refused(ledger, cmd("RecordReturn", "sa", return_id="RT2", sale_id="S1", amount=6_001,
                        approved_by="mgr", reason="r"),
            "exceeds_open_amount", sale_id="S1", amount=6_001, gross=10_000, returned=4_000,
            returnable=6_000)
    applied(ledger, cmd("RecordReturn", "sa", return_id="RT2", sale_id="S1", amount=6_000,
                        approved_by="dir", reason="r"))
    refused(ledger, cmd("RecordReturn", "sa", return_id="RT3", sale_id="S1", amount=1,
                        approved_by="mgr", reason="r"), "exceeds_open_amount", returnable=0)
    assert customer_state(ledger, "C1").receivables["S1"].open == 0


def test_return_part_above_open_becomes_customer_credit(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1))
    applied(ledger, cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=7_000,
                        received_on="2024-03-06"))
    result = applied(ledger, cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=5_000,
                                 approved_by="mgr", reason="r"))["result"]
    assert (result["to_open"], result["to_credit"]) == (3_000, 2_000)
    state = customer_state(ledger, "C1")
    assert (state.receivables["S1"].open, state.credit) == (0, 2_000)
    # the credit settles the next sale
    assert applied(ledger, sale("S2", 1))["result"]["credit_applied"] == 2_000
    assert customer_state(ledger, "C1").receivables["S2"].open == 8_000


def test_vat_of_a_full_return_of_a_multi_line_sale_equals_the_sales_vat(ledger):
    _with_skus(ledger)
    applied(ledger, _multi_line_sale("S1"))
    applied(ledger, _multi_line_sale("S2"))
    full = applied(ledger, cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=36_554,
                               approved_by="mgr", reason="all back"))["result"]
    assert full["vat"] == 3_734
    # in three parts: the parts' VAT adds up to the sale's VAT exactly
    vats = [
        applied(ledger, cmd("RecordReturn", "sa", return_id=f"RT2{i}", sale_id="S2", amount=amount,
                            approved_by="mgr", reason="part"))["result"]["vat"]
        for i, amount in enumerate((10_001, 20_000, 6_553))
    ]
    # Each line's cumulative returned VAT is rounded once; a return's VAT is the change in
    # that figure (SPEC 2.2: split across the lines in proportion to their gross):
    # after 10,001: X 10,001 x 30,000/36,554 x 0.13/1.13 = 944.27 -> 944,
    #               Y 10,001 x 5,000/36,554 x 0.06/1.06 = 77.43 -> 77; cumulative 1,021
    # after 30,001: X 2,832.61 -> 2,833, Y 232.28 -> 232; cumulative 3,065: 3,065 - 1,021 = 2,044
    # after 36,554: X 3,451.33 -> 3,451, Y 283.02 -> 283; cumulative 3,734: 3,734 - 3,065 = 669
    # (rounding each return on its own would give 1,888 + 155 = 2,043 and 619 + 51 = 670:
    # the same sum, other parts)
    assert vats == [1_021, 2_044, 669]
    assert sum(vats) == 3_734


def test_return_authority_and_segregation(ledger):
    setup_company(ledger)
    all_applied(ledger, [
        cmd("RegisterUser", "admin", user_id="sam", name="SAM", roles=["sales_admin", "manager"]),
        cmd("RegisterUser", "admin", user_id="boss", name="B", roles=["manager"]),
        cmd("RegisterRep", "sa", rep_id="R3", name="Boss as rep", region="east", user_id="boss"),
        sale("S1", 1), sale("S3", 1, rep="R3"),
    ])
    ret = dict(return_id="RT1", amount=1_000, reason="r")
    refused(ledger, cmd("RecordReturn", "fin", sale_id="S1", approved_by="mgr", **ret),
            "not_authorized", actor="fin")
    for who in ("fin", "sa", "rep_user"):
        refused(ledger, cmd("RecordReturn", "sa", sale_id="S1", approved_by=who, **ret),
                "not_authorized", field="approved_by", approver=who)
    refused(ledger, cmd("RecordReturn", "sam", sale_id="S1", approved_by="sam", **ret),
            "segregation_of_duties", user="sam")
    refused(ledger, cmd("RecordReturn", "sa", sale_id="S3", approved_by="boss", **ret),
            "segregation_of_duties", user="boss")
    refused(ledger, cmd("RecordReturn", "sa", sale_id="S404", approved_by="mgr", **ret),
            "unknown_reference", field="sale_id")
    refused(ledger, cmd("RecordReturn", "sa", sale_id="S1", approved_by="mgr", **{**ret, "amount": 0}),
            "invalid_field", field="amount")
    applied(ledger, cmd("RecordReturn", "sam", sale_id="S1", approved_by="mgr", **ret))
    refused(ledger, cmd("RecordReturn", "sa", sale_id="S3", approved_by="mgr", **ret),
            "duplicate_id", kind="return", ref="RT1")
    # order: duplicate id beats a bad actor role; unknown sale beats the duplicate
    refused(ledger, cmd("RecordReturn", "fin", sale_id="S3", approved_by="mgr", **ret), "duplicate_id")
    refused(ledger, cmd("RecordReturn", "fin", sale_id="S404", approved_by="mgr", **ret),
            "unknown_reference")
    # only RT1 is recorded
    state = customer_state(ledger, "C1")
    assert (state.receivables["S1"].open, state.receivables["S3"].open) == (9_000, 10_000)


def test_return_or_write_off_dated_before_the_sale_is_invalid(ledger):
    from support import at, cmd, rejected, setup_company, applied, sale

    setup_company(ledger)
    applied(ledger, sale("S-LATE", 2, day="2024-03-05"))
    answer = rejected(ledger, cmd("RecordReturn", "sa", return_id="RT-EARLY", sale_id="S-LATE",
                                  amount=5_000, approved_by="mgr", reason="damaged",
                                  **at("2024-03-04")), "invalid_field")
    assert answer["details"] == {"field": "occurred_at", "business_date": "2024-03-04",
                                 "invoice_date": "2024-03-05"}
    rejected(ledger, cmd("WriteOffReceivable", "fin", writeoff_id="WO-EARLY", sale_id="S-LATE",
                         amount=5_000, approved_by="dir", reason="insolvent", **at("2024-03-01")),
             "invalid_field")
    applied(ledger, cmd("RecordReturn", "sa", return_id="RT-SAME-DAY", sale_id="S-LATE",
                        amount=5_000, approved_by="mgr", reason="damaged", **at("2024-03-05")))
