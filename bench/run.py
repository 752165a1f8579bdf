"""Every PostgreSQL benchmark of issues 12 and 10, end to end, each figure beside a
reference measured in the same run (``make bench``).

    .venv/bin/python bench/run.py [--events 1000000] [--rss-sizes 250000,1000000]
        [--sales 20000] [--naive 1000] [--seconds 8] [--json bench/results.json]
        [--markdown bench/RESULTS.md] [--smoke]

Sections (PostgreSQL, each run in its own schema, dropped at the end):

- ingest: ``ledger import``'s path (``import_lines``) over N generated sale lines, against
  raw COPY of the same rows (read back from the log) into a plain table, and against the
  same lines one command per transaction (``Ledger.execute_one``);
- the log: ``--events`` events written by ``bench/generate.py`` (divisions of the demo
  company), then every projection caught up in a child process (rate, peak RSS:
  its own ``VmHWM``) against raw read + msgspec decode of the same rows; the catch-up's peak
  RSS again at each of ``--rss-sizes``;
- reads on that log through ``ledger serve``: commission statement and customer
  receivables, p50/p99 at 1 and 32 clients, against ``/healthz`` (the server's floor) at
  the same client counts; the aging report;
- issue 10 on that log: ``ledger verify`` rate against raw SHA-256 of the same preimages,
  ``ledger replay rebuild`` rate and peak RSS, one as-of query (``--at-position``) and
  one ``ledger replay explain commission``, each against the same query live;
- profiles (cProfile) of ingest and catch-up: the top functions by own time.

``--smoke`` runs every section at toy sizes (the test suite's smoke test).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib import (  # noqa: E402
    drop, fresh_schema, import_lines, load, machine, pg_connect, raw_copy, sale_lines,
)
from generate import (  # noqa: E402
    Generated,
    UnpaidCompany,
    build_template,
    copies_for,
    divisions_log,
    events_per_copy,
    write_postgres,
)
from ledger.application import Ledger  # noqa: E402
from ledger.config import parse_database_url  # noqa: E402
from ledger.demo import Company  # noqa: E402
from ledger.replay.chain import GENESIS, preimage  # noqa: E402
from ledger.domain.model import Closings  # noqa: E402
from eventsourcing.utils import get_topic  # noqa: E402


BIN = Path(sys.executable).parent


def log(message: str) -> None:
    print(f"[{datetime.now(timezone.utc):%H:%M:%S} load {load():.1f}] {message}", flush=True)


def child_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "LEDGER_"))}
    env["LEDGER_DATABASE_URL"] = url
    env["PYTHONPATH"] = str(HERE)
    return env


def _vm_hwm_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def run_child(cmd: list[str], url: str, check: bool = True) -> dict[str, Any]:
    """Run a command; its wall time, its peak RSS and its stdout.

    The peak is the child's own ``VmHWM`` (its address space's high-water mark since
    ``exec``), read from /proc every 50 ms until it exits. Not ``ru_maxrss`` of
    ``os.wait4``: Linux carries the forking parent's high-water mark across ``exec``
    into it, so a child of a big parent would report the parent's size."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=child_env(url), cwd=HERE)
        peak = 0.0
        while True:
            hwm = _vm_hwm_mib(proc.pid)
            if hwm is not None:
                peak = max(peak, hwm)
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {stderr[-2000:]}")
    return {"seconds": seconds, "peak_rss_mib": peak, "stdout": stdout,
            "returncode": proc.returncode, "command": " ".join(cmd[1:] if "python" in cmd[0] else
                                                               ["ledger", *cmd[1:]])}


