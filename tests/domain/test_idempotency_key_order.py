"""The idempotency key's body identity does not depend on the order of the JSON fields
(SPEC 1 Identity): "the same command_id sent again with the same body" is the same body
whatever order its fields (and its lines' fields) come in, so it answers ``duplicate``,
never ``invalid_field``. Both stores; through the ledger and a batch (HTTP: tests/api/test_key_order.py)."""

from __future__ import annotations

from typing import Any

from support import applied, at, cmd, customer_state, refused, sale, setup_company


def _reordered(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


def _two_line_sale(sale_id: str) -> dict[str, Any]:
    body = sale(sale_id, 2, price_approved_by="mgr")
    body["lines"].append({"sku": "X", "quantity": 1, "unit_price": 9_500, "tax_rate": "0.13"})
    return body


def test_the_same_command_with_its_fields_in_another_order_is_a_duplicate(ledger):
    setup_company(ledger)
    body = _two_line_sale("S1")
    first = applied(ledger, body)
    position = ledger.max_position()
    again = _reordered(body)
    assert list(again) != list(body) and list(again["lines"][0]) != list(body["lines"][0])
    answer = ledger.execute_one(again)
    assert answer["status"] == "duplicate", answer
    assert answer["original"] == {k: v for k, v in first.items() if k not in ("events", "position")}
    assert ledger.max_position() == position
    assert customer_state(ledger, "C1").receivables["S1"].open == 29_500  # recorded once


def test_a_reordered_repeat_of_a_rejected_command_answers_its_first_rejection(ledger):
    setup_company(ledger, credit_limit=15_000)
    body = sale("S1", 2)
    first = refused(ledger, body, "credit_limit", exposure=20_000, shortfall=5_000)
    answer = ledger.execute_one(_reordered(body))
    assert answer["status"] == "duplicate", answer
    assert answer["original"] == first


def test_reordered_repeats_in_one_batch_and_a_changed_value_still_refused(ledger):
    setup_company(ledger)
    pay = cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=5_000,
              received_on="2024-03-05", allocations=[{"sale_id": "S1", "amount": 5_000}],
              **at("2024-03-05"))
    body = sale("S1", 1)
    answers = ledger.execute([body, pay, _reordered(body), _reordered(pay)])
    assert [a["status"] for a in answers] == ["applied", "applied", "duplicate", "duplicate"]
    # order does not matter, values do: a changed amount under the same command_id
    changed = _reordered({**pay, "amount": 5_001})
    refused(ledger, changed, "invalid_field", field="command_id")
    assert customer_state(ledger, "C1").receivables["S1"].open == 5_000

