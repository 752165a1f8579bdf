"""OpenAPI at /openapi.json (SPEC 5.4): every route, its parameters, the bearer scheme and
the documented models."""

from __future__ import annotations

import re

import pytest
from apiclient import Api

ROUTES = {
    ("post", "/v1/commands"),
    ("get", "/v1/customers/{customer_id}/receivables"),
    ("get", "/v1/receivables"),
    ("get", "/v1/aging"),
    ("get", "/v1/budgets/{budget_id}"),
    ("get", "/v1/budget"),
    ("get", "/v1/reps/{rep_id}/commission/{period}"),
    ("get", "/v1/commission"),
    ("get", "/v1/reps/{rep_id}/ranks"),
    ("get", "/v1/ranks"),
    ("get", "/v1/trial-balance"),
    ("get", "/v1/reconcile"),
    ("get", "/v1/audit/{entity_id}"),
    ("get", "/v1/audit"),
    ("get", "/v1/users"),
    ("get", "/v1/users/{user_id}"),
    ("get", "/v1/explain/commission/{rep_id}/{period}"),
    ("get", "/v1/explain/receivable/{customer_id}"),
    ("get", "/v1/explain/budget/{budget_id}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/actors/{user_id}/audit"),
    ("get", "/v1/commands/{command_id}"),
    ("get", "/v1/command"),
    ("get", "/v1/late"),
    ("get", "/v1/sod"),
    ("get", "/v1/dso"),
    ("get", "/v1/disputes"),
    ("get", "/v1/reps/{rep_id}/trips"),
    ("get", "/v1/trips"),
    ("get", "/v1/policies"),
}


def test_openapi_lists_every_route(api: Api):
    r = api.client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    listed = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert listed == ROUTES


