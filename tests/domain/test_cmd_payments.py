"""RecordPayment and WriteOffReceivable (SPEC 2.3, 5.2): FIFO, allocations, recoveries,
customer credit, write-offs, with the numbers of each rejection."""

from __future__ import annotations

from support import (
    all_applied, applied, at, cmd, customer_state, facts_after, refused, sale, setup_company,
    topic_of,
)


def pay(payment_id: str, amount: int, *, customer: str = "C1", actor: str = "fin",
        day: str = "2024-04-01", allocations: list[tuple[str, int]] | None = None, **extra):
    body = cmd("RecordPayment", actor, payment_id=payment_id, customer_id=customer, amount=amount,
               received_on=day, **at(day), **extra)
    if allocations is not None:
        body["allocations"] = [{"sale_id": s, "amount": a} for s, a in allocations]
    return body


def write_off(writeoff_id: str, sale_id: str, amount: int, *, actor: str = "fin",
              approved_by: str = "dir", reason: str = "customer bankrupt"):
    return cmd("WriteOffReceivable", actor, writeoff_id=writeoff_id, sale_id=sale_id, amount=amount,
               approved_by=approved_by, reason=reason, **at("2024-06-01"))


def _opens(ledger, customer: str = "C1") -> dict[str, int]:
    return {sid: r.open for sid, r in customer_state(ledger, customer).receivables.items()}


# --- RecordPayment: FIFO (SPEC 2.3) ---------------------------------------------------------


def test_fifo_by_due_date_not_by_invoice_date_or_recording_order(ledger):
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 1, day="2024-03-01"),  # due 2024-03-31
        cmd("SetCreditTerms", "fin", customer_id="C1", credit_limit=10_000_000,
            payment_terms_days=5, approved_by="dir", **at("2024-03-20")),
        sale("S2", 1, day="2024-03-20"),  # invoiced later, due earlier: 2024-03-25
    ])
    before = ledger.max_position()
    answer = applied(ledger, pay("P1", 15_000))
    assert answer["result"] == {"payment_id": "P1", "to_credit": 0, "applied": [
        {"sale_id": "S2", "amount": 10_000, "kind": "fifo"},
        {"sale_id": "S1", "amount": 5_000, "kind": "fifo"},
    ]}
    (event,) = facts_after(ledger, before)
    assert topic_of(event) == "Customer.PaymentRecorded"
    assert (event.amount, event.received_on, event.to_credit) == (15_000, "2024-04-01", 0)
    assert _opens(ledger) == {"S1": 5_000, "S2": 0}


def test_fifo_same_due_date_by_sale_id_in_text_order(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S9", 1), sale("S10", 1), sale("S8", 1, day="2024-03-06")])
    result = applied(ledger, pay("P1", 12_000, actor="sa"))["result"]
    # "S10" < "S9" as text; S8 is due a day later
    assert result["applied"] == [{"sale_id": "S10", "amount": 10_000, "kind": "fifo"},
                                 {"sale_id": "S9", "amount": 2_000, "kind": "fifo"}]
    assert _opens(ledger) == {"S9": 8_000, "S10": 0, "S8": 10_000}


def test_payment_beyond_all_open_items_becomes_customer_credit(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), sale("S2", 1)])
    result = applied(ledger, pay("P1", 25_000, actor="svc"))["result"]
    assert result["to_credit"] == 5_000
    assert [a["amount"] for a in result["applied"]] == [10_000, 10_000]
    state = customer_state(ledger, "C1")
    assert (state.open_total, state.credit) == (0, 5_000)
    # the credit settles the next sale as it is recorded
    assert applied(ledger, sale("S3", 1))["result"]["credit_applied"] == 5_000
    assert customer_state(ledger, "C1").credit == 0


# --- RecordPayment: explicit allocations ----------------------------------------------------


def test_allocations_first_then_fifo_then_credit(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), sale("S2", 1), sale("S3", 1)])
    result = applied(ledger, pay("P1", 35_000, allocations=[("S3", 4_000)]))["result"]
    assert result["applied"] == [
        {"sale_id": "S3", "amount": 4_000, "kind": "allocation"},
        {"sale_id": "S1", "amount": 10_000, "kind": "fifo"},
        {"sale_id": "S2", "amount": 10_000, "kind": "fifo"},
        {"sale_id": "S3", "amount": 6_000, "kind": "fifo"},
    ]
    assert result["to_credit"] == 5_000
    assert _opens(ledger) == {"S1": 0, "S2": 0, "S3": 0}


