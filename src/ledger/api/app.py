"""The HTTP API (SPEC 5.4, ARCHITECTURE API): ``create_app`` wires the runtime the
composition root built (``ledger.bootstrap.Runtime``: the ledger and its read side) and
the API keys into a FastAPI application. Nothing is global: two apps over two ledgers
live side by side (the tests do it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware

from ledger.api import observability
from ledger.api.auth import ApiError, ApiKeys
from ledger.api.background import BackgroundProjector
from ledger.api.contract import declare_headers, plain_parameters, refine_commands
from ledger.api.encoding import MsgspecResponse, error_body
from ledger.api.params import PLAIN
from ledger.api.routers import (
    audit,
    auditors,
    budgets,
    commands,
    explain,
    general_ledger,
    receivables,
    reps,
    users,
)
from ledger.api.schemas import components
from ledger.api.services import Services
from ledger.bootstrap import Runtime
from ledger.projections.errors import QueryError

DEFAULT_WAIT_SECONDS = 10.0  # how long a read with wait_for waits for the projections
GZIP_MIN_BYTES = 1024  # answers at least this long are gzipped for clients that accept it

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


def create_app(runtime: Runtime, keys: ApiKeys, *,
               wait_timeout: float = DEFAULT_WAIT_SECONDS, cors_origins: Sequence[str] = (),
               background_projector: bool = False, projector_elsewhere: bool = False,
               close_ledger: bool = False) -> FastAPI:
    """The API over ``ledger``. ``cors_origins``: the browser origins allowed to call it
    (none by default). ``background_projector``: a thread keeps the projections caught up
    while the app runs (``ledger serve``), so reads do not pay for a backlog.
    ``projector_elsewhere``: another process does that (``ledger serve --workers N``);
    reads behave as with a background projector. ``close_ledger``: the app owns the ledger
    and closes it when it stops."""
    if not isinstance(runtime, Runtime):
        raise TypeError(f"create_app takes a ledger.bootstrap.Runtime, got {type(runtime).__name__}")
    # No trailing-slash redirect (it would build its Location from the Host header) and no
    # /docs page (it loads scripts from a CDN): the contract is /openapi.json.
    services = Services(runtime=runtime, keys=keys, wait_timeout=wait_timeout,
                        background=background_projector or projector_elsewhere)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        worker = BackgroundProjector(services.projector) if background_projector else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            if close_ledger:
                runtime.close()

    app = FastAPI(title="ledger", version="1", description=DESCRIPTION,
                  default_response_class=MsgspecResponse, redirect_slashes=False,
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.services = services
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "X-Ledger-Position", "X-Next-Cursor"])
    observability.install(app)
    for module in (commands, receivables, budgets, reps, general_ledger, audit, auditors, users,
                   explain):
        app.include_router(module.router)
    _add_error_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    def api_error(_: Request, e: ApiError) -> MsgspecResponse:
        return MsgspecResponse(error_body(e.rule, e.message, dict(e.details)), status_code=e.status,
                               headers=e.headers)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, e: StarletteHTTPException) -> MsgspecResponse:
        """Unknown routes, wrong methods and the framework's other refusals, as the API's
        own error document (SPEC 5.4: every error is ``{rule, message, details}``)."""
        rule, message = _HTTP_RULES.get(e.status_code, ("http_error", str(e.detail)))
        details: dict[str, Any] = {"method": request.method, "path": request.url.path}
        return MsgspecResponse(error_body(rule, message, details), status_code=e.status_code,
                               headers=getattr(e, "headers", None))

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

    @app.exception_handler(Exception)
    def internal_error(request: Request, e: Exception) -> MsgspecResponse:
        """A failure no other handler answers: still the API's error document (SPEC 5.4),
        naming the request id and the exception's type only (never its text: it may hold
        a customer's data or the database's)."""
        request_id = getattr(request.state, "request_id", None)
        return MsgspecResponse(error_body("internal_error", "the server failed to answer this "
                                          "request; it has been logged",
                                          {"request_id": request_id, "error": type(e).__name__}),
                               status_code=500)


_HTTP_RULES = {
    404: ("unknown_route", "no such route; the API's routes are listed at /openapi.json"),
    405: ("method_not_allowed", "this route does not take that method; see /openapi.json"),
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        _, comps = components()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(comps)
        refine_commands(schema["components"]["schemas"])
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {}).get("application/json", {})
                    documented = content.get("schema", {})
                    if status == "422" and documented.get("$ref", "").endswith("/HTTPValidationError"):
                        # FastAPI's own 422 body, which this API never answers
                        content["schema"] = {"$ref": "#/components/schemas/Error"}
                    elif "$ref" in documented or "oneOf" in documented or "anyOf" in documented:
                        # FastAPI's default for a custom response class is a string
                        documented.pop("type", None)
        _document_currency(schema)
        for unused in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(unused, None)
        declare_headers(schema)
        plain_parameters(schema, PLAIN)
        app.openapi_schema = schema
    return app.openapi_schema


def _document_currency(schema: dict[str, Any]) -> None:
    """Every query document names its currency (SPEC 1): added to each document a GET
    answers, in one place (``Reading.respond`` adds it to the answers)."""
    schemas = schema.get("components", {}).get("schemas", {})
    for route, path in schema.get("paths", {}).items():
        if not route.startswith("/v1/"):
            continue  # /healthz, /readyz: no query document
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
