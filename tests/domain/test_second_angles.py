"""A second angle on five rules that one test each used to pin (issue 8, point 6):

- a sale's VAT is rounded per line, then summed (SPEC 2.2): the general ledger and a
  property over random lines, against the rule worked by hand;
- credit exposure is net of the customer's credit (SPEC 2.1), credit from an overpayment
  and from a return of a paid sale;
- a trained rep at exactly 13,000.00 counts for promotion (SPEC 2.5), through a month
  close;
- the rank on the month's 1st decides the statement (SPEC 2.5, 5.3), in the open
  statement (the commission projection) and in the close, for a change effective on the
  2nd;
- the rep's own user may not decide about the rep (SPEC 1 segregation): fines, rank
  changes, payouts, and a director-tier price approval of the rep's own sale.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stores import scratch_database
from support import all_applied, applied, at, cmd, customer_state, facts_after, refused, sale, setup_company

from ledger.application import Ledger
from ledger.domain.money import yuan
from ledger.domain.model import Rep
from ledger.projections.commissions import CommissionsProjection, query_commission, query_ranks
from ledger.bootstrap import projector_over
from ledger.projections.general_ledger import GeneralLedger, postings, trial_balance


def _half_up(q: Fraction) -> int:
    """Half away from zero for q >= 0, worked without the ledger's round_fen."""
    assert q >= 0
    return math.floor(q + Fraction(1, 2))


# --- per-line VAT rounding (SPEC 2.2) ----------------------------------------------------


def test_two_lines_each_rounded_then_summed_in_the_sale_and_the_general_ledger(ledger):
    """Two lines of 10,000 at 13%: each 1,150.44 -> 1,150, the sale's VAT 2,300 (rounding
    the total 2,300.88 once would give 2,301). The general ledger books 2,300 VAT and
    17,700 revenue; a full return takes back exactly 2,300."""
    setup_company(ledger)
    body = sale("S1", 1, day="2024-03-05")
    body["lines"].append({"sku": "X", "quantity": 1, "unit_price": 10_000})
    before = ledger.max_position()
    result = applied(ledger, body)["result"]
    assert (result["gross"], result["vat"]) == (20_000, 2_300)
    (event,) = facts_after(ledger, before)
    assert [line["vat"] for line in event.lines] == [1_150, 1_150]
    assert event.vat == 2_300
    p = projector_over(ledger, [GeneralLedger()])
    p.catch_up()
    assert [(r["account"], r["debit"], r["credit"]) for r in postings(p, ref="S1")] == [
        ("receivables", 20_000, 0), ("revenue", 0, 17_700), ("vat_payable", 0, 2_300)]
    back = applied(ledger, cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=20_000,
                               approved_by="mgr", reason="all back", **at("2024-03-06")))
    assert back["result"]["vat"] == 2_300
    p.catch_up()
    assert not [a for a in trial_balance(p)["accounts"] if a["account"] == "vat_payable"
                and (a["debit"] or a["credit"])]


RATES = ("0.13", "0.09", "0.06", "0.2", "0.03", "0")


@pytest.fixture(scope="module")
def shop() -> Iterator[Ledger]:
    """One SQLite ledger for the property below: SKU T listed at 1 fen (no price approval
    needed), a credit limit that never binds."""
    with scratch_database("sqlite") as db, Ledger(db) as ledger:
        setup_company(ledger, credit_limit=10**13)
        applied(ledger, cmd("SetListPrice", "sa", sku="T", unit_price=1, effective_from="2024-01-01",
                            approved_by="dir"))
        yield ledger


_sales = iter(range(10**9))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 200_000), st.sampled_from(RATES)),
                min_size=1, max_size=5))
def test_property_a_sales_vat_is_the_sum_of_its_lines_each_rounded(shop, lines):
    body = sale(f"V{next(_sales)}", day="2024-03-05")
    body["lines"] = [{"sku": "T", "quantity": q, "unit_price": price, "tax_rate": rate}
                     for q, price, rate in lines]
    per_line = [_half_up(Fraction(q * price) * Fraction(rate) / (1 + Fraction(rate)))
                for q, price, rate in lines]
    result = applied(shop, body)["result"]
    assert result["gross"] == sum(q * price for q, price, _ in lines)
    assert result["vat"] == sum(per_line)


# --- exposure net of customer credit (SPEC 2.1) -----------------------------------------


