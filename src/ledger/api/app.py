"""The composition root of the HTTP API (SPEC 5.4, ARCHITECTURE API): ``create_app`` wires
a ledger, its API keys and a projector into a FastAPI application. Nothing is global: two
apps over two ledgers live side by side (the tests do it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi

from ledger.api.auth import ApiError, ApiKeys
from ledger.api.encoding import MsgspecResponse, error_body
from ledger.api.routers import audit, budgets, commands, general_ledger, receivables, reps
from ledger.api.schemas import components
from ledger.api.services import Services
from ledger.application import Ledger
from ledger.projections.engine import Projector, projector_for
from ledger.projections.errors import QueryError

ProjectorFactory = Callable[[Ledger], Projector]

DESCRIPTION = """\
The marketing ledger's HTTP API (SPEC 5.4). Every request carries an API key,
`Authorization: Bearer <key>`, bound to a registered user; a missing or unknown key is `401`.

Writes: `POST /v1/commands`. Reads: `GET /v1/...`, each answering the same JSON as
`ledger query ... --json`. A read catches the projections up with the log before answering,
or, given `wait_for=<position>` (from a command's answer), waits until they hold that
position. Every read answers the position it was read at in `X-Ledger-Position`.

Amounts are integers in fen; dates `YYYY-MM-DD`. Errors that are not a command's answer are
`{rule, message, details}`: `unknown_reference` is `404`, `invalid_field` `422`.
"""


def create_app(ledger: Ledger, keys: ApiKeys,
               projector_factory: ProjectorFactory = projector_for,
               *, wait_timeout: float = 10.0) -> FastAPI:
    app = FastAPI(title="ledger", version="1", description=DESCRIPTION,
                  default_response_class=MsgspecResponse)
    app.state.services = Services(ledger=ledger, keys=keys, projector=projector_factory(ledger),
                                  wait_timeout=wait_timeout)
    for module in (commands, receivables, budgets, reps, general_ledger, audit):
        app.include_router(module.router)
    _add_error_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    def api_error(_: Request, e: ApiError) -> MsgspecResponse:
        return MsgspecResponse(error_body(e.rule, e.message, dict(e.details)), status_code=e.status,
                               headers=e.headers)

    @app.exception_handler(QueryError)
    def query_error(_: Request, e: QueryError) -> MsgspecResponse:
        status = 404 if e.rule == "unknown_reference" else 422
        return MsgspecResponse(error_body(e.rule, e.message, dict(e.details)), status_code=status)

    @app.exception_handler(RequestValidationError)
    def invalid_request(_: Request, e: RequestValidationError) -> MsgspecResponse:
        errors = e.errors()
        first = errors[0] if errors else {}
        field = ".".join(str(x) for x in first.get("loc", ())[1:]) or "$"
        message = f"{field}: {first.get('msg', 'invalid')}"
        problems = [{"field": ".".join(str(x) for x in err.get("loc", ())[1:]),
                     "message": err.get("msg")} for err in errors]
        return MsgspecResponse(error_body("invalid_field", message,
                                          {"field": field, "errors": problems}), status_code=422)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        _, comps = components()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(comps)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {}).get("application/json", {})
                    documented = content.get("schema", {})
                    if status == "422" and documented.get("$ref", "").endswith("/HTTPValidationError"):
                        # FastAPI's own 422 body, which this API never answers
                        content["schema"] = {"$ref": "#/components/schemas/Error"}
                    elif "$ref" in documented or "oneOf" in documented:
                        # FastAPI's default for a custom response class is a string
                        documented.pop("type", None)
        _document_currency(schema)
        for unused in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(unused, None)
        app.openapi_schema = schema
    return app.openapi_schema


def _document_currency(schema: dict[str, Any]) -> None:
    """Every query document names its currency (SPEC 1): added to each document a GET
    answers, in one place (``Reading.respond`` adds it to the answers)."""
    schemas = schema.get("components", {}).get("schemas", {})
    for path in schema.get("paths", {}).values():
        ok = path.get("get", {}).get("responses", {}).get("200", {})
        documented = ok.get("content", {}).get("application/json", {}).get("schema", {})
        name = documented.get("$ref", "").rsplit("/", 1)[-1]
        target = schemas.get(name)
        if target is not None and "properties" in target:
            target["properties"].setdefault("currency", {
                "type": "string", "description": "The ledger's currency (policy `currency`).",
                "examples": ["CNY"]})
            required = target.setdefault("required", [])
            if "currency" not in required:
                required.append("currency")
