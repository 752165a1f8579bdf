"""What the benchmarks share: the command path's import entry point (imported here only,
so a move of ``import_lines`` is a one-line change), fresh PostgreSQL schemas, the
machine's description and peak-memory readings."""

from __future__ import annotations

import os
import platform
import resource
import time
import uuid
from typing import Any

import msgspec

from ledger.config import ensure_schema, parse_database_url
from ledger.demo import sales_file
from ledger.service.importing import import_lines  # noqa: F401  (the one import of the import use case)

PG_URL = os.environ.get("LEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def fresh_schema(tag: str) -> str:
    return f"{PG_URL}?schema=bench_{tag}_{uuid.uuid4().hex[:8]}"


def drop(url: str) -> None:
    if url.startswith("postgresql") and "schema=" in url:
        import psycopg

        schema = url.split("schema=")[1]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def pg_connect(url: str) -> Any:
    """A plain psycopg connection to the database of ``url`` (search_path: its schema)."""
    import psycopg

    schema = url.split("schema=")[1] if "schema=" in url else "public"
    conn = psycopg.connect(url.split("?", 1)[0] if url.startswith("postgresql://") else PG_URL)
    conn.execute(f'SET search_path TO "{schema}"')
    conn.commit()
    return conn


def load() -> float:
    return os.getloadavg()[0]


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average_1m": round(load(), 2)}


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM), MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def sale_lines(sales: int) -> tuple[list[bytes], list[bytes]]:
    """The demo's sales file as command lines: (its set-up, ``sales`` sale lines)."""
    lines = [msgspec.json.encode(b) for b in sales_file(sales)]
    return lines[: len(lines) - sales], lines[len(lines) - sales:]


def raw_copy(rows: list[tuple[Any, ...]]) -> float:
    """Rows/s of COPY (psycopg 3, binary) of ``rows`` into a plain events table."""
    url = fresh_schema("copy")
    db = parse_database_url(url)
    ensure_schema(db)
    try:
        with pg_connect(url) as conn:
            conn.execute("CREATE TABLE raw_events (originator_id uuid NOT NULL, "
                         "originator_version bigint NOT NULL, topic text, state bytea, "
                         "notification_id bigserial PRIMARY KEY)")
            conn.commit()
            started = time.perf_counter()
            with conn.cursor() as cur:
                with cur.copy("COPY raw_events (originator_id, originator_version, topic, state) "
                              "FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(["uuid", "int8", "text", "bytea"])
                    for r in rows:
                        cp.write_row(r)
            conn.commit()
            return len(rows) / (time.perf_counter() - started)
    finally:
        drop(url)
