"""Operations (SPEC 5.4, issue 13): /healthz, /readyz, /metrics, request ids, JSON access
logs, CORS and the background projector, over a real ledger on both stores."""

from __future__ import annotations

import json
import logging
import time

from apiclient import KEYS, Api, bearer
from fastapi.testclient import TestClient
from support import sale

from ledger.api import ApiKeys, create_app
from ledger.bootstrap import Runtime


def test_healthz_answers_without_a_key(api: Api):
    r = api.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_reports_the_database_and_the_lag(api: Api):
    api.post(sale("S1"))
    end = api.ledger.max_position()
    r = api.client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["database"] == "ok" and body["log_position"] == end
    assert body["lag_events"] == end - min(api.projector.positions().values())
    assert body["lag_events"] > 0  # nothing has read since the write
    api.get("/v1/aging")
    assert api.client.get("/readyz").json()["lag_events"] == 0


def test_metrics_count_commands_by_outcome_and_time_requests(api: Api):
    api.post(sale("S1"))
    api.post(sale("S2", customer="C404"))
    api.get("/v1/aging")
    assert api.client.get("/metrics").status_code == 401
    r = api.client.get("/metrics", headers=bearer("fin"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'ledger_commands_total{command="RecordSale",outcome="applied"} 1.0' in text
    assert 'ledger_commands_total{command="RecordSale",outcome="unknown_reference"} 1.0' in text
    assert 'ledger_http_request_duration_seconds_count{method="GET",route="/v1/aging",status="200"} 1.0' in text
    assert f"ledger_log_position {float(api.ledger.max_position())}" in text
    assert "ledger_projection_lag_events 0.0" in text


def test_every_answer_carries_a_request_id(api: Api):
    r = api.client.get("/v1/aging", headers={**bearer("fin"), "X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    generated = api.client.get("/v1/nowhere").headers["X-Request-ID"]
    assert len(generated) == 32
    hostile = api.client.get("/healthz", headers={"X-Request-ID": "a b\\c" * 100})
    assert hostile.headers["X-Request-ID"] != "a b\\c" * 100


def test_access_log_is_json_without_keys(api: Api, caplog):
    with caplog.at_level(logging.INFO, logger="ledger.access"):
        api.client.get("/v1/customers/C1/receivables",
                       headers={**bearer("fin"), "X-Request-ID": "req-1"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "ledger.access"]
    assert lines == [{"request_id": "req-1", "user": "fin", "method": "GET",
                      "route": "/v1/customers/{customer_id}/receivables", "status": 200,
                      "latency_ms": lines[0]["latency_ms"]}]
    assert "key-fin" not in caplog.text and "Acme" not in caplog.text


def test_cors_is_off_by_default_and_configurable(api: Api, ledger):
    preflight = {"Origin": "https://console.example", "Access-Control-Request-Method": "GET"}
    r = api.client.options("/v1/aging", headers=preflight)
    assert "access-control-allow-origin" not in {k.lower() for k in r.headers}
    app = create_app(Runtime.for_ledger(ledger), ApiKeys(KEYS), cors_origins=["https://console.example"])
    with TestClient(app) as client:
        r = client.options("/v1/aging", headers=preflight)
        assert r.headers["access-control-allow-origin"] == "https://console.example"


def test_the_background_projector_catches_up_without_a_read(ledger):
    from support import setup_company

    setup_company(ledger)
    app = create_app(Runtime.for_ledger(ledger), ApiKeys(KEYS), background_projector=True)
    with TestClient(app) as client:
        projector = app.state.services.projector
        r = client.post("/v1/commands", json=sale("S1"), headers=bearer("sa"))
        position = r.json()["position"]
        deadline = time.monotonic() + 20
        while min(projector.positions().values()) < position:
            assert time.monotonic() < deadline, "the background projector did not catch up"
            time.sleep(0.05)
        r = client.get("/v1/customers/C1/receivables", headers=bearer("fin"))
        assert [i["sale_id"] for i in r.json()["items"]] == ["S1"]
