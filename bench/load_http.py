"""HTTP load on ``ledger serve`` over loopback (issue 13), with locust.

    .venv/bin/python bench/load_http.py [--before /tmp/before] [--stores sqlite,postgres]
        [--users 1,8,32] [--seconds 10] [--warmup 2] [--extra-sales 0] [--write]

For each store, and for each server version: seed a fresh store with the demo company
(``bench/load_seed.py``, run by that version's own Python), start ``ledger serve`` on
127.0.0.1, and run three cases at each user count, each user sending its next request as
soon as the last is answered (``bench/load_locust.py``):

- ``commission``: ``GET /v1/reps/REP-nnn/commission/2025-06`` (a closed month), as finance;
- ``receivables``: ``GET /v1/customers/CUST-nnnn/receivables``, as finance;
- ``sale``: ``POST /v1/commands`` of one ``RecordSale`` (each user its own sale ids and
  invoice numbers), as the order service; a non-``applied`` answer counts as a failure.

Versions: ``before`` is the checkout given by ``--before`` (its own ``.venv``: the server of
commit 01cf16f, one process, reads catching up themselves), ``after-w1`` and ``after-w2``
this checkout with ``--workers 1`` and ``--workers 2`` (one store, seeded once). Figures
go to ``bench/load_http.json``; ``--write`` also appends a section to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PG_URL = os.environ.get("LEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CASES = ("commission", "receivables", "sale")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_store(store: str, folder: str) -> str:
    tag = uuid.uuid4().hex[:8]
    if store == "sqlite":
        return f"sqlite:///{folder}/load-{tag}.db"
    return f"{PG_URL}?schema=load_{tag}"


def drop(url: str) -> None:
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{url.split("schema=")[1]}" CASCADE')


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def seed(checkout: Path, url: str, folder: str, extra_sales: int) -> tuple[str, dict]:
    keys = f"{folder}/keys-{uuid.uuid4().hex[:6]}.json"
    out = f"{folder}/seed-{uuid.uuid4().hex[:6]}.json"
    cmd = [str(checkout / ".venv/bin/python"), str(HERE / "load_seed.py"), url, keys, out]
    if extra_sales:
        cmd += ["--extra-sales", str(extra_sales)]
    subprocess.run(cmd, check=True, cwd=folder)
    return keys, json.loads(Path(out).read_text())


def start_server(checkout: Path, url: str, keys: str, workers: int | None,
                 folder: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [str(checkout / ".venv/bin/ledger"), "serve", "--port", str(port), "--keys-file", keys]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("POSTGRES_", "LEDGER_"))}
    env["LEDGER_DATABASE_URL"] = url
    log = open(f"{folder}/server-{port}.log", "w")
    proc = subprocess.Popen(cmd, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {Path(log.name).read_text()[-2000:]}")
        time.sleep(0.3)


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_case(base: str, case: str, users: int, keys: dict, args: argparse.Namespace,
             folder: str, run: str) -> dict:
    config = f"{folder}/case.json"
    out = f"{folder}/case-out.json"
    Path(config).write_text(json.dumps({
        "host": base, "case": case, "users": users, "seconds": args.seconds,
        "warmup": args.warmup, "keys": keys, "run": run}))
    subprocess.run([sys.executable, str(HERE / "load_locust.py"), config, out], check=True,
                   cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(Path(out).read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default="", help="checkout of the 'before' server (own .venv)")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--versions", default="before,after-w1,after-w2")
    parser.add_argument("--users", default="1,8,32")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--extra-sales", type=int, default=0)
    parser.add_argument("--json", default=str(HERE / "load_http.json"))
    parser.add_argument("--write", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    versions = [v for v in args.versions.split(",") if v != "before" or args.before]
    started = datetime.now(timezone.utc)
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        for store in args.stores.split(","):
            seeded: dict[str, tuple[str, str, dict]] = {}  # code -> (url, keys, seed report)
            try:
                for version in versions:
                    code = "before" if version == "before" else "after"
                    checkout = Path(args.before) if code == "before" else ROOT
                    if code not in seeded:
                        url = new_store(store, folder)
                        keys_path, report = seed(checkout, url, folder, args.extra_sales)
                        seeded[code] = (url, keys_path, report)
                        print(f"{store} {code}: seeded {report['events']:,} events "
                              f"({report['import_seconds']}s + {report['catch_up_seconds']}s "
                              f"catch-up, {report['rejected']} rejected)", flush=True)
                    url, keys_path, report = seeded[code]
                    workers = None if code == "before" else int(version.split("-w")[1])
                    proc, base = start_server(checkout, url, keys_path, workers, folder)
                    try:
                        time.sleep(2)  # let a background projector settle
                        for case in args.cases.split(","):
                            for users in (int(u) for u in args.users.split(",")):
                                load = loadavg()
                                r = run_case(base, case, users, report["keys"], args, folder,
                                             f"{version}{uuid.uuid4().hex[:4]}")
                                r.update(store=store, version=version, events=report["events"],
                                         loadavg=load)
                                results.append(r)
                                print(f"{store:8s} {version:9s} {case:11s} {users:3d} users: "
                                      f"{r['rps']:7.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                                      f"p99 {r['p99_ms']:7.1f} ms  ({r['requests']} ok, "
                                      f"{r['failures']} failed; load {load})", flush=True)
                                if r["failures"]:
                                    print("   e.g.", r["failure_sample"][:1], flush=True)
                    finally:
                        stop_server(proc)
            finally:
                for url, _, _ in seeded.values():
                    drop(url)
    document = {"date": started.isoformat(timespec="seconds"), "cores": os.cpu_count(),
                "command": " ".join(["bench/load_http.py", *sys.argv[1:]]),
                "seconds": args.seconds, "warmup": args.warmup, "results": results}
    Path(args.json).write_text(json.dumps(document, indent=1) + "\n")
    if args.write:
        with open(HERE / "RESULTS.md", "a") as f:
            f.write(markdown(document))


def markdown(doc: dict) -> str:
    rows = doc["results"]
    versions = list(dict.fromkeys(r["version"] for r in rows))
    keyed = {(r["store"], r["case"], r["users"], r["version"]): r for r in rows}
    out = [f"\n## HTTP load: commission, receivables, RecordSale (issue 13)\n\n",
           f"```sh\n.venv/bin/python {doc['command']}\n```\n\n",
           f"Run {doc['date']} on {doc['cores']} cores; each case {doc['seconds']:g} s measured "
           f"after {doc['warmup']:g} s of warm-up, locust (one process, FastHttpUser, no think "
           "time) on the same machine. Cells: requests/s, p50 and p99 in ms.\n"]
    for store in dict.fromkeys(r["store"] for r in rows):
        mine = [r for r in rows if r["store"] == store]
        events = ", ".join(f"{v} {max(r['events'] for r in mine if r['version'] == v):,}"
                           for v in versions if any(r["version"] == v for r in mine))
        loads = [float(r["loadavg"].split()[0]) for r in mine]
        out.append(f"\n**{store}** (events seeded: {events}; 1-minute load "
                   f"average {min(loads):.1f}–{max(loads):.1f})\n\n")
        out.append("| case | users | " + " | ".join(versions) + " |\n")
        out.append("|---|---|" + "---|" * len(versions) + "\n")
        for case, users in dict.fromkeys((r["case"], r["users"]) for r in mine):
            cells = []
            for v in versions:
                r = keyed.get((store, case, users, v))
                cells.append("–" if r is None else
                             f"{r['rps']:,.0f}/s, {r['p50_ms']:.1f}, {r['p99_ms']:.1f}"
                             + (f" ({r['failures']} failed)" if r["failures"] else ""))
            out.append(f"| {case} | {users} | " + " | ".join(cells) + " |\n")
    return "".join(out)


if __name__ == "__main__":
    main()