def top_of_profile(prof: Any, n: int = 15) -> dict[str, Any]:
    stats = pstats.Stats(prof, stream=io.StringIO())
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (file, line, fn), (_cc, calls, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{Path(file).name}:{line}({fn})", "calls": calls,
                     "own_s": round(tt, 3), "cumulative_s": round(ct, 3),
                     "own_pct": round(100 * tt / total, 1) if total else 0.0})
    by_own = sorted(rows, key=lambda r: -r["own_s"])[:n]
    ours = [r for r in rows if any(k in r["function"] for k in _OURS)]
    by_cumulative = sorted(ours, key=lambda r: -r["cumulative_s"])[:n]
    return {"total_s": round(total, 2), "own": by_own, "cumulative_ledger": by_cumulative}


_OURS = ("application.py", "engine.py", "sales.py", "context.py", "receivables.py",
         "commissions.py", "general_ledger.py", "audit.py", "kpis.py", "budgets.py",
         "recorders.py", "chain.py", "persistence.py", "postgres.py", "cli.py", "common.py",
         "transcoder.py", "records.py", "customers.py", "trips.py", "policies.py")


# --- ingest ------------------------------------------------------------------------------

def bench_ingest(sales: int, naive: int, profile_sales: int) -> dict[str, Any]:
    setup, lines = sale_lines(sales)
    url = fresh_schema("ingest")
    url2 = fresh_schema("naive")
    url3 = fresh_schema("prof")
    try:
        with Ledger(parse_database_url(url)) as ledger:
            import_lines(ledger, setup)
            before = ledger.max_position()
            load_at = load()
            started = time.perf_counter()
            report = import_lines(ledger, lines)
            seconds = time.perf_counter() - started
            if report["applied"] != sales or report["rejected"]:
                raise RuntimeError(f"ingest: {report['applied']} applied, {report['rejected'][:3]}")
            events = ledger.max_position() - before
        with pg_connect(url) as conn:
            rows = conn.execute("SELECT originator_id, originator_version, topic, state FROM "
                                "ledger_events WHERE notification_id > %s ORDER BY notification_id",
                                (before,)).fetchall()
        size = statistics.fmean(len(r[3]) for r in rows)
        copy_rate = raw_copy(rows)
        with Ledger(parse_database_url(url2)) as ledger:
            import_lines(ledger, setup)
            before2 = ledger.max_position()
            started = time.perf_counter()
            for raw in lines[:naive]:
                answer = ledger.execute_one(msgspec.json.decode(raw))
                if answer["status"] != "applied":
                    raise RuntimeError(f"naive ingest: {answer}")
            naive_s = time.perf_counter() - started
            naive_events = ledger.max_position() - before2
        recorders = bench_recorders(setup, lines, rows, events / seconds)
        with Ledger(parse_database_url(url3)) as ledger:  # the profile: a smaller run
            import_lines(ledger, setup)
            prof = cProfile.Profile()
            prof.enable()
            import_lines(ledger, lines[:profile_sales])
            prof.disable()
    finally:
        for u in (url, url2, url3):
            drop(u)
    rate = events / seconds
    return {
        "sales": sales, "events": events, "seconds": round(seconds, 2),
        "commands_per_s": round(sales / seconds), "events_per_s": round(rate),
        "event_bytes_avg": round(size), "load_average": round(load_at, 2),
        "copy_rows_per_s": round(copy_rate), "ratio_to_copy": round(rate / copy_rate, 4),
        "naive_commands": naive, "naive_commands_per_s": round(naive / naive_s),
        "naive_events_per_s": round(naive_events / naive_s),
        "ratio_to_naive": round((sales / seconds) / (naive / naive_s), 2),
        "profile_sales": profile_sales, "profile": top_of_profile(prof),
        "recorders": recorders,
    }


def library_database(url: str) -> Any:
    """The database of ``url`` on the recorder built on the library's own PostgreSQL
    recorder (``ledger.store.recorders``), the default before ``pg_fast`` became it."""
    from dataclasses import replace

    from eventsourcing.utils import get_topic

    from ledger.store.recorders import PostgresLedgerRecorder

    db = parse_database_url(url)
    return replace(db, env={**db.env,
                            "APPLICATION_RECORDER_TOPIC": get_topic(PostgresLedgerRecorder)})


