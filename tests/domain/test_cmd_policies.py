"""AdoptPolicy (SPEC 1 Policy versions, 5.2): a new version changes the decisions dated
on or after its effective date, earlier-dated decisions keep the old one, and each
decision event records the version it was taken under."""

from __future__ import annotations

from ledger.domain.policies import BUDGET_CATEGORIES
from support import (
    all_applied, applied, at, budget_state, cmd, facts_after, refused, sale, setup_company,
    topic_of,
)

PRICE_V2 = {"manager_max_discount": "0.15", "default_tax_rate": "0.13"}


def adopt(policy: str, version: str, effective_from: str, values: dict, actor: str = "dir"):
    return cmd("AdoptPolicy", actor, policy=policy, version=version, effective_from=effective_from,
               values=values, **at("2024-03-01"))


def test_price_policy_version_changes_later_dated_sales_only(ledger):
    setup_company(ledger)
    applied(ledger, sale("S0", 1, 9_000, day="2024-03-20", price_approved_by="mgr"))
    before = ledger.max_position()
    answer = applied(ledger, adopt("price_approval", "p2", "2024-04-01", PRICE_V2))
    assert answer["result"] == {"policy": "price_approval", "version": "p2", "effective_from": "2024-04-01"}
    opened, event = facts_after(ledger, before)  # the first adoption opens the policy book
    assert (topic_of(opened), topic_of(event)) == ("PolicyBook.Opened", "PolicyBook.PolicyAdopted")
    assert (event.policy, event.version, event.effective_from, event.values) == (
        "price_approval", "p2", "2024-04-01", PRICE_V2)
    # from 1 April a manager approves 15% below list
    before = ledger.max_position()
    applied(ledger, sale("S1", 1, 8_500, day="2024-04-01", price_approved_by="mgr"))
    (event,) = facts_after(ledger, before)
    assert event.policy["price_approval"] == "p2"
    assert (event.checks["price_tier"], event.checks["largest_discount"]) == ("manager", "0.15")
    refused(ledger, sale("S2", 1, 8_499, day="2024-04-01", price_approved_by="mgr"), "price_approval",
            discount="0.1501", manager_max_discount="0.15", policy_version="p2", required="director")
    # a sale dated before 1 April, recorded now, keeps the default version
    refused(ledger, sale("S3", 1, 8_500, day="2024-03-31", price_approved_by="mgr"), "price_approval",
            manager_max_discount="0.1", policy_version="default", required="director")
    before = ledger.max_position()
    applied(ledger, sale("S3", 1, 9_000, day="2024-03-31", price_approved_by="mgr"))
    (event,) = facts_after(ledger, before)
    assert event.policy["price_approval"] == "default"


def test_the_version_in_force_is_chosen_by_business_date_not_adoption_order(ledger):
    setup_company(ledger)
    all_applied(ledger, [
        adopt("price_approval", "p3", "2024-06-01", {**PRICE_V2, "manager_max_discount": "0.05"}),
        adopt("price_approval", "p2", "2024-04-01", PRICE_V2),  # adopted later, effective earlier
    ])
    applied(ledger, sale("S1", 1, 8_500, day="2024-05-31", price_approved_by="mgr"))
    refused(ledger, sale("S2", 1, 9_400, day="2024-06-01", price_approved_by="mgr"), "price_approval",
            policy_version="p3", manager_max_discount="0.05", discount="0.06")
    applied(ledger, sale("S2", 1, 9_500, day="2024-06-01", price_approved_by="mgr"))


def test_default_tax_rate_from_the_policy_in_force(ledger):
    setup_company(ledger)
    applied(ledger, adopt("price_approval", "vat9", "2024-04-01",
                          {"manager_max_discount": "0.1", "default_tax_rate": "0.09"}))
    assert applied(ledger, sale("S1", 1, day="2024-03-31"))["result"]["vat"] == 1_150  # 13%
    assert applied(ledger, sale("S2", 1, day="2024-04-01"))["result"]["vat"] == 826  # 9%


