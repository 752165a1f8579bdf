"""RegisterUser, RegisterCustomer, SetCreditTerms, FlagCustomerAtRisk, SetListPrice,
RegisterRep: each rule of SPEC 5.2 (and 2.1) with a passing and a failing case.

Every rejection is checked to store nothing: the log does not move, and a later valid
command behaves as if the rejected one had never been sent."""

from __future__ import annotations

from support import (
    all_applied, applied, at, cmd, customer_state, facts_after, refused, sale, setup_company,
    topic_of,
)

# --- RegisterUser ---------------------------------------------------------------------------


def test_register_user_by_admin_then_the_user_acts_in_that_role(ledger):
    before = ledger.max_position()
    answer = applied(ledger, cmd("RegisterUser", "admin", user_id="f1", name="F", roles=["finance"]))
    assert answer["result"] == {"user_id": "f1"}
    assert [topic_of(e) for e in facts_after(ledger, before)] == ["User.Registered"]
    # the new user holds finance: it may allocate a budget, and nothing else of admin's
    applied(ledger, cmd("RegisterUser", "admin", user_id="d1", name="D", roles=["director"]))
    applied(ledger, cmd("AllocateBudget", "f1", budget_id="B", department="mkt",
                        category="advertising", period="2024", amount=1_000, approved_by="d1"))
    refused(ledger, cmd("RegisterUser", "f1", user_id="x", name="X", roles=["finance"]),
            "not_authorized", actor="f1", required=["admin"])


def test_register_user_roles_must_be_known_and_non_empty(ledger):
    refused(ledger, cmd("RegisterUser", "admin", user_id="u", name="U", roles=["finance", "boss"]),
            "invalid_field", field="roles")
    refused(ledger, cmd("RegisterUser", "admin", user_id="u", name="U", roles=[]),
            "invalid_field", field="roles")
    # neither rejection registered "u": registering it now works
    applied(ledger, cmd("RegisterUser", "admin", user_id="u", name="U", roles=["auditor", "manager"]))


def test_register_user_only_admin_may(ledger):
    setup_company(ledger)
    for actor in ("dir", "fin", "sa", "aud"):
        refused(ledger, cmd("RegisterUser", actor, user_id="n", name="N", roles=["manager"]),
                "not_authorized", actor=actor)
    applied(ledger, cmd("RegisterUser", "admin", user_id="n", name="N", roles=["manager"]))


def test_register_user_duplicate_and_the_builtin_admin(ledger):
    applied(ledger, cmd("RegisterUser", "admin", user_id="u", name="U", roles=["finance"]))
    refused(ledger, cmd("RegisterUser", "admin", user_id="u", name="U2", roles=["director"]),
            "duplicate_id", kind="user", ref="u")
    refused(ledger, cmd("RegisterUser", "admin", user_id="admin", name="A", roles=["admin"]),
            "duplicate_id", kind="user", ref="admin")
    # the duplicate did not give "u" the director role: "u" still cannot approve a budget
    applied(ledger, cmd("RegisterUser", "admin", user_id="d", name="D", roles=["director"]))
    refused(ledger, cmd("AllocateBudget", "u", budget_id="B", department="mkt", category="office",
                        period="2024", amount=1, approved_by="u"), "not_authorized",
            field="approved_by")


def test_register_user_order_unknown_actor_before_duplicate_and_role(ledger):
    applied(ledger, cmd("RegisterUser", "admin", user_id="u", name="U", roles=["finance"]))
    # unknown actor (unknown_reference) beats duplicate user id and the actor's role
    refused(ledger, cmd("RegisterUser", "ghost", user_id="u", name="U", roles=["finance"]),
            "unknown_reference", field="actor", ref="ghost")
    # duplicate id beats the wrong role
    refused(ledger, cmd("RegisterUser", "u", user_id="u", name="U", roles=["finance"]),
            "duplicate_id", ref="u")
    # a bad role name (invalid_field) beats everything
    refused(ledger, cmd("RegisterUser", "ghost", user_id="u", name="U", roles=["king"]),
            "invalid_field", field="roles")


# --- RegisterCustomer ----------------------------------------------------------------------


def test_register_customer_with_default_terms_sets_the_due_date(ledger):
    setup_company(ledger)
    answer = applied(ledger, cmd("RegisterCustomer", "fin", customer_id="C9", name="Nine",
                                 credit_limit=50_000, region="north"))
    assert answer["result"] == {"customer_id": "C9", "payment_terms_days": 30}
    due = applied(ledger, sale("S1", 2, customer="C9", day="2024-03-05"))["result"]
    assert due["due_on"] == "2024-04-04"
    assert due["gross"] == 20_000 and due["exposure"] == 20_000


