"""As-of over HTTP (SPEC 5.4: every GET takes ``at_position`` / ``at_time``): the answer the
read gave when the log ended there, from a sandbox; the live projections answer after."""

from __future__ import annotations

from datetime import datetime, timezone

from apiclient import Api
from support import cmd, sale


def test_every_get_answers_as_of_a_position(api: Api):
    api.post(sale("S1", 3))
    then = api.get("/v1/customers/C1/receivables")
    position = int(then.headers["X-Ledger-Position"])
    aging_then = api.get("/v1/aging").json()
    api.post(sale("S2", 2))
    api.post(cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=10_000,
                 received_on="2024-03-06"), user="fin")
    now = api.get("/v1/customers/C1/receivables").json()
    assert now["open_total"] == 40_000
    r = api.get("/v1/customers/C1/receivables", at_position=position)
    assert r.status_code == 200, r.text
    assert r.content == then.content  # the same bytes
    assert int(r.headers["X-Ledger-Position"]) == position
    assert api.get("/v1/aging", at_position=position).json() == aging_then
    # the live projections still answer the present
    assert api.get("/v1/customers/C1/receivables").json() == now


def test_as_of_a_recorded_time(api: Api):
    api.post(sale("S1", 3))
    moment = datetime.now(timezone.utc).isoformat()
    api.post(sale("S2", 2))
    r = api.get("/v1/customers/C1/receivables", at_time=moment)
    assert r.status_code == 200, r.text
    assert r.json()["open_total"] == 30_000
    assert api.get("/v1/customers/C1/receivables").json()["open_total"] == 50_000


def test_bad_as_of_parameters_are_invalid_field(api: Api):
    end = api.ledger.max_position()
    for params, field in (({"at_position": end + 1}, "at_position"),
                          ({"at_time": "yesterday-ish"}, "at_time"),
                          ({"at_time": "2024-03-01T10:00:00"}, "at_time"),
                          ({"at_position": 1, "at_time": "2024-03-01T10:00:00+08:00"}, "at_time")):
        r = api.get("/v1/aging", **params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["rule"] == "invalid_field"
        assert r.json()["details"]["field"] == field