def test_budget_policy_spend_tolerance_and_activity_notice(ledger):
    setup_company(ledger)
    budget_values = {"spend_tolerance": "0.2", "activity_notice_days": 10,
                     "categories": list(BUDGET_CATEGORIES)}
    all_applied(ledger, [
        adopt("budget", "b2", "2024-03-01", budget_values),
        cmd("AllocateBudget", "fin", budget_id="B1", department="m", category="promotion",
            period="2024", amount=1_000_000, approved_by="dir", **at("2024-01-02")),
        cmd("SubmitExpense", "sa", expense_id="E1", budget_id="B1", amount=60_000, description="d",
            planned_on="2024-03-10", **at("2024-01-10")),
        cmd("ApproveExpense", "mgr", expense_id="E1", **at("2024-01-11")),
        # an activity 15 days ahead: late under the default (30), on time under b2 (10)
        cmd("SubmitExpense", "sa", expense_id="A1", budget_id="B1", amount=1_000, description="fair",
            planned_on="2024-03-20", activity=True, **at("2024-03-05")),
        cmd("SubmitExpense", "sa", expense_id="A2", budget_id="B1", amount=1_000, description="fair",
            planned_on="2024-02-20", activity=True, **at("2024-02-05")),
    ])
    spend = dict(expense_id="E1", invoice_no="FP1", amount=72_000)
    # paid in February: the default 10% holds
    refused(ledger, cmd("RecordExpenseSpend", "fin", paid_on="2024-02-29", **spend, **at("2024-03-02")),
            "spend_over_approval", tolerance="0.1", ceiling=66_000)
    before = ledger.max_position()
    applied(ledger, cmd("RecordExpenseSpend", "fin", paid_on="2024-03-01", **spend, **at("2024-03-02")))
    (event,) = facts_after(ledger, before)
    assert event.policy == {"budget": "b2"}
    assert budget_state(ledger, "B1").figures.spent == 72_000
    # approval dated in March uses b2: 15 days' notice is enough for a manager
    before = ledger.max_position()
    assert applied(ledger, cmd("ApproveExpense", "mgr", expense_id="A1",
                               **at("2024-03-06")))["result"]["late_activity"] is False
    (event,) = facts_after(ledger, before)
    assert event.policy == {"budget": "b2"}
    refused(ledger, cmd("ApproveExpense", "mgr", expense_id="A2", **at("2024-02-06")),
            "late_activity_filing", notice_days=15, required_days=30)


def test_credit_policy_default_terms_for_new_customers(ledger):
    setup_company(ledger)
    applied(ledger, adopt("credit", "c45", "2024-03-01", {"payment_terms_days": 45}))
    body = dict(name="N", credit_limit=100_000, region="r")
    old = applied(ledger, cmd("RegisterCustomer", "sa", customer_id="OLD", **body, **at("2024-02-28")))
    new = applied(ledger, cmd("RegisterCustomer", "sa", customer_id="NEW", **body, **at("2024-03-01")))
    assert old["result"]["payment_terms_days"] == 30
    assert new["result"]["payment_terms_days"] == 45
    assert applied(ledger, sale("S1", customer="NEW", day="2024-03-05"))["result"]["due_on"] == "2024-04-19"


def test_aging_policy_changes_what_is_doubtful(ledger):
    setup_company(ledger)
    applied(ledger, sale("S1", 1, day="2024-01-01"))  # due 2024-01-31
    applied(ledger, adopt("aging", "a30", "2024-03-15", {
        "in_collection_max_days": 30, "at_risk_is_doubtful": True,
        "bucket_limits": [30, 60, 90, 180, 365], "dso_window_days": 90}))
    # 2024-03-14: 43 days past due, default 90 → in collection
    applied(ledger, sale("S2", 1, day="2024-03-14"))
    # 2024-03-15: 44 days past due, a30 → doubtful
    refused(ledger, sale("S3", 1, day="2024-03-15"), "credit_limit", doubtful=10_000)
    before = ledger.max_position()
    applied(ledger, sale("S3", 1, day="2024-03-15", credit_approved_by="fin"))
    (event,) = facts_after(ledger, before)
    assert event.policy["aging"] == "a30"
    assert event.checks["doubtful"] == 10_000