def bench_recorders(setup: list[bytes], lines: list[bytes], rows: list[tuple[Any, ...]],
                    default_rate: float) -> dict[str, Any]:
    """The default recorder (``ledger.store.pg_fast``) against the one on the library's
    recorder, same run: the same import (at most 5,000 lines), and the recorders alone
    (``insert_events`` of the ingest's own rows, 1,000 a call)."""
    from eventsourcing.persistence import StoredEvent

    lines = lines[:5_000]
    out: dict[str, Any] = {"library_recorder": "ledger.store.recorders:PostgresLedgerRecorder",
                           "default_recorder": "ledger.store.pg_fast:FastPostgresLedgerRecorder"}
    url = fresh_schema("lib")
    try:
        with Ledger(library_database(url)) as ledger:
            import_lines(ledger, setup)
            before = ledger.max_position()
            started = time.perf_counter()
            report = import_lines(ledger, lines)
            seconds = time.perf_counter() - started
            if report["applied"] != len(lines):
                raise RuntimeError(f"library-recorder ingest: {report['rejected'][:3]}")
            events = ledger.max_position() - before
        out.update(library_sales=len(lines), library_commands_per_s=round(len(lines) / seconds),
                   library_events_per_s=round(events / seconds))
        out["default_to_library_ingest"] = round(default_rate / out["library_events_per_s"], 2)
    finally:
        drop(url)
    stored = [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in rows]
    for name, make in (("library", library_database), ("default", parse_database_url)):
        url = fresh_schema("rec")
        try:
            with Ledger(make(url)) as ledger:
                recorder = ledger.app.recorder
                started = time.perf_counter()
                for i in range(0, len(stored), 1000):
                    recorder.insert_events(stored[i:i + 1000])
                out[f"insert_events_{name}_rows_per_s"] = round(
                    len(stored) / (time.perf_counter() - started))
        finally:
            drop(url)
    out["insert_events_ratio"] = round(out["insert_events_default_rows_per_s"]
                                       / out["insert_events_library_rows_per_s"], 2)
    return out


# --- the big log, catch-up ------------------------------------------------------------------

