"""Seed a store for ``bench/load_http.py`` (run by the Python of the server version under
test, so the store is written by that version's own code).

    python bench/load_seed.py URL KEYS_FILE OUT_JSON [--extra-sales N]

The demo company (``ledger.demo.Company``: a year of a 60-rep, 300-customer company, its
twelve closes and payouts), optionally preceded by N generated sales (``sales_file``: the
demo's closes then include them), 64 customers for the bench's own sales, the projections
caught up; then API keys for a finance reader and the order service (a plain ``{key: user}``
file for versions without ``ledger.api.keyfile``)."""

from __future__ import annotations

import json
import secrets
import sys
import time

import msgspec

from ledger.application import Ledger
from benchlib import import_lines
from ledger.config import parse_database_url
from ledger.demo import Company, sales_file
from ledger.bootstrap import projector_for

BENCH_CUSTOMERS = 64


def main() -> None:
    url, keys_path, out = sys.argv[1:4]
    extra = int(sys.argv[sys.argv.index("--extra-sales") + 1]) if "--extra-sales" in sys.argv else 0
    started = time.perf_counter()
    lines = [msgspec.json.encode(b) for b in sales_file(extra)] if extra else []
    lines += [msgspec.json.encode(b) for b in Company().commands()]
    lines += [msgspec.json.encode({
        "command": "RegisterCustomer", "command_id": f"load-cust-{i:03d}", "actor": "sa-wu",
        "occurred_at": "2026-01-05T10:00:00+08:00", "customer_id": f"LC-{i:03d}",
        "name": f"Load {i}", "credit_limit": 10**13, "payment_terms_days": 30,
        "region": "east"}) for i in range(BENCH_CUSTOMERS)]
    with Ledger(parse_database_url(url)) as ledger:
        report = import_lines(ledger, lines)
        imported = time.perf_counter() - started
        projector_for(ledger).catch_up(batch_size=1000)
        events = ledger.max_position()
    caught_up = time.perf_counter() - started - imported
    keys: dict[str, str] = {}
    try:
        from ledger.api import keyfile
    except ImportError:  # before the hashed keys file: {key: user}
        plain = {secrets.token_urlsafe(32): u for u in ("fin-li", "svc-orders")}
        with open(keys_path, "w") as f:
            json.dump(plain, f)
        keys = {u: k for k, u in plain.items()}
    else:
        for user in ("fin-li", "svc-orders"):
            keys[user] = keyfile.add(keys_path, user)[0]
    with open(out, "w") as f:
        json.dump({"events": events, "commands": len(lines), "applied": report["applied"],
                   "rejected": len(report["rejected"]), "import_seconds": round(imported, 1),
                   "catch_up_seconds": round(caught_up, 1), "keys": keys}, f)


if __name__ == "__main__":
    main()
