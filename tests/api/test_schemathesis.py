"""The API against its own contract (issue 13, SPEC 5.4): Schemathesis generates requests
from ``/openapi.json`` (valid ones and invalid ones: NUL characters, huge numbers, wrong
types, missing fields) and sends them to the app over a real ledger, on SQLite and on
PostgreSQL. No answer may be a 5xx, and every answer must conform to the document: a
documented status, its content type, its headers and its body schema.

Bounded: ``MAX_EXAMPLES`` examples per operation and store, one ledger per store for the
whole module (state accumulates across requests, as on a live server).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from apiclient import KEYS
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from stores import fresh_ledger
from support import setup_company
from test_openapi import ROUTES

from ledger.api import ApiKeys, create_app
from ledger.bootstrap import Runtime

MAX_EXAMPLES = 25
WAIT_TIMEOUT = 0.05  # seconds a read waits for `wait_for` before its 503 not_caught_up



def no_server_error(ctx: CheckContext, response: schemathesis.Response,
                    case: schemathesis.Case) -> bool | None:
    """No 5xx, but the documented back-pressure of read-your-writes: ``wait_for`` a
    position the projections did not reach within the app's wait is ``503
    not_caught_up`` with ``Retry-After`` (a generated ``wait_for`` is mostly far beyond
    the log's end)."""
    if response.status_code == 503 and case.operation.path.startswith("/v1/"):
        body = response.json()
        assert body["rule"] == "not_caught_up", body
        assert "retry-after" in {k.lower() for k in response.headers}, response.headers
        assert case.query and case.query.get("wait_for") is not None, case.query
        return True
    return not_a_server_error(ctx, response, case)


CHECKS = [no_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]

# Who speaks for each operation: a user whose roles may make the request, so the
# generated data reaches the code behind the authorization checks.
USER_FOR = {"/v1/users": "admin", "/v1/users/{user_id}": "admin", "/v1/commands": "dir"}
DEFAULT_USER = "fin"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def contract(request: pytest.FixtureRequest) -> Iterator[schemathesis.BaseSchema]:
    """The app's own document, loaded over ASGI, with the app over a fresh ledger."""
    with fresh_ledger(request.param) as ledger:
        setup_company(ledger)
        app = create_app(Runtime.for_ledger(ledger), ApiKeys(KEYS), wait_timeout=WAIT_TIMEOUT)
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def strategy(operation: schemathesis.APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    """Valid requests and invalid ones (wrong types, values out of bounds, NUL, ...)."""
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            strategies.append(operation.as_strategy(generation_mode=mode))
        except Exception:  # noqa: BLE001 - an operation with nothing to make invalid
            if mode is GenerationMode.POSITIVE:
                raise
    return st.one_of(strategies)


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES, key=lambda r: (r[1], r[0])),
                         ids=[f"{m.upper()} {p}" for m, p in sorted(ROUTES, key=lambda r: (r[1], r[0]))])
def test_every_answer_conforms(contract: schemathesis.BaseSchema, method: str, path: str) -> None:
    operation = contract[path][method.upper()]
    user = USER_FOR.get(path, DEFAULT_USER)
    headers = {"Authorization": f"Bearer key-{user}"}

    @given(case=strategy(operation))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