def test_adopt_policy_rules(ledger):
    setup_company(ledger)
    for who in ("fin", "mgr", "admin"):
        refused(ledger, adopt("price_approval", "p2", "2024-04-01", PRICE_V2, actor=who),
                "not_authorized", actor=who, required=["director"])
    refused(ledger, adopt("pricing", "p2", "2024-04-01", PRICE_V2), "invalid_field", field="policy")
    refused(ledger, adopt("price_approval", "p2", "2024-04-01", {"manager_max_discount": "0.15"}),
            "invalid_field", field="values", missing=["default_tax_rate"])
    refused(ledger, adopt("price_approval", "p2", "2024-04-01", {**PRICE_V2, "extra": 1}),
            "invalid_field", field="values", extra=["extra"])
    refused(ledger, adopt("price_approval", "p2", "2024-04-01", {**PRICE_V2, "manager_max_discount": "1.5"}),
            "invalid_field", field="values.manager_max_discount")
    refused(ledger, adopt("credit", "c2", "2024-04-01", {"payment_terms_days": -1}),
            "invalid_field", field="values.payment_terms_days")
    refused(ledger, adopt("price_approval", "default", "2024-04-01", PRICE_V2), "duplicate_id")
    # invalid_field beats an unknown actor; an unknown actor beats the wrong role
    refused(ledger, adopt("pricing", "p2", "2024-04-01", PRICE_V2, actor="ghost"), "invalid_field")
    refused(ledger, adopt("price_approval", "p2", "2024-04-01", PRICE_V2, actor="ghost"),
            "unknown_reference", field="actor")
    # nothing was adopted: on 1 April a manager still stops at 10%
    refused(ledger, sale("S1", 1, 8_500, day="2024-04-01", price_approved_by="mgr"), "price_approval",
            policy_version="default")
    applied(ledger, adopt("price_approval", "p2", "2024-04-01", PRICE_V2))
    refused(ledger, adopt("price_approval", "p2", "2024-05-01", PRICE_V2), "duplicate_id", ref="p2")
    # duplicate_id beats not_authorized
    refused(ledger, adopt("price_approval", "p2", "2024-05-01", PRICE_V2, actor="fin"), "duplicate_id")
    applied(ledger, sale("S1", 1, 8_500, day="2024-04-01", price_approved_by="mgr"))


def test_approver_roles_are_a_policy_too(ledger):
    """The approver roles of returns, fines, write-offs and budgets are defaults (SPEC,
    introduction): an adopted ``approvals`` version changes who may approve, from its date."""
    from ledger.domain.policies import DEFAULT_POLICIES
    from support import applied, at, cmd, rejected, sale, setup_company

    setup_company(ledger)
    applied(ledger, sale("S1", 5, day="2024-03-05"))
    values = {**DEFAULT_POLICIES["approvals"], "return": ["director"]}
    applied(ledger, cmd("AdoptPolicy", "dir", policy="approvals", version="returns-by-directors",
                        effective_from="2024-04-01", values=values, **at("2024-03-20")))
    # before the new version's date a manager still approves a return; from it, not
    applied(ledger, cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=1_000,
                        approved_by="mgr", reason="damaged", **at("2024-03-25")))
    answer = rejected(ledger, cmd("RecordReturn", "sa", return_id="RT2", sale_id="S1", amount=1_000,
                                  approved_by="mgr", reason="damaged", **at("2024-04-02")),
                      "not_authorized")
    assert answer["details"]["required"] == ["director"]
    applied(ledger, cmd("RecordReturn", "sa", return_id="RT3", sale_id="S1", amount=1_000,
                        approved_by="dir", reason="damaged", **at("2024-04-02")))
    bad = {**DEFAULT_POLICIES["approvals"], "fine": ["overlord"]}
    rejected(ledger, cmd("AdoptPolicy", "dir", policy="approvals", version="bad",
                         effective_from="2024-05-01", values=bad, **at("2024-04-20")), "invalid_field")
