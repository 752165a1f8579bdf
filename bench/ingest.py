"""Ingest alone (issue 12, "Ingest"): ``ledger import``'s path (``import_lines``) over N
generated sale lines on PostgreSQL, against raw COPY of the same rows in the same run; and
optionally a cProfile of the import, for finding where a sale command's time goes.

    .venv/bin/python bench/ingest.py [--sales 5000] [--repeat 1] [--recorder TOPIC]
        [--profile N] [--sort tottime] [--top 40] [--callers FUNC]

Scratch schemas are named ``in_*`` and dropped at the end. ``bench/run.py``'s
``bench_ingest`` is the figure of record; this is the working tool.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib import PG_URL, drop, import_lines, pg_connect, raw_copy, sale_lines  # noqa: E402
from ledger.application import Ledger  # noqa: E402
from ledger.config import Database, parse_database_url  # noqa: E402


def schema_url(tag: str) -> str:
    return f"{PG_URL}?schema=in_{tag}_{uuid.uuid4().hex[:8]}"


def database(url: str, recorder: str | None) -> Database:
    db = parse_database_url(url)
    if recorder:
        db = replace(db, env={**db.env, "APPLICATION_RECORDER_TOPIC": recorder})
    return db


def run(sales: int, recorder: str | None, profile: int, sort: str, top: int,
        callers: str | None) -> dict[str, Any]:
    setup, lines = sale_lines(sales)
    url = schema_url("ingest")
    try:
        with Ledger(database(url, recorder)) as ledger:
            import_lines(ledger, setup)
            before = ledger.max_position()
            started = time.perf_counter()
            report = import_lines(ledger, lines)
            seconds = time.perf_counter() - started
            if report["applied"] != sales or report["rejected"]:
                raise RuntimeError(f"{report['applied']} applied, {report['rejected'][:3]}")
            events = ledger.max_position() - before
        with pg_connect(url) as conn:
            rows = conn.execute("SELECT originator_id, originator_version, topic, state FROM "
                                "ledger_events WHERE notification_id > %s ORDER BY notification_id",
                                (before,)).fetchall()
    finally:
        drop(url)
    copy = raw_copy(rows)
    out = {"sales": sales, "events": events, "seconds": round(seconds, 3),
           "commands_per_s": round(sales / seconds), "events_per_s": round(events / seconds),
           "event_bytes_avg": round(statistics.fmean(len(r[3]) for r in rows)),
           "copy_rows_per_s": round(copy), "ratio_to_copy": round(events / seconds / copy, 4),
           "load": round(os.getloadavg()[0], 2)}
    if profile:
        url = schema_url("prof")
        try:
            with Ledger(database(url, recorder)) as ledger:
                import_lines(ledger, setup)
                import_lines(ledger, lines[:100])  # warm: caches, prepared statements
                prof = cProfile.Profile()
                prof.enable()
                import_lines(ledger, lines[100:100 + profile])
                prof.disable()
        finally:
            drop(url)
        stats = pstats.Stats(prof)
        stats.sort_stats(sort).print_stats(top)
        if callers:
            stats.print_callers(callers)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sales", type=int, default=5000)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--recorder", default=None, help="APPLICATION_RECORDER_TOPIC to use")
    p.add_argument("--profile", type=int, default=0, help="profile this many sale lines")
    p.add_argument("--sort", default="tottime")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--callers", default=None)
    a = p.parse_args()
    for i in range(a.repeat):
        print(run(a.sales, a.recorder, a.profile if i == a.repeat - 1 else 0, a.sort, a.top,
                  a.callers), flush=True)


if __name__ == "__main__":
    main()
