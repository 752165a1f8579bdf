"""Import rate of generated sale lines through the real command path (issue 3).

Runs ``ledger import``'s batching (``import_lines``) over a generated NDJSON file of
set-up commands plus N independent ``RecordSale`` lines, on SQLite and on PostgreSQL,
and reports commands per second. As a reference from the same run (machines are shared
and noisy), it also times the same sales applied one command per transaction for a
slice of the file, so the batching gain is a ratio measured under the same load.

    .venv/bin/python bench/import_rate.py [--sales 100000] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid

import msgspec

from ledger.application import Ledger
from benchlib import import_lines
from ledger.config import parse_database_url
from ledger.demo import sales_file

PG_URL = os.environ.get("LEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def database(backend: str, folder: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder}/bench-{uuid.uuid4().hex[:8]}.db"
    return f"{PG_URL}?schema=bench_{uuid.uuid4().hex[:8]}"


def drop(url: str) -> None:
    if url.startswith("postgresql"):
        import psycopg

        schema = url.split("schema=")[1]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run(backend: str, sales: int, one_by_one: int, folder: str) -> dict[str, float]:
    lines = [msgspec.json.encode(b) for b in sales_file(sales)]
    setup, sale_lines = lines[: len(lines) - sales], lines[len(lines) - sales :]
    url = database(backend, folder)
    try:
        with Ledger(parse_database_url(url)) as ledger:
            import_lines(ledger, setup)
            started = time.perf_counter()
            report = import_lines(ledger, sale_lines)
            batched = time.perf_counter() - started
            assert report["applied"] == sales and not report["rejected"], report["rejected"][:3]
            events = ledger.max_position()
        # reference: the same kind of line, one transaction per command
        url2 = database(backend, folder)
        try:
            with Ledger(parse_database_url(url2)) as ledger:
                import_lines(ledger, setup)
                started = time.perf_counter()
                for raw in sale_lines[:one_by_one]:
                    answer = ledger.execute_one(msgspec.json.decode(raw))
                    assert answer["status"] == "applied", answer
                single = time.perf_counter() - started
        finally:
            drop(url2)
    finally:
        drop(url)
    return {"sales": sales, "seconds": batched, "rate": sales / batched, "events": events,
            "single_rate": one_by_one / single}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sales", type=int, default=100_000)
    parser.add_argument("--one-by-one", type=int, default=2_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            r = run(backend, args.sales, args.one_by_one, folder)
            print(f"{backend:9s} {r['sales']:>7,} sale lines in {r['seconds']:6.1f}s = "
                  f"{r['rate']:7,.0f} cmd/s batched ({r['events']:,} events in the log); "
                  f"one per transaction: {r['single_rate']:6,.0f} cmd/s; "
                  f"ratio {r['rate'] / r['single_rate']:.1f}x", flush=True)


if __name__ == "__main__":
    main()
