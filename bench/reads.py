"""Read latencies through ``ledger serve`` on an existing, caught-up PostgreSQL schema
(issue 12, the "Reads" goals), each beside ``/healthz`` on the same server in the same run.

    .venv/bin/python bench/reads.py --url 'postgresql://127.0.0.1:5432/test?schema=NAME'
        [--seconds 3] [--clients 1,32] [--period 2025-06] [--as-of 2025-12-31] [--workers 1]
        [--cases healthz,commission,commission_open,receivables,aging] [--json FILE]

``bench_reads(url, ...)`` returns a JSON-able dict (``bench/run.py`` may call it):

- ``cases``: per case and client count, p50/p99 (ms), requests and requests/s; the cases are
  ``commission`` (``GET /v1/reps/R/commission/PERIOD``, a closed month, every rep),
  ``commission_open`` (the month after the last closed one: the facts so far),
  ``receivables`` (``GET /v1/customers/C/receivables``, every customer) and the reference
  ``healthz`` (no database: the HTTP floor of this server, client and machine);
- ``aging``: ``GET /v1/aging?as_of=D`` at one client, its p50/max (ms) over a few requests,
  with the open items on D (sales with a positive open amount, counted in SQL on the
  projection's tables) and the sales invoiced by D.

Each client is a thread with one keep-alive connection (``http.client``, cheaper per
request than httpx, so less of the two cores goes to the client), sending its next request
as soon as the last is answered. The client threads share the machine with the server: at
32 clients compare a case with ``healthz`` at 32, not with its own 1-client figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "LEDGER_"))}
    env["LEDGER_DATABASE_URL"] = url
    return env


class Server:
    """``ledger serve`` (one worker, its background projector) on a free port."""

    def __init__(self, url: str, folder: str, workers: int = 1) -> None:
        keys = f"{folder}/keys.json"
        out = subprocess.run([str(BIN / "ledger"), "keys", "add", "fin-li", "--file", keys],
                             env=_env(url), capture_output=True, text=True, check=True)
        self.key = out.stdout.strip().splitlines()[-1].strip()
        self.port = _free_port()
        self.log = open(f"{folder}/serve.log", "w")  # noqa: SIM115 - closed in stop()
        cmd = [str(BIN / "ledger"), "serve", "--port", str(self.port), "--keys-file", keys]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, env=_env(url), stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=folder)
        deadline = time.monotonic() + 300
        while True:
            try:
                if self.get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("ledger serve did not start: "
                                   f"{Path(self.log.name).read_text()[-2000:]}")
            time.sleep(0.3)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def get(self, path: str, conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
        own = conn is None
        c = conn or self.connection()
        try:
            c.request("GET", path, headers={"Authorization": f"Bearer {self.key}"})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            if own:
                c.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _quantile(samples: list[float], p: float) -> float:
    return round(1000 * samples[min(len(samples) - 1, int(p * len(samples)))], 2)


def latencies(server: Server, paths: list[str], clients: int, seconds: float,
              warmup: float = 0.5) -> dict[str, Any]:
    """``clients`` threads, each sending its next GET (a random path of ``paths``) when
    the last is answered; p50/p99 of the answers after ``warmup``."""
    samples: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    def client(i: int) -> None:
        rng = random.Random(i)
        mine: list[float] = []
        conn = server.connection()
        try:
            while (now := time.monotonic()) < stop_at:
                path = rng.choice(paths)
                t0 = time.perf_counter()
                status, body = server.get(path, conn)
                dt = time.perf_counter() - t0
                if status != 200:
                    with lock:
                        errors.append(f"{status} {path} {body[:200]!r}")
                elif now >= measure_from:
                    mine.append(dt)
        finally:
            conn.close()
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    load = os.getloadavg()[0]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[:3]}")
    samples.sort()
    return {"clients": clients, "requests": len(samples), "per_s": round(len(samples) / seconds),
            "p50_ms": _quantile(samples, 0.5), "p99_ms": _quantile(samples, 0.99),
            "load_average": round(load, 2)}


def _timed_gets(server: Server, path: str, seconds: float, at_least: int = 3) -> dict[str, Any]:
    """One client: the same GET again and again for ``seconds`` (at least ``at_least``)."""
    times: list[float] = []
    conn = server.connection()
    try:
        stop_at = time.monotonic() + seconds
        server.get(path, conn)  # warm-up
        while len(times) < at_least or time.monotonic() < stop_at:
            t0 = time.perf_counter()
            status, body = server.get(path, conn)
            times.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"{status} {path} {body[:300]!r}")
    finally:
        conn.close()
    times.sort()
    return {"requests": len(times), "p50_ms": _quantile(times, 0.5),
            "max_ms": round(1000 * times[-1], 2)}


# --- what the log holds (ids, dates, open items), read from the projections' tables -----------

def _connect(url: str) -> Any:
    import psycopg

    from ledger.config import parse_database_url

    db = parse_database_url(url)
    e = db.env
    conn = psycopg.connect(dbname=e["POSTGRES_DBNAME"], host=e["POSTGRES_HOST"],
                           port=e["POSTGRES_PORT"], user=e["POSTGRES_USER"],
                           password=e["POSTGRES_PASSWORD"], autocommit=True)
    conn.execute(f'SET search_path TO "{db.schema or "public"}"')
    return conn


def _table(conn: Any, projection: str, table: str) -> str:
    row = conn.execute("SELECT generation FROM projection_generations WHERE name = %s",
                       (projection,)).fetchone()
    return f"{projection}_{table}_g{row[0] if row else 1}"


def log_facts(url: str, as_of: str | None = None) -> dict[str, Any]:
    """Rep and customer ids, the last closed month and the aging date's open items."""
    with _connect(url) as conn:
        reps = [r[0] for r in conn.execute(
            f"SELECT rep_id FROM {_table(conn, 'commissions', 'reps')} ORDER BY rep_id")]
        customers = [r[0] for r in conn.execute(
            f"SELECT customer_id FROM {_table(conn, 'receivables', 'customers')} "
            "ORDER BY customer_id")]
        closed = conn.execute(
            f"SELECT MAX(period) FROM {_table(conn, 'commissions', 'closings')}").fetchone()[0]
        sales, movements = (_table(conn, "receivables", t) for t in ("sales", "movements"))
        if as_of is None:
            last = conn.execute(f"SELECT MAX(invoice_date) FROM {sales}").fetchone()[0]
            as_of = f"{last[:4]}-12-31"
        open_items, sales_rows = conn.execute(
            f"SELECT COUNT(*) FILTER (WHERE open_amount > 0), COUNT(*) FROM ("
            f"SELECT SUM(m.open_delta) AS open_amount FROM {sales} s "
            f"JOIN {movements} m ON m.sale_id = s.sale_id "
            "WHERE s.invoice_date <= %s AND m.business_date <= %s GROUP BY s.sale_id) x",
            (as_of, as_of)).fetchone()
    return {"reps": reps, "customers": customers, "last_closed": closed, "as_of": as_of,
            "open_items": int(open_items), "sales_rows": int(sales_rows)}