def test_register_customer_rules(ledger):
    setup_company(ledger)
    body = dict(customer_id="C9", name="Nine", credit_limit=50_000, payment_terms_days=45,
                region="north")
    refused(ledger, cmd("RegisterCustomer", "mgr", **body), "not_authorized", actor="mgr")
    refused(ledger, cmd("RegisterCustomer", "svc", **body), "not_authorized", actor="svc")
    refused(ledger, cmd("RegisterCustomer", "sa", **{**body, "credit_limit": -1}), "invalid_field",
            field="credit_limit")
    refused(ledger, cmd("RegisterCustomer", "sa", **{**body, "customer_id": "C1"}), "duplicate_id",
            kind="customer", ref="C1")
    refused(ledger, cmd("RegisterCustomer", "nobody", **body), "unknown_reference", field="actor")
    applied(ledger, cmd("RegisterCustomer", "sa", **body))
    assert applied(ledger, sale("S1", customer="C9", day="2024-03-05"))["result"]["due_on"] == "2024-04-19"


# --- SetCreditTerms ------------------------------------------------------------------------


def test_set_credit_terms_by_finance_approved_by_finance_or_director(ledger):
    setup_company(ledger)
    before = ledger.max_position()
    all_applied(ledger, [
        cmd("SetCreditTerms", "fin", customer_id="C1", credit_limit=30_000, payment_terms_days=60,
            approved_by="fin2", **at("2024-03-01")),
        cmd("SetCreditTerms", "fin", customer_id="C2", credit_limit=40_000, payment_terms_days=10,
            approved_by="dir", **at("2024-03-01")),
    ])
    facts = facts_after(ledger, before)
    assert [topic_of(e) for e in facts] == ["Customer.CreditTermsSet"] * 2
    assert (facts[0].approved_by, facts[0].credit_limit, facts[0].payment_terms_days,
            facts[0].effective_on) == ("fin2", 30_000, 60, "2024-03-01")
    assert applied(ledger, sale("S1", customer="C1", day="2024-03-05"))["result"]["due_on"] == "2024-05-04"
    assert applied(ledger, sale("S2", customer="C2", day="2024-03-05"))["result"]["due_on"] == "2024-03-15"


def test_set_credit_terms_authority_and_segregation(ledger):
    setup_company(ledger)
    applied(ledger, cmd("RegisterUser", "admin", user_id="fd", name="FD", roles=["finance", "director"]))
    terms = dict(customer_id="C1", credit_limit=5_000, payment_terms_days=7)
    refused(ledger, cmd("SetCreditTerms", "sa", approved_by="dir", **terms), "not_authorized", actor="sa")
    refused(ledger, cmd("SetCreditTerms", "dir", approved_by="fin", **terms), "not_authorized",
            actor="dir", required=["finance"])
    refused(ledger, cmd("SetCreditTerms", "fin", approved_by="mgr", **terms), "not_authorized",
            field="approved_by", approver="mgr", required=["director", "finance"])
    refused(ledger, cmd("SetCreditTerms", "fin", approved_by="fin", **terms),
            "segregation_of_duties", user="fin")
    refused(ledger, cmd("SetCreditTerms", "fd", approved_by="fd", **terms),
            "segregation_of_duties", user="fd")
    refused(ledger, cmd("SetCreditTerms", "fin", approved_by="dir", **{**terms, "customer_id": "C404"}),
            "unknown_reference", field="customer_id", ref="C404")
    refused(ledger, cmd("SetCreditTerms", "fin", approved_by="ghost", **terms),
            "unknown_reference", field="approved_by", ref="ghost")
    refused(ledger, cmd("SetCreditTerms", "fin", approved_by="dir", **{**terms, "payment_terms_days": -1}),
            "invalid_field", field="payment_terms_days")
    refused(ledger, cmd("SetCreditTerms", "fin", approved_by="dir", **{**terms, "credit_limit": 1.5}),
            "invalid_field", field="credit_limit")
    # none of them changed C1's terms: still 30 days, limit 10,000,000
    result = applied(ledger, sale("S1", 5, customer="C1", day="2024-03-05"))["result"]
    assert result["due_on"] == "2024-04-04"
    assert result["exposure"] == 50_000