def test_exposure_nets_credit_from_an_overpayment_and_from_a_return_of_a_paid_sale(ledger):
    setup_company(ledger, credit_limit=25_000)
    # 10,000 received with nothing open: all of it is customer credit
    applied(ledger, cmd("RecordPayment", "fin", payment_id="P0", customer_id="C1", amount=10_000,
                        received_on="2024-03-01", **at("2024-03-01")))
    assert customer_state(ledger, "C1").credit == 10_000
    # 30,000 on a 25,000 limit passes: exposure 0 + 30,000 - 10,000 = 20,000
    s1 = applied(ledger, sale("S1", 3, day="2024-03-05"))["result"]
    assert (s1["exposure"], s1["credit_applied"]) == (20_000, 10_000)
    # the credit is used up: 20,000 open + 10,000 = 30,000, 5,000 over
    refused(ledger, sale("S2", 1, day="2024-03-06"), "credit_limit", limit=25_000,
            exposure=30_000, shortfall=5_000)
    # pay everything, then a return of 10,000 of the paid S1 becomes credit again
    applied(ledger, cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=20_000,
                        received_on="2024-03-07", **at("2024-03-07")))
    applied(ledger, cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=10_000,
                        approved_by="mgr", reason="r", **at("2024-03-08")))
    state = customer_state(ledger, "C1")
    assert (state.open_total, state.credit) == (0, 10_000)
    # 30,000 again: exposure 0 + 30,000 - 10,000 = 20,000, within the limit, no override
    s3 = applied(ledger, sale("S3", 3, day="2024-03-09"))["result"]
    assert (s3["exposure"], s3["credit_applied"]) == (20_000, 10_000)


# --- a trained rep at exactly 13,000.00 counts for promotion (SPEC 2.5) ------------------


def _reps(ledger: Ledger, *reps: tuple[str, str, str | None]) -> None:
    all_applied(ledger, [
        cmd("RegisterRep", "sa", rep_id=rep_id, name=rep_id, region="east", rank=rank,
            **({"trainer_id": trainer} if trainer else {}))
        for rep_id, rank, trainer in reps])


def _sold(ledger: Ledger, sale_id: str, rep: str, amount_yuan: int | str, day: str,
          customer: str = "C1") -> None:
    applied(ledger, cmd("RecordSale", "sa", sale_id=sale_id, customer_id=customer, rep_id=rep,
                        invoice_no=f"INV-{sale_id}",
                        lines=[{"sku": "X", "quantity": 1, "unit_price": yuan(amount_yuan)}],
                        **at(day)))