def test_allocation_above_the_sales_open_amount(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), sale("S2", 1), pay("P0", 3_000, allocations=[("S2", 3_000)])])
    refused(ledger, pay("P1", 20_000, allocations=[("S1", 1_000), ("S2", 7_001)]),
            "overpayment_allocation", sale_id="S2", open=7_000, asked=7_001, unrecovered=0)
    # nothing was applied: S2 still owes 7,000, which can be allocated exactly
    assert _opens(ledger) == {"S1": 10_000, "S2": 7_000}
    result = applied(ledger, pay("P1", 7_000, allocations=[("S2", 7_000)]))["result"]
    assert result["applied"] == [{"sale_id": "S2", "amount": 7_000, "kind": "allocation"}]
    refused(ledger, pay("P2", 1_000, allocations=[("S2", 1)]), "overpayment_allocation",
            sale_id="S2", open=0, asked=1)


def test_allocation_to_a_sale_of_another_customer(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), sale("T1", 1, customer="C2")])
    refused(ledger, pay("P1", 5_000, allocations=[("S1", 1_000), ("T1", 4_000)]),
            "overpayment_allocation", sale_id="T1", customer_id="C2", open=0, asked=4_000)
    assert _opens(ledger, "C2") == {"T1": 10_000}
    assert _opens(ledger) == {"S1": 10_000}
    applied(ledger, pay("P1", 5_000, customer="C2", allocations=[("T1", 4_000)]))
    assert _opens(ledger, "C2") == {"T1": 5_000}  # 4,000 allocated + 1,000 FIFO


def test_allocations_together_above_the_payment(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), sale("S2", 1)])
    refused(ledger, pay("P1", 10_000, allocations=[("S1", 6_000), ("S2", 5_000)]),
            "overpayment_allocation", allocated=11_000, payment=10_000)
    result = applied(ledger, pay("P1", 11_000, allocations=[("S1", 6_000), ("S2", 5_000)]))["result"]
    assert result["to_credit"] == 0
    assert _opens(ledger) == {"S1": 4_000, "S2": 5_000}


def test_payment_input_and_reference_rules(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), pay("P0", 1_000)])
    refused(ledger, pay("P1", 2_000, allocations=[("S1", 1_000), ("S1", 1_000)]), "invalid_field",
            field="allocations[1].sale_id")
    refused(ledger, pay("P1", 0), "invalid_field", field="amount")
    refused(ledger, pay("P1", 100, allocations=[("S1", 0)]), "invalid_field",
            field="allocations[0].amount")
    refused(ledger, pay("P1", 100, customer="C404"), "unknown_reference", field="customer_id")
    refused(ledger, pay("P1", 100, allocations=[("S404", 100)]), "unknown_reference",
            field="allocations[0].sale_id", ref="S404")
    refused(ledger, pay("P0", 100), "duplicate_id", kind="payment", ref="P0")
    for who in ("mgr", "dir", "aud", "rep_user"):
        refused(ledger, pay("P1", 100, actor=who), "not_authorized", actor=who)
    # order: unknown sale beats duplicate payment id; a foreign sale loses to a bad role
    refused(ledger, pay("P0", 100, allocations=[("S404", 100)]), "unknown_reference")
    applied(ledger, sale("T1", 1, customer="C2"))
    refused(ledger, pay("P1", 100, actor="mgr", allocations=[("T1", 100)]), "not_authorized")
    assert _opens(ledger) == {"S1": 9_000}


# --- recoveries and write-offs (SPEC 2.3) ---------------------------------------------------


def test_recovery_on_a_written_off_sale_never_reopens_it(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), sale("S2", 1, day="2024-03-06"), write_off("W1", "S1", 10_000)])
    result = applied(ledger, pay("P1", 3_000, allocations=[("S1", 3_000)]))["result"]
    assert result == {"payment_id": "P1", "to_credit": 0,
                      "applied": [{"sale_id": "S1", "amount": 3_000, "kind": "recovery"}]}
    item = customer_state(ledger, "C1").receivables["S1"]
    assert (item.open, item.written_off, item.recovered, item.unrecovered) == (0, 10_000, 3_000, 7_000)
    # at most the written-off amount not yet recovered
    refused(ledger, pay("P2", 7_001, allocations=[("S1", 7_001)]), "overpayment_allocation",
            sale_id="S1", open=0, unrecovered=7_000, asked=7_001)
    # FIFO never settles the written-off sale: it goes to S2, the rest to credit
    result = applied(ledger, pay("P2", 12_000))["result"]
    assert result["applied"] == [{"sale_id": "S2", "amount": 10_000, "kind": "fifo"}]
    assert result["to_credit"] == 2_000
    item = customer_state(ledger, "C1").receivables["S1"]
    assert (item.open, item.recovered) == (0, 3_000)


