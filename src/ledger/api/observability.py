"""Operations (issue 13, SPEC 5.4): ``/healthz``, ``/readyz``, ``/metrics`` in the
Prometheus text format, a request id on every answer and one JSON access-log line per
request.

Each app has its own metrics registry (two apps in one process, as the tests build, do not
share counters). The access log never holds an API key, a body or a customer's name: the
user id, method, route template, status, latency and request id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import msgspec
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.api.auth import Caller
from ledger.api.encoding import MsgspecResponse
from ledger.api.schemas import ERRORS, Health, Readiness, json_content, ref
from ledger.service.answers import Answer, Rejected

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
READY_MAX_LAG_EVENTS = 10_000  # /readyz answers 503 past this projection lag
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

access_log = logging.getLogger("ledger.access")
_json = msgspec.json.Encoder()


class Metrics:
    """The app's Prometheus metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "ledger_commands", "Commands answered, by command and outcome (applied, "
            "duplicate, or the rejecting rule).", ["command", "outcome"], registry=self.registry)
        self.latency = Histogram(
            "ledger_http_request_duration_seconds", "Request latency by route template.",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.lag_events = Gauge(
            "ledger_projection_lag_events", "Log events not yet applied by the slowest "
            "projection.", registry=self.registry)
        self.lag_seconds = Gauge(
            "ledger_projection_lag_seconds", "Age of the oldest event not yet applied by the "
            "slowest projection (0 when caught up).", registry=self.registry)
        self.log_position = Gauge("ledger_log_position", "The log's last position.",
                                  registry=self.registry)
        self.pool = Gauge("ledger_database_pool_connections", "Database pool connections by "
                          "state (PostgreSQL only).", ["state"], registry=self.registry)

    def count_answers(self, answers: list[Answer]) -> None:
        for answer in answers:
            outcome = answer.rule if isinstance(answer, Rejected) else answer.status
            self.commands.labels(str(answer.command), outcome).inc()


def lag(services: Any) -> tuple[int, int, float]:
    """(log position, events behind, seconds behind) of the slowest projection."""
    ledger = services.ledger
    end = ledger.max_position()
    done = min(services.projector.positions().values(), default=end)
    behind = max(0, end - done)
    seconds = 0.0
    if behind:
        found = services.runtime.source.read(done, done + 1, 1)
        if found:
            event = found[0][1]
            stamp = getattr(event, "timestamp", None)
            if stamp is not None:
                seconds = max(0.0, time.time() - stamp.timestamp())
    return end, behind, seconds


def _pool_stats(services: Any) -> dict[str, int]:
    datastore = getattr(services.runtime.recorder, "datastore", None)
    pool = getattr(datastore, "pool", None)
    stats = getattr(pool, "get_stats", None)
    if stats is None:
        return {}
    raw = stats()
    size = int(raw.get("pool_size", 0))
    available = int(raw.get("pool_available", 0))
    return {"in_use": size - available, "idle": available,
            "waiting": int(raw.get("requests_waiting", 0))}


router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="getHealthz",
            summary="The process is up", response_class=MsgspecResponse,
            responses={200: json_content(ref(Health), "Up.")})
def healthz() -> MsgspecResponse:
    return MsgspecResponse({"status": "ok"})


@router.get("/readyz", operation_id="getReadyz",
            summary="The database answers and the projections are not far behind",
            response_class=MsgspecResponse,
            responses={200: json_content(ref(Readiness), "Ready."),
                       503: json_content(ref(Readiness), "Not ready: the database does not "
                                                         "answer, or the projections lag.")})
def readyz(request: Request) -> MsgspecResponse:
    services = request.app.state.services
    try:
        end, behind, seconds = lag(services)
    except Exception as e:  # noqa: BLE001 - any failure to read the store means not ready
        return MsgspecResponse({"status": "unavailable", "database": "unreachable",
                                "error": type(e).__name__}, status_code=503)
    ready = behind <= READY_MAX_LAG_EVENTS
    return MsgspecResponse({"status": "ok" if ready else "lagging", "database": "ok",
                            "log_position": end, "lag_events": behind,
                            "lag_seconds": round(seconds, 3), "max_lag_events": READY_MAX_LAG_EVENTS},
                           status_code=200 if ready else 503)


@router.get("/metrics", operation_id="getMetrics", summary="Prometheus metrics (any valid API key)",
            response_class=Response,
            responses={200: {"description": "The Prometheus text format.",
                             "content": {CONTENT_TYPE_LATEST.split(";")[0]: {
                                 "schema": {"type": "string"}}}},
                       **ERRORS})  # type: ignore[dict-item]
def metrics(request: Request, caller: Caller) -> Response:
    services = request.app.state.services
    m: Metrics = request.app.state.metrics
    end, behind, seconds = lag(services)
    m.log_position.set(end)
    m.lag_events.set(behind)
    m.lag_seconds.set(seconds)
    for state, value in _pool_stats(services).items():
        m.pool.labels(state).set(value)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Metrics, the operations routes and the request-id and access-log middleware."""
    app.state.metrics = Metrics()
    app.include_router(router)
    app.add_middleware(RequestIdAndAccessLog, metrics=app.state.metrics)


class RequestIdAndAccessLog:
    """A request id on every answer (the caller's ``X-Request-ID`` when well formed, else a
    new one), the latency histogram and one JSON access-log line per request. A plain ASGI
    middleware: it only watches the answer's start go by (a ``BaseHTTPMiddleware`` runs
    each request in a task of its own and streams the answer through a queue, which costs
    every request, ``/healthz`` included)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        await self.app(scope, receive, send_with_id)
        elapsed = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        self.metrics.latency.labels(method, template, str(status)).observe(elapsed)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(_json.encode({
                "request_id": request_id, "user": state.get("user_id"),
                "method": method, "route": template, "status": status,
                "latency_ms": round(elapsed * 1000, 3)}).decode())