class LogMaker:
    """One template (the demo company through the command path), many logs from it."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self._folder = tempfile.TemporaryDirectory()
        started = time.perf_counter()
        self.template = build_template(company, self._folder.name)
        self.template_seconds = time.perf_counter() - started

    def make(self, events: int, tag: str) -> Generated:
        url = fresh_schema(tag)
        copies = copies_for(events, events_per_copy(self.template))
        started = time.perf_counter()
        n = write_postgres(url, divisions_log(self.template, copies))
        return Generated(url=url, events=n, copies=copies,
                         template_events=len(self.template.events),
                         template_seconds=self.template_seconds,
                         write_seconds=time.perf_counter() - started,
                         company={"seed": self.company.seed, "reps": self.company.reps,
                                  "customers": self.company.customers})


def raw_read_decode(url: str, page: int = 10_000) -> dict[str, Any]:
    """Read every event row (keyset pages, binary) and msgspec-decode its payload."""
    decoder = msgspec.json.Decoder()
    n = 0
    last = 0
    started = time.perf_counter()
    with pg_connect(url) as conn, conn.cursor(binary=True) as cur:
        while True:
            cur.execute("SELECT notification_id, topic, state FROM ledger_events "
                        "WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
                        (last, page), prepare=True)
            rows = cur.fetchall()
            for _id, _topic, state in rows:
                decoder.decode(state)
            n += len(rows)
            if len(rows) < page:
                break
            last = rows[-1][0]
    seconds = time.perf_counter() - started
    return {"events": n, "seconds": round(seconds, 2), "events_per_s": round(n / seconds)}


def catch_up(url: str, profile: str | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "catch_up_child.py"), url]
    if profile:
        cmd += ["--profile", profile]
    load_at = load()
    r = run_child(cmd, url)
    inner = json.loads(r["stdout"].strip().splitlines()[-1])
    return {"events": inner["events"], "seconds": round(inner["seconds"], 2),
            "events_per_s": round(inner["rate"]),
            "peak_rss_mib": round(max(inner["peak_rss_mib"], r["peak_rss_mib"]), 1),
            "rss_before_catch_up_mib": round(inner["rss_before_mib"], 1),
            "load_average": round(load_at, 2)}


# --- issue 10 --------------------------------------------------------------------------------

def raw_sha256(url: str, page: int = 10_000) -> dict[str, Any]:
    """SHA-256 of every event's chain preimage (the same bytes ``verify`` hashes), timing
    the hashing only; and the same with the reads, for the whole pass."""
    import hashlib

    hashed = 0.0
    n = 0
    last = 0
    prev = GENESIS
    started = time.perf_counter()
    with pg_connect(url) as conn, conn.cursor(binary=True) as cur:
        while True:
            cur.execute("SELECT notification_id, originator_id, originator_version, topic, state "
                        "FROM ledger_events WHERE notification_id > %s ORDER BY notification_id "
                        "LIMIT %s", (last, page), prepare=True)
            rows = cur.fetchall()
            pres = []
            for p, o, v, t, s in rows:
                pre = preimage(prev, p, o, v, t, s)
                pres.append(pre)
                prev = hashlib.sha256(pre).digest()
            t0 = time.perf_counter()
            for pre in pres:
                hashlib.sha256(pre).digest()
            hashed += time.perf_counter() - t0
            n += len(rows)
            if len(rows) < page:
                break
            last = rows[-1][0]
    whole = time.perf_counter() - started
    return {"events": n, "sha256_per_s": round(n / hashed),
            "read_and_hash_per_s": round(n / whole)}


def bench_issue10(url: str, company: Company, events: int) -> dict[str, Any]:
    ledger_bin = str(BIN / "ledger")
    out: dict[str, Any] = {}
    load_at = load()
    v = run_child([ledger_bin, "verify", "--json"], url)
    doc = json.loads(v["stdout"])
    if not doc["ok"]:
        raise RuntimeError(f"verify found a break: {doc['first_break']}")
    raw = raw_sha256(url)
    out["verify"] = {
        "command": v["command"], "events": doc["events"], "wall_seconds": round(v["seconds"], 2),
        "events_per_s": doc["rate"]["events_per_second"],
        "wall_events_per_s": round(doc["events"] / v["seconds"]),
        "own_sha256_sample_per_s": doc["rate"]["sha256_per_second"],
        "raw_sha256_per_s": raw["sha256_per_s"], "raw_read_and_sha256_per_s": raw["read_and_hash_per_s"],
        "ratio_to_raw_sha256": round(doc["rate"]["events_per_second"] / raw["sha256_per_s"], 4),
        "ratio_to_raw_read_and_sha256": round(doc["rate"]["events_per_second"] / raw["read_and_hash_per_s"], 4),
        "peak_rss_mib": round(v["peak_rss_mib"], 1), "load_average": round(load_at, 2),
    }
    log(f"verify: {out['verify']}")
    rep = "REP-002"
    period = f"{company.year}-01"
    live = run_child([ledger_bin, "query", "commission", "--rep", rep, "--period", period,
                      "--json"], url)
    # as of the position just after January's close: the first twelfth of the log, replayed
    position = first_close(url)
    asof = run_child([ledger_bin, "query", "commission", "--rep", rep, "--period", period,
                      "--at-position", str(position), "--json"], url)
    explain = run_child([ledger_bin, "replay", "explain", "commission", "--rep", rep,
                         "--period", period, "--json"], url)
    answer_live, answer_asof = json.loads(live["stdout"]), json.loads(asof["stdout"])
    out["as_of"] = {"command": asof["command"], "position": position,
                    "seconds": round(asof["seconds"], 2),
                    "peak_rss_mib": round(asof["peak_rss_mib"], 1),
                    "live_command": live["command"], "live_seconds": round(live["seconds"], 2),
                    "same_answer_as_live": answer_live == answer_asof}
    out["explain"] = {"command": explain["command"], "seconds": round(explain["seconds"], 2),
                      "live_query_seconds": round(live["seconds"], 2),
                      "value_equals_query": json.loads(explain["stdout"]).get("value")
                      == answer_live.get("total")}
    log(f"as-of: {out['as_of']}; explain: {out['explain']}")
    load_at = load()
    rb = run_child([ledger_bin, "replay", "rebuild", "--json"], url)
    out["rebuild"] = {"command": rb["command"], "events": events,
                      "seconds": round(rb["seconds"], 2),
                      "events_per_s": round(events / rb["seconds"]),
                      "peak_rss_mib": round(rb["peak_rss_mib"], 1),
                      "load_average": round(load_at, 2)}
    log(f"rebuild: {out['rebuild']}")
    return out


def first_close(url: str) -> int:
    with pg_connect(url) as conn:
        row = conn.execute("SELECT MIN(notification_id) FROM ledger_events WHERE topic = %s",
                           (get_topic(Closings.MonthClosed),)).fetchone()
    return int(row[0] or 1)


def bench_rss(company: Company, sizes: list[int]) -> list[dict[str, Any]]:
    """Peak RSS of a catch-up, a verify and a rebuild (each its own process) per log size."""
    maker = LogMaker(company)
    out = []
    for size in sorted(sizes):
        g = maker.make(size, "rss")
        try:
            c = catch_up(g.url)
            v = run_child([str(BIN / "ledger"), "verify", "--json"], g.url)
            rb = run_child([str(BIN / "ledger"), "replay", "rebuild", "--json"], g.url)
            out.append({"events": g.events, "catch_up_peak_rss_mib": c["peak_rss_mib"],
                        "catch_up_events_per_s": c["events_per_s"],
                        "verify_peak_rss_mib": round(v["peak_rss_mib"], 1),
                        "rebuild_peak_rss_mib": round(rb["peak_rss_mib"], 1),
                        "rebuild_events_per_s": round(g.events / rb["seconds"]),
                        "load_average": round(load(), 2)})
            log(f"rss: {out[-1]}")
        finally:
            drop(g.url)
    return out


# --- the report ------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rss-sizes", default="5000000",
                        help="more log sizes for the catch-up's peak RSS (besides --events)")
    parser.add_argument("--profile-events", type=int, default=100_000,
                        help="the log size of the catch-up run under cProfile (0: none)")
    parser.add_argument("--sales", type=int, default=20_000)
    parser.add_argument("--naive", type=int, default=1_000)
    parser.add_argument("--profile-sales", type=int, default=3_000)
    parser.add_argument("--seconds", type=float, default=4.0, help="per read case and client count")
    parser.add_argument("--unpaid-share", type=float, default=0.75,
                        help="share of the generated company's customers that never pay (their "
                             "sales stay open: the aging report's 100,000 open items)")
    parser.add_argument("--clients", default="1,32")
    parser.add_argument("--json", default=str(HERE / "results.json"))
    parser.add_argument("--markdown", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--smoke", action="store_true", help="toy sizes, for the test suite")
    parser.add_argument("--keep", action="store_true", help="keep the generated schemas")
    parser.add_argument("--rss-only", action="store_true",
                        help="only peak RSS: catch-up, verify and rebuild at each --rss-sizes")
    parser.add_argument("--ingest-only", action="store_true",
                        help="only the ingest section (with the pg_fast recorder); JSON only")
    args = parser.parse_args()
    company: Company = UnpaidCompany(unpaid_share=args.unpaid_share)
    if args.smoke:
        company = UnpaidCompany(reps=4, customers=9, sales_per_rep_month=(1, 3),
                                unpaid_share=args.unpaid_share)
        args.events, args.rss_sizes, args.sales, args.naive = 1_500, "700", 40, 5
        args.profile_events = 700
        args.profile_sales, args.seconds, args.clients = 10, 0.3, "1,2"
    command = " ".join([".venv/bin/python", "bench/run.py", *sys.argv[1:]])
    if os.environ.get("MAKELEVEL"):
        command += " (make bench)"
    started = time.perf_counter()
    doc: dict[str, Any] = {"run_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           "command": command, "machine": machine(), "smoke": args.smoke}
    clients = [int(c) for c in args.clients.split(",")]
    urls: list[str] = []

    def save() -> None:  # after each section: a late failure keeps the figures so far
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")

    try:
        if args.rss_only:
            doc["rss"] = bench_rss(company, [int(x) for x in args.rss_sizes.split(",") if x])
            doc["machine"]["load_average_1m_end"] = round(load(), 2)
            save()
            return
        log(f"ingest: {args.sales:,} sale lines")
        doc["ingest"] = bench_ingest(args.sales, args.naive, args.profile_sales)
        log(f"ingest: {({k: v for k, v in doc['ingest'].items() if k != 'profile'})}")
        save()
        if args.ingest_only:
            doc["machine"]["load_average_1m_end"] = round(load(), 2)
            save()
            return

        maker = LogMaker(company)
        doc["template"] = {"events": len(maker.template.events),
                           "seconds": round(maker.template_seconds, 2),
                           "company": {"seed": company.seed, "reps": company.reps,
                                       "customers": company.customers,
                                       "unpaid_share": getattr(company, "unpaid_share", None)}}
        sizes = sorted({args.events, *(int(s) for s in args.rss_sizes.split(",") if s)})
        doc["catch_up_rss"] = []
        big: Generated | None = None
        if args.profile_events:
            g = maker.make(args.profile_events, "prof")
            urls.append(g.url)
            with tempfile.TemporaryDirectory() as folder:
                profile = f"{folder}/catch_up.prof"
                r = catch_up(g.url, profile=profile)
                doc["catch_up_profile"] = {"events": r["events"], "events_per_s": r["events_per_s"],
                                           "top": top_of_profile(profile)}
            log(f"catch-up (profiled) at {g.events:,}: {r['events_per_s']:,} events/s")
            if not args.keep:
                drop(g.url)
                urls.remove(g.url)
            save()
        for size in sizes:
            g = maker.make(size, "log")
            urls.append(g.url)
            log(f"generated {g.events:,} events in {g.write_seconds:.1f}s")
            gen = {"events": g.events, "divisions": g.copies, "seconds": round(g.write_seconds, 2),
                   "events_per_s": round(g.events / g.write_seconds)}
            read = raw_read_decode(g.url)
            r = catch_up(g.url)
            r["ratio_to_read_decode"] = round(r["events_per_s"] / read["events_per_s"], 4)
            doc["catch_up_rss"].append({**gen, **{k: r[k] for k in (
                "peak_rss_mib", "events_per_s", "seconds", "ratio_to_read_decode")},
                "read_decode_events_per_s": read["events_per_s"]})
            log(f"catch-up at {g.events:,}: {r} (raw read + decode {read})")
            if size == args.events:
                big = g
                doc["log"] = gen
                doc["read_decode"] = read
                doc["catch_up"] = r
            elif not args.keep:
                drop(g.url)
                urls.remove(g.url)
            save()
        assert big is not None
        from reads import bench_reads

        doc["reads"] = bench_reads(big.url, seconds=args.seconds, clients=tuple(clients),
                                   aging_seconds=args.seconds)
        save()
        doc["issue10"] = bench_issue10(big.url, company, big.events)
    finally:
        if not args.keep:
            for u in urls:
                drop(u)
    doc["total_seconds"] = round(time.perf_counter() - started, 1)
    doc["machine"]["load_average_1m_end"] = round(load(), 2)
    Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    if args.markdown:
        from report import write_markdown

        write_markdown(doc, Path(args.markdown))
    log(f"done in {doc['total_seconds']:.0f}s: {args.json}")


if __name__ == "__main__":
    main()