def test_terms_in_force_on_the_sales_date_decide_the_due_date_and_the_limit(ledger):
    setup_company(ledger)
    applied(ledger, cmd("SetCreditTerms", "fin", customer_id="C1", credit_limit=25_000,
                        payment_terms_days=60, approved_by="dir", **at("2024-03-10")))
    # dated before the change (recorded after it): old terms, 30 days and the old limit
    early = applied(ledger, sale("S1", 2, day="2024-03-09"))["result"]
    assert early["due_on"] == "2024-04-08"
    # on the change's date the new 25,000 limit holds ...
    refused(ledger, sale("S2", 1, day="2024-03-10"), "credit_limit",
            limit=25_000, exposure=30_000, shortfall=5_000)
    # ... and the new 60 days give the due date
    over = applied(ledger, sale("S2", 1, day="2024-03-10", credit_approved_by="fin"))["result"]
    assert (over["due_on"], over["exposure"]) == ("2024-05-09", 30_000)
    # the old limit still holds for a sale dated before the change
    assert applied(ledger, sale("S3", 1, day="2024-03-09"))["result"]["exposure"] == 40_000


# --- FlagCustomerAtRisk --------------------------------------------------------------------


def test_flag_at_risk_then_a_sale_needs_a_credit_override(ledger):
    setup_company(ledger)
    before = ledger.max_position()
    applied(ledger, cmd("FlagCustomerAtRisk", "mgr", customer_id="C1", at_risk=True,
                        reason="supplier reports late payments"))
    facts = facts_after(ledger, before)
    assert [topic_of(e) for e in facts] == ["Customer.AtRiskFlagged"]
    assert facts[0].at_risk is True and facts[0].reason == "supplier reports late payments"
    refused(ledger, sale("S1"), "credit_limit", at_risk=True, limit=10_000_000, exposure=10_000,
            shortfall=0)
    ok = applied(ledger, sale("S1", credit_approved_by="fin"))
    assert ok["result"]["exposure"] == 10_000
    # clearing the flag: the next sale needs no override
    applied(ledger, cmd("FlagCustomerAtRisk", "fin", customer_id="C1", at_risk=False, reason="paid up"))
    assert applied(ledger, sale("S2"))["result"]["exposure"] == 20_000
    # another customer was never affected
    applied(ledger, sale("S3", customer="C2"))


def test_flag_at_risk_rules(ledger):
    setup_company(ledger)
    flag = dict(customer_id="C1", at_risk=True, reason="r")
    for actor in ("sa", "aud", "svc"):
        refused(ledger, cmd("FlagCustomerAtRisk", actor, **flag), "not_authorized", actor=actor)
    refused(ledger, cmd("FlagCustomerAtRisk", "dir", **{**flag, "customer_id": "C9"}),
            "unknown_reference", field="customer_id")
    refused(ledger, cmd("FlagCustomerAtRisk", "dir", **{**flag, "reason": ""}), "invalid_field",
            field="reason")
    refused(ledger, cmd("FlagCustomerAtRisk", "dir", **{**flag, "at_risk": "yes"}), "invalid_field",
            field="at_risk")
    # none of them flagged C1
    assert customer_state(ledger, "C1").at_risk is False
    applied(ledger, sale("S1"))


# --- SetListPrice --------------------------------------------------------------------------


def test_set_list_price_director_approval_and_price_in_force_by_date(ledger):
    setup_company(ledger)
    applied(ledger, cmd("SetListPrice", "fin", sku="X", unit_price=12_500,
                        effective_from="2024-04-01", approved_by="dir2"))
    # before 1 April the old list (10,000) applies: 10,000 is no discount
    assert applied(ledger, sale("S1", 1, 10_000, day="2024-03-31"))["result"]["gross"] == 10_000
    # from 1 April the new list (12,500) applies: 10,000 is 20% below and needs a director
    refused(ledger, sale("S2", 1, 10_000, day="2024-04-01"), "price_approval",
            list_price=12_500, unit_price=10_000, discount="0.2", required="director")
    applied(ledger, sale("S2", 1, 10_000, day="2024-04-01", price_approved_by="dir"))


