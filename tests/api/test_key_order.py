"""POST /v1/commands: a repeat whose JSON fields come in another order is the same body
(SPEC 1 Identity), so it answers ``duplicate`` and stores nothing."""

from __future__ import annotations

from apiclient import Api
from support import sale


def _reordered(value):
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


def test_a_repeat_with_its_json_fields_in_another_order_answers_duplicate(api: Api):
    body = sale("S1", 2, price_approved_by="mgr")
    body["lines"].append({"sku": "X", "quantity": 1, "unit_price": 9_500, "tax_rate": "0.13"})
    first = api.post(body)
    assert first.status_code == 200, first.text
    position = api.ledger.max_position()
    again = api.post(_reordered(body))
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "duplicate"
    assert again.json()["original"]["result"] == first.json()["result"]
    assert api.ledger.max_position() == position
