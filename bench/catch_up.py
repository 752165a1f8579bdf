"""Catch-up rate of all projections together over the demo's log (issue 5).

Imports the generated demo company into a fresh store (SQLite and PostgreSQL), then times
a full catch-up of every projection in ``ALL_PROJECTIONS`` into fresh tables. As the
reference from the same run, it times reading and decoding the same log through the
library's recorder and mapper alone, so the projections' own cost is a ratio.

    .venv/bin/python bench/catch_up.py [--backends sqlite,postgres] [--batch 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import msgspec

from import_rate import database, drop
from ledger.application import Ledger
from benchlib import import_lines
from ledger.config import parse_database_url
from ledger.demo import Company
from ledger.bootstrap import projector_for


def run(backend: str, batch: int, folder: str) -> dict[str, float]:
    lines = [msgspec.json.encode(b) for b in Company().commands()]
    url = database(backend, folder)
    try:
        with Ledger(parse_database_url(url)) as ledger:
            started = time.perf_counter()
            import_lines(ledger, lines)
            imported = time.perf_counter() - started
            events = ledger.max_position()
            started = time.perf_counter()
            decoded = 0
            position = 0
            while True:
                notes = ledger.app.recorder.select_notifications(start=position + 1, limit=batch)
                for n in notes:
                    ledger.app.mapper.to_domain_event(n)
                    decoded += 1
                if len(notes) < batch:
                    break
                position = notes[-1].id
            reference = time.perf_counter() - started
            projector = projector_for(ledger)
            started = time.perf_counter()
            projector.catch_up(batch_size=batch)
            projected = time.perf_counter() - started
    finally:
        drop(url)
    return {"commands": len(lines), "import_s": imported, "events": events,
            "read_rate": decoded / reference, "rate": events / projected, "seconds": projected}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            r = run(backend, args.batch, folder)
            print(f"{backend:9s} demo log {r['events']:,} events ({r['commands']:,} commands imported "
                  f"in {r['import_s']:.1f}s); all projections caught up in {r['seconds']:.1f}s = "
                  f"{r['rate']:,.0f} events/s; read+decode alone {r['read_rate']:,.0f} events/s "
                  f"(ratio {r['read_rate'] / r['rate']:.1f}x)", flush=True)


if __name__ == "__main__":
    main()