def test_set_list_price_rules(ledger):
    setup_company(ledger)
    applied(ledger, cmd("RegisterUser", "admin", user_id="fd", name="FD", roles=["finance", "director"]))
    price = dict(sku="X", unit_price=5_000, effective_from="2024-03-01")
    refused(ledger, cmd("SetListPrice", "mgr", approved_by="dir", **price), "not_authorized", actor="mgr")
    refused(ledger, cmd("SetListPrice", "sa", approved_by="mgr", **price), "not_authorized",
            field="approved_by", required=["director"])
    refused(ledger, cmd("SetListPrice", "sa", approved_by="fin", **price), "not_authorized",
            field="approved_by")
    refused(ledger, cmd("SetListPrice", "fd", approved_by="fd", **price), "segregation_of_duties",
            user="fd")
    refused(ledger, cmd("SetListPrice", "sa", approved_by="ghost", **price), "unknown_reference",
            field="approved_by", ref="ghost")
    refused(ledger, cmd("SetListPrice", "sa", approved_by="dir", **{**price, "unit_price": 0}),
            "invalid_field", field="unit_price")
    refused(ledger, cmd("SetListPrice", "sa", approved_by="dir", **{**price, "effective_from": "1 March"}),
            "invalid_field", field="effective_from")
    # none took effect: on 5 March the list is still 10,000, so 9,000 needs a manager
    refused(ledger, sale("S1", 1, 9_000), "price_approval", list_price=10_000, required="manager")


def test_a_sku_without_a_price_in_force_is_an_unknown_reference(ledger):
    setup_company(ledger)
    refused(ledger, sale("S1", day="2023-12-31"), "unknown_reference", kind="sku", ref="X",
            field="lines[0].sku")
    body = sale("S2")
    body["lines"][0]["sku"] = "NOPE"
    refused(ledger, body, "unknown_reference", kind="sku", ref="NOPE")


# --- RegisterRep ---------------------------------------------------------------------------


def test_register_rep_with_trainer_user_and_rank(ledger):
    setup_company(ledger)
    before = ledger.max_position()
    answer = applied(ledger, cmd("RegisterRep", "fin", rep_id="R3", name="Three", rank="SE",
                                 trainer_id="R2", region="east", user_id="mgr"))
    assert answer["result"] == {"rep_id": "R3", "rank": "SE"}
    facts = facts_after(ledger, before)
    assert [topic_of(e) for e in facts] == ["Rep.Registered"]
    assert (facts[0].trainer_id, facts[0].user_id, facts[0].rank) == ("R2", "mgr", "SE")
    # default rank SR
    assert applied(ledger, cmd("RegisterRep", "sa", rep_id="R4", name="Four",
                               region="east"))["result"]["rank"] == "SR"


def test_register_rep_rules(ledger):
    setup_company(ledger)
    rep = dict(rep_id="R3", name="Three", region="east")
    refused(ledger, cmd("RegisterRep", "sa", trainer_id="R99", **rep), "unknown_reference",
            field="trainer_id", ref="R99")
    refused(ledger, cmd("RegisterRep", "sa", rank="XX", **rep), "invalid_field", field="rank")
    refused(ledger, cmd("RegisterRep", "sa", user_id="ghost", **rep), "unknown_reference",
            field="user_id", ref="ghost")
    refused(ledger, cmd("RegisterRep", "mgr", **rep), "not_authorized", actor="mgr")
    refused(ledger, cmd("RegisterRep", "sa", **{**rep, "rep_id": "R1"}), "duplicate_id", ref="R1")
    # order: unknown trainer beats duplicate id and the wrong role; bad rank beats all
    refused(ledger, cmd("RegisterRep", "mgr", trainer_id="R99", **{**rep, "rep_id": "R1"}),
            "unknown_reference", field="trainer_id")
    refused(ledger, cmd("RegisterRep", "mgr", rank="XX", trainer_id="R99", **rep), "invalid_field",
            field="rank")
    # R3 was never registered: a sale by R3 is an unknown reference until it is
    refused(ledger, sale("S1", rep="R3"), "unknown_reference", field="rep_id", ref="R3")
    applied(ledger, cmd("RegisterRep", "sa", trainer_id="R1", **rep))
    applied(ledger, sale("S1", rep="R3"))


def test_an_auditor_writes_nothing_but_disputes_whatever_other_roles_they_hold(ledger):
    """SPEC 5.4: auditors read everything and write nothing but OpenDispute. The rule is
    the domain's, so it holds for `ledger import` as for HTTP, even for a user who also
    holds a role that could otherwise issue the command."""
    from support import applied, at, cmd, rejected, sale, setup_company

    setup_company(ledger)
    applied(ledger, cmd("RegisterUser", "admin", user_id="aud-sa", name="Aud SA",
                        roles=["auditor", "sales_admin"]))
    answer = rejected(ledger, sale("S1", 1, actor="aud-sa"), "not_authorized")
    assert answer["details"]["required"] == ["OpenDispute"]
    applied(ledger, cmd("OpenDispute", "aud-sa", dispute_id="D1", entity="C1",
                        claim="credit limit too high?", **at("2024-03-06")))
