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