def _fresh_statistics(url: str) -> list[str]:
    from ledger.bootstrap import Runtime, Settings, refresh_statistics

    with Runtime(Settings(database_url=url)) as runtime:
        return refresh_statistics(runtime.projector())


def _next_month(period: str) -> str:
    y, m = int(period[:4]), int(period[5:7])
    return f"{y + m // 12}-{m % 12 + 1:02d}"


CASES = ("healthz", "commission", "commission_open", "receivables", "aging")


def bench_reads(url: str, *, seconds: float = 3.0, clients: tuple[int, ...] = (1, 32),
                period: str | None = None, as_of: str | None = None,
                aging_seconds: float = 3.0, workers: int = 1,
                cases: tuple[str, ...] = CASES) -> dict[str, Any]:
    """Read latencies on the caught-up schema of ``url`` (see the module's docstring);
    ``cases``: those of ``CASES`` to run (``healthz``, the reference, always runs)."""
    facts = log_facts(url, as_of)
    closed = facts["last_closed"]
    period = period or (f"{closed[:4]}-06" if closed else None)
    paths: dict[str, list[str]] = {"healthz": ["/healthz"]}
    if period and "commission" in cases:
        paths["commission"] = [f"/v1/reps/{r}/commission/{period}" for r in facts["reps"]]
    if closed and "commission_open" in cases:
        paths["commission_open"] = [f"/v1/reps/{r}/commission/{_next_month(closed)}"
                                    for r in facts["reps"]]
    if "receivables" in cases:
        paths["receivables"] = [f"/v1/customers/{c}/receivables" for c in facts["customers"]]
    out: dict[str, Any] = {"url_schema": url.split("schema=")[-1], "workers": workers,
                           "seconds_per_case": seconds, "period": period,
                           "open_period": _next_month(closed) if closed else None,
                           "reps": len(facts["reps"]), "customers": len(facts["customers"]),
                           "cases": {}}
    with tempfile.TemporaryDirectory() as folder:
        server = Server(url, folder, workers)
        try:
            # the server's projector refreshes the planner's statistics at start: measure
            # once that is done (ANALYZE waits for one in progress, then finds none stale)
            out["analyzed_here"] = _fresh_statistics(url)
            for name, some in paths.items():
                out["cases"][name] = {str(n): latencies(server, some, n, seconds)
                                      for n in clients}
                print(f"{name}: {json.dumps(out['cases'][name])}", file=sys.stderr, flush=True)
            if "aging" in cases:
                aging = _timed_gets(server, f"/v1/aging?as_of={facts['as_of']}", aging_seconds)
                out["aging"] = {
                    "as_of": facts["as_of"], **aging, "open_items": facts["open_items"],
                    "sales_rows": facts["sales_rows"],
                    "healthz_p50_ms": out["cases"]["healthz"][str(clients[0])]["p50_ms"]}
                print(f"aging: {json.dumps(out['aging'])}", file=sys.stderr, flush=True)
        finally:
            server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql://...?schema=NAME (caught up)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per case and client count")
    parser.add_argument("--clients", default="1,32")
    parser.add_argument("--period", help="closed month of the commission case (default: "
                                         "June of the last closed month's year)")
    parser.add_argument("--as-of", help="aging date (default: 31 December of the last sale's year)")
    parser.add_argument("--aging-seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"of {','.join(CASES)} (healthz always runs)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = bench_reads(args.url, seconds=args.seconds,
                          clients=tuple(int(n) for n in args.clients.split(",")),
                          period=args.period, as_of=args.as_of,
                          aging_seconds=args.aging_seconds, workers=args.workers,
                          cases=tuple(args.cases.split(",")))
    text = json.dumps(figures, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