def test_openapi_documents_models_parameters_and_auth(api: Api):
    doc = api.client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for model in ("CommandAnswer", "Error", "Receivables", "Aging", "Budget", "Commission", "Ranks",
                  "TrialBalance", "Reconcile", "Audit", "RecordSale", "OpenDispute",
                  "ActorAudit", "CommandTrace", "Late", "Sod", "Dso", "Disputes", "Trips",
                  "Policies", "Explanation", "ExplainStep"):
        assert model in schemas, model
    assert "HTTPValidationError" not in schemas
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"

    post = doc["paths"]["/v1/commands"]["post"]
    assert set(post["responses"]) >= {"200", "401", "403", "409", "422"}
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][1]["type"] == "array"
    one = body["oneOf"][0]
    assert {"$ref": "#/components/schemas/RecordSale"} in one["oneOf"]
    assert one["discriminator"]["propertyName"] == "command"
    assert one["discriminator"]["mapping"]["RecordSale"] == "#/components/schemas/RecordSale"

    aging = doc["paths"]["/v1/aging"]["get"]
    assert {p["name"] for p in aging["parameters"]} == {"as_of", "as-of", "wait_for", "limit",
                                                     "cursor", "at_position", "at_time"}
    assert aging["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Aging"}
    assert aging["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    assert aging["security"] == [{"HTTPBearer": []}]
    receivables = doc["paths"]["/v1/customers/{customer_id}/receivables"]["get"]
    assert "404" in receivables["responses"]


def test_every_ref_resolves(api: Api):
    doc = api.client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref


OPERATION_IDS = {
    ("post", "/v1/commands"): "postCommands",
    ("get", "/v1/commission"): "getCommission",
    ("get", "/v1/reps/{rep_id}/commission/{period}"): "getRepCommission",
    ("get", "/v1/users/{user_id}"): "getUser",
    ("get", "/healthz"): "getHealthz",
}


def test_every_operation_has_an_explicit_unique_id(api: Api):
    doc = api.client.get("/openapi.json").json()
    ids = {(method, path): op["operationId"] for path, ops in doc["paths"].items()
           for method, op in ops.items()}
    assert set(ids) == ROUTES
    assert len(set(ids.values())) == len(ids)  # unique
    for key, expected in OPERATION_IDS.items():
        assert ids[key] == expected
    # explicit, not FastAPI's generated `name_path_method`
    assert all("_" not in i and i[:3] in ("get", "pos") for i in ids.values()), ids


def test_headers_are_declared_and_sent(api: Api):
    doc = api.client.get("/openapi.json").json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                assert response["headers"]["X-Request-ID"]["required"] is True, (path, status)
                if status == "401":
                    assert response["headers"]["WWW-Authenticate"]["required"] is True
                if method == "get" and path.startswith("/v1/") and status == "200":
                    assert response["headers"]["X-Ledger-Position"]["required"] is True
                    assert "X-Next-Cursor" in response["headers"]
                if method == "get" and path.startswith("/v1/") and status == "503":
                    assert response["headers"]["Retry-After"]["required"] is True
    read = api.get("/v1/aging")
    assert read.status_code == 200
    assert int(read.headers["X-Ledger-Position"]) == api.ledger.max_position()
    assert read.headers["X-Request-ID"]
    anonymous = api.client.get("/v1/aging")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert anonymous.headers["X-Request-ID"]


def test_commands_are_documented_with_the_domains_vocabulary(api: Api):
    from ledger.domain.authority import ROLES
    from ledger.domain.commands import COMMAND_NAMES
    from ledger.domain.plan_schema import RANKS
    from ledger.domain.policies import BUDGET_CATEGORIES, POLICY_NAMES

    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    for name in COMMAND_NAMES:
        assert "actor" in schemas[name]["properties"], name
        assert "actor" not in schemas[name]["required"], name  # the key's user fills it
        assert "command_id" in schemas[name]["required"], name
    assert schemas["RegisterUser"]["properties"]["roles"]["items"]["enum"] == list(ROLES)
    assert schemas["RegisterRep"]["properties"]["rank"]["enum"] == list(RANKS)
    assert schemas["ChangeRank"]["properties"]["rank"]["enum"] == list(RANKS)
    assert schemas["AllocateBudget"]["properties"]["category"]["enum"] == list(BUDGET_CATEGORIES)
    assert schemas["AdoptPolicy"]["properties"]["policy"]["enum"] == list(POLICY_NAMES)
    for name, field in (("RecordPayment", "amount"), ("RegisterCustomer", "credit_limit"),
                        ("SetListPrice", "unit_price"), ("SaleLine", "unit_price"),
                        ("FineRep", "amount"), ("AllocateBudget", "amount")):
        assert schemas[name]["properties"][field]["maximum"] == 10**13, (name, field)
    assert schemas["AdjustBudget"]["properties"]["delta"]["minimum"] == -10**13
    month = schemas["CloseMonth"]["properties"]["period"]["pattern"]
    assert re.search(month, "2024-03") and not re.search(month, "2024-13")
    budget_period = schemas["AllocateBudget"]["properties"]["period"]["pattern"]
    assert all(re.search(budget_period, p) for p in ("2024", "2024-Q1", "2024-03"))
    assert not re.search(budget_period, "2024-Q5")
    rate = next(b for b in schemas["SaleLine"]["properties"]["tax_rate"]["anyOf"]
                if b.get("type") == "string")["pattern"]
    assert re.search(rate, "0.13") and not re.search(rate, "13%")
    # the answers name the same vocabularies
    assert schemas["Ranks"]["properties"]["rank"]["enum"] == sorted(RANKS)
    assert schemas["User"]["properties"]["roles"]["items"]["enum"] == sorted(ROLES)
    assert re.search(schemas["Commission"]["properties"]["period"]["pattern"], "2024-03")


def test_a_documented_command_without_actor_is_applied_as_the_keys_user(api: Api):
    r = api.post({"command": "RegisterCustomer", "command_id": "c-doc", "customer_id": "C9",
                  "name": "Doc", "credit_limit": 5_000, "region": "north"}, user="sa")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied"
    trace = api.get("/v1/commands/c-doc", user="aud").json()
    assert trace["actor"] == "sa"


def test_no_one_of_is_ambiguous(api: Api):
    """Every ``oneOf`` is either discriminated (by ``command``) or between an object and
    an array; the answers that may be one of two objects say ``anyOf``."""
    doc = api.client.get("/openapi.json").json()

    def one_ofs(node):
        if isinstance(node, dict):
            if "oneOf" in node:
                yield node
            for value in node.values():
                yield from one_ofs(value)
        elif isinstance(node, list):
            for value in node:
                yield from one_ofs(value)

    found = list(one_ofs(doc))
    assert found
    for node in found:
        if "discriminator" in node:
            mapping = node["discriminator"]["mapping"]
            assert sorted(b["$ref"] for b in node["oneOf"]) == sorted(mapping.values())
            continue
        kinds = ["array" if b.get("type") == "array" else "object" for b in node["oneOf"]]
        assert sorted(kinds) == ["array", "object"], node


def test_an_unexpected_failure_is_the_error_document_not_a_bare_500(ledger):
    from fastapi.testclient import TestClient

    from ledger.api import ApiKeys, create_app
    from ledger.bootstrap import Runtime

    app = create_app(Runtime.for_ledger(ledger), ApiKeys({}))

    def boom() -> None:
        raise RuntimeError("secret detail from the database")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom", headers={"X-Request-ID": "req-1"})
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"rule": "internal_error", "message": r.json()["message"],
                        "details": {"request_id": "req-1", "error": "RuntimeError"}}
    assert "secret" not in r.text


@pytest.mark.parametrize("path,params,field", [
    ("/v1/receivables", {"customer": "C\x001"}, "customer"),
    ("/v1/command", {"id": "c\x00"}, "id"),
    ("/v1/customers/C%001/receivables", {}, "customer_id"),
    ("/v1/users/a%01b", {}, "user_id"),
    ("/v1/aging", {"cursor": "\x7f"}, "cursor"),
])
def test_a_control_character_in_a_parameter_is_invalid_field(api: Api, path, params, field):
    r = api.get(path, user="admin" if path.startswith("/v1/users") else "fin", **params)
    assert r.status_code == 422, r.text
    assert r.json()["rule"] == "invalid_field"
    assert r.json()["details"]["field"] == field