def test_partly_written_off_sale_keeps_its_open_rest_for_fifo(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), write_off("W1", "S1", 4_000)])
    assert _opens(ledger) == {"S1": 6_000}
    result = applied(ledger, pay("P1", 10_000))["result"]
    assert result["applied"] == [{"sale_id": "S1", "amount": 6_000, "kind": "fifo"}]
    assert result["to_credit"] == 4_000
    item = customer_state(ledger, "C1").receivables["S1"]
    assert (item.open, item.written_off, item.recovered) == (0, 4_000, 0)


def test_allocation_to_partly_written_off_sale_settles_open_then_recovers(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), write_off("W1", "S1", 4_000)])
    refused(ledger, pay("P1", 20_000, allocations=[("S1", 10_001)]), "overpayment_allocation",
            open=6_000, unrecovered=4_000, asked=10_001)
    result = applied(ledger, pay("P1", 8_000, allocations=[("S1", 8_000)]))["result"]
    assert result["applied"] == [{"sale_id": "S1", "amount": 6_000, "kind": "allocation"},
                                 {"sale_id": "S1", "amount": 2_000, "kind": "recovery"}]
    item = customer_state(ledger, "C1").receivables["S1"]
    assert (item.open, item.unrecovered) == (0, 2_000)


def test_write_off_by_finance_approved_by_director(ledger):
    setup_company(ledger, credit_limit=25_000)
    all_applied(ledger, [sale("S1", 1), sale("S2", 1)])
    before = ledger.max_position()
    answer = applied(ledger, write_off("W1", "S1", 10_000))
    assert answer["result"] == {"writeoff_id": "W1", "open_after": 0, "closed_period": False}
    (event,) = facts_after(ledger, before)
    assert topic_of(event) == "Customer.ReceivableWrittenOff"
    assert (event.sale_id, event.amount, event.approved_by, event.reason) == (
        "S1", 10_000, "dir", "customer bankrupt")
    # the write-off removed S1 from open receivables: exposure counts S2 only
    assert applied(ledger, sale("S3", 1))["result"]["exposure"] == 20_000


def test_write_off_exceeding_the_open_amount(ledger):
    setup_company(ledger)
    all_applied(ledger, [sale("S1", 1), pay("P1", 3_000)])
    refused(ledger, write_off("W1", "S1", 7_001), "exceeds_open_amount", sale_id="S1",
            amount=7_001, open=7_000)
    applied(ledger, write_off("W1", "S1", 4_000))
    # partly written off: the rest is 3,000
    refused(ledger, write_off("W2", "S1", 3_001), "exceeds_open_amount", open=3_000)
    applied(ledger, write_off("W2", "S1", 3_000))
    item = customer_state(ledger, "C1").receivables["S1"]
    assert (item.open, item.written_off, item.settled) == (0, 7_000, 3_000)
    refused(ledger, write_off("W3", "S1", 1), "exceeds_open_amount", open=0)


def test_write_off_authority_segregation_and_references(ledger):
    setup_company(ledger)
    all_applied(ledger, [
        cmd("RegisterUser", "admin", user_id="fd", name="FD", roles=["finance", "director"]),
        cmd("RegisterUser", "admin", user_id="drep", name="DR", roles=["director"]),
        cmd("RegisterRep", "sa", rep_id="R3", name="Director as rep", region="east", user_id="drep"),
        sale("S1", 1), sale("S3", 1, rep="R3"),
    ])
    for who in ("sa", "dir", "mgr"):
        refused(ledger, write_off("W1", "S1", 100, actor=who), "not_authorized", actor=who,
                required=["finance"])
    for who in ("mgr", "fin2"):
        refused(ledger, write_off("W1", "S1", 100, approved_by=who), "not_authorized",
                field="approved_by", approver=who, required=["director"])
    refused(ledger, write_off("W1", "S1", 100, actor="fd", approved_by="fd"),
            "segregation_of_duties", user="fd")
    refused(ledger, write_off("W1", "S3", 100, approved_by="drep"), "segregation_of_duties",
            user="drep")
    refused(ledger, write_off("W1", "S1", 100, reason=""), "invalid_field", field="reason")
    refused(ledger, write_off("W1", "S404", 100), "unknown_reference", field="sale_id")
    # order: segregation beats exceeds_open_amount; not_authorized beats segregation
    refused(ledger, write_off("W1", "S1", 99_999, actor="fd", approved_by="fd"), "segregation_of_duties")
    refused(ledger, write_off("W1", "S1", 99_999, actor="fd", approved_by="mgr"), "not_authorized")
    assert _opens(ledger) == {"S1": 10_000, "S3": 10_000}
    applied(ledger, write_off("W1", "S1", 100, actor="fd", approved_by="dir"))
    refused(ledger, write_off("W1", "S3", 100), "duplicate_id", kind="writeoff", ref="W1")
    assert _opens(ledger) == {"S1": 9_900, "S3": 10_000}