def test_a_trainee_at_exactly_13000_counts_for_promotion_at_the_close(ledger):
    """T (SR) sells 15,000; trainees T1 17,000.00 and T2 exactly 13,000.00: 30,000 by two
    reps each at least 13,000 meets the SSE row. U's trainees sell 17,000.01 and
    12,999.99 (also 30,000): only one counts, so U reaches SE only."""
    setup_company(ledger, credit_limit=10**12)
    _reps(ledger, ("T", "SR", None), ("T1", "SR", "T"), ("T2", "SR", "T"),
          ("U", "SR", None), ("U1", "SR", "U"), ("U2", "SR", "U"))
    _sold(ledger, "T", "T", 15_000, "2024-03-02")
    _sold(ledger, "T1", "T1", 17_000, "2024-03-03", customer="C2")
    _sold(ledger, "T2", "T2", 13_000, "2024-03-03", customer="C2")
    _sold(ledger, "U", "U", 15_000, "2024-03-02")
    _sold(ledger, "U1", "U1", "17000.01", "2024-03-03", customer="C2")
    _sold(ledger, "U2", "U2", "12999.99", "2024-03-03", customer="C2")
    answer = applied(ledger, cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01")))
    assert answer["result"]["promotions"] == [
        {"rep_id": "T", "rank": "SSE", "previous_rank": "SR"},
        {"rep_id": "U", "rank": "SE", "previous_rank": "SR"}]
    t = ledger.app.repository.get(Rep.create_id("T"))
    assert (t.rank_on(date(2024, 3, 31)), t.rank_on(date(2024, 4, 1))) == ("SR", "SSE")
    p = projector_over(ledger, [CommissionsProjection()])
    p.catch_up()
    assert query_ranks(p, "T", on=date(2024, 4, 1))["rank"] == "SSE"


# --- the rank on the month's 1st decides the statement (SPEC 2.5, 5.3) -------------------


def test_a_rank_change_effective_on_the_2nd_waits_for_the_next_month(ledger):
    """R2 (SR) is made SM from 2024-03-02 and sells 20,000 on 03-05. March counts as SR
    (its rank on 1 March): commission 3,076.92, 晨星 1,500 (SR: 15,000 by the 20th), 开星
    1,000 (SR: 20,000): 5,576.92; as SM it would be 晨星 4,000 and no 开星 (SM: 30,000).
    April, with the same sale, counts as SM: 晨星 4,000, no 开星."""
    setup_company(ledger, credit_limit=10**12)
    applied(ledger, cmd("ChangeRank", "dir", rep_id="R2", rank="SM", reason="reorganisation",
                        effective_from="2024-03-02", **at("2024-02-20")))
    _sold(ledger, "S-mar", "R2", 20_000, "2024-03-05")
    p = projector_over(ledger, [CommissionsProjection()])
    p.catch_up()
    march = query_commission(p, "R2", "2024-03")  # open: the facts so far
    assert (march["closed"], march["rank"]) == (False, "SR")
    assert (march["commission"], march["morning_star_bonus"], march["opening_star_bonus"],
            march["total"]) == (307_692, 150_000, 100_000, 557_692)
    applied(ledger, cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01")))
    p.catch_up()
    closed = query_commission(p, "R2", "2024-03")
    assert (closed["closed"], closed["rank"], closed["total"]) == (True, "SR", 557_692)
    _sold(ledger, "S-apr", "R2", 20_000, "2024-04-05")
    p.catch_up()
    april = query_commission(p, "R2", "2024-04")
    assert april["rank"] == "SM"
    assert (april["morning_star_bonus"], april["opening_star_bonus"], april["total"]) == (
        400_000, 0, 307_692 + 400_000)


# --- the rep's own user may not decide about the rep (SPEC 1 segregation) ----------------


def _own_users(ledger: Ledger) -> None:
    """mrep (manager), drep (director) and frep (finance) are the own users of R3, R4, R5."""
    setup_company(ledger)
    all_applied(ledger, [
        cmd("RegisterUser", "admin", user_id="mrep", name="M", roles=["manager"]),
        cmd("RegisterUser", "admin", user_id="drep", name="D", roles=["director"]),
        cmd("RegisterUser", "admin", user_id="frep", name="F", roles=["finance"]),
        cmd("RegisterRep", "sa", rep_id="R3", name="R3", region="east", user_id="mrep"),
        cmd("RegisterRep", "sa", rep_id="R4", name="R4", region="east", user_id="drep"),
        cmd("RegisterRep", "sa", rep_id="R5", name="R5", region="east", user_id="frep"),
    ])


def test_the_reps_own_user_may_not_approve_a_fine_of_the_rep(ledger):
    _own_users(ledger)
    fine = dict(rep_id="R3", amount=5_000, reason="late report", **at("2024-03-05"))
    refused(ledger, cmd("FineRep", "fin", fine_id="F1", approved_by="mrep", **fine),
            "segregation_of_duties", field="approved_by", user="mrep")
    # nor issue one on the rep's behalf
    refused(ledger, cmd("FineRep", "frep", fine_id="F1", rep_id="R5", amount=5_000,
                        reason="late report", approved_by="mgr", **at("2024-03-05")),
            "segregation_of_duties", field="actor", user="frep")
    applied(ledger, cmd("FineRep", "fin", fine_id="F1", approved_by="mgr", **fine))


def test_the_reps_own_user_may_not_change_the_reps_rank_nor_pay_the_rep(ledger):
    _own_users(ledger)
    refused(ledger, cmd("ChangeRank", "drep", rep_id="R4", rank="SM", reason="self",
                        **at("2024-03-05")), "segregation_of_duties", field="actor", user="drep")
    applied(ledger, cmd("ChangeRank", "drep", rep_id="R3", rank="SE", reason="merit",
                        **at("2024-03-05")))
    # segregation comes before the month's state (SPEC 5.2 order): March is not closed
    refused(ledger, cmd("PayCommission", "frep", payout_id="PO1", rep_id="R5", period="2024-03",
                        amount=1, paid_on="2024-03-05", **at("2024-03-05")),
            "segregation_of_duties", field="actor", user="frep")
    refused(ledger, cmd("PayCommission", "fin", payout_id="PO1", rep_id="R5", period="2024-03",
                        amount=1, paid_on="2024-03-05", **at("2024-03-05")), "invalid_state")


def test_the_reps_own_user_may_not_approve_the_price_of_the_reps_sale_whatever_the_tier(ledger):
    """drep is a director: the tier would allow 15% below list, but the sale is their own
    rep's (segregation comes before price_approval, SPEC 5.2); mrep's approval of their own
    rep's sale answers segregation too, not the manager tier's price_approval."""
    _own_users(ledger)
    deep = dict(quantity=1, unit_price=8_500, day="2024-03-05")
    refused(ledger, sale("S1", rep="R4", price_approved_by="drep", **deep),
            "segregation_of_duties", field="price_approved_by", user="drep")
    refused(ledger, sale("S1", rep="R3", price_approved_by="mrep", **deep),
            "segregation_of_duties", field="price_approved_by", user="mrep")
    # the same approvers on another rep's sale: the tiers apply
    applied(ledger, sale("S1", rep="R3", price_approved_by="drep", **deep))
    refused(ledger, sale("S2", rep="R4", price_approved_by="mrep", **deep), "price_approval")
    assert set(customer_state(ledger, "C1").receivables) == {"S1"}
