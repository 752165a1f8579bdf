"""Reverse over HTTP (SPEC 2.7, 5.4): POST /v1/commands answers it like any command (a wrong
approver role is 403, a second reversal 422 invalid_state) and the reads show its effect."""

from __future__ import annotations

from apiclient import Api
from support import at, cmd, sale


def test_reverse_a_payment_over_http(api: Api):
    assert api.post(sale("S1", 1, day="2024-03-01")).status_code == 200
    payment = cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=10_000,
                  received_on="2024-04-01", **at("2024-04-01"))
    assert api.post(payment, user="fin").status_code == 200
    body = cmd("Reverse", "fin", reversal_id="V1", target_command_id=payment["command_id"],
               reason="bank returned the transfer", approved_by="mgr", **at("2024-04-10"))
    r = api.post(body, user="fin")
    assert r.status_code == 403, r.text
    assert (r.json()["rule"], r.json()["details"]["required"]) == ("not_authorized", ["director"])
    r = api.post({**body, "command_id": "rev-ok", "approved_by": "dir"}, user="fin")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["status"], answer["result"]["reopened"]) == ("applied", [
        {"sale_id": "S1", "open_before": 0, "open": 10_000, "due_on": "2024-03-31"}])
    r = api.post({**body, "command_id": "rev-again", "reversal_id": "V2", "approved_by": "dir"},
                 user="fin")
    assert r.status_code == 422
    assert r.json()["rule"] == "invalid_state"
    receivables = api.get("/v1/customers/C1/receivables", wait_for=answer["position"],
                          **{"as-of": "2024-04-10"}).json()
    assert (receivables["open_total"], receivables["items"][0]["due_on"]) == (10_000, "2024-03-31")
    entries = api.get("/v1/audit/V1").json()["entries"]
    assert [(e["event"], e["command_id"], e["approved_by"]) for e in entries] == [
        ("Customer.PaymentReversed", "rev-ok", ["dir"])]
