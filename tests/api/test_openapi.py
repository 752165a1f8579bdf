"""OpenAPI at /openapi.json (SPEC 5.4): every route, its parameters, the bearer scheme and
the documented models."""

from __future__ import annotations

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
                  "Policies"):
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
