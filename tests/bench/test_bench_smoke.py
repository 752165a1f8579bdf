"""The benchmarks of ``make bench`` (bench/run.py) at toy sizes, and the generator's log
checked against the command path's (issue 12). Figures must exist and be positive; no
timing is asserted (speed is measured in bench/, as ratios in one run)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import pytest

from stores import scratch_database

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _bench_module(name: str, alias: str) -> Any:
    """Import bench/NAME.py as ALIAS: ``generate`` is also tests/event_samples' module's
    name, and bench/ must not stay on sys.path for the rest of the suite."""
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(alias, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[alias] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module
    finally:
        sys.path.remove(str(BENCH))


generate = _bench_module("generate", "bench_generate")
import_lines = sys.modules["benchlib"].import_lines
pg_connect = sys.modules["benchlib"].pg_connect

from ledger.application import Ledger  # noqa: E402
from ledger.demo import Company  # noqa: E402
from ledger.domain.model import Customer  # noqa: E402
from eventsourcing.utils import get_topic  # noqa: E402
from ledger.bootstrap import projector_for  # noqa: E402

pytestmark = pytest.mark.postgres
REGISTERED = get_topic(Customer.Registered)
SMALL = Company(reps=4, customers=9, sales_per_rep_month=(1, 3))


def _log(url: str) -> list[tuple]:
    rows = []
    with pg_connect(url) as conn:
        for p, o, v, t, s in conn.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM ledger_events ORDER BY notification_id"):
            payload = msgspec.json.decode(s)
            payload.pop("timestamp", None)  # the recording time: the template's
            rows.append((p, o, v, t, payload))
    return rows


def _cli(url: str, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "LEDGER_"))}
    env["LEDGER_DATABASE_URL"] = url
    out = subprocess.run([str(Path(sys.executable).parent / "ledger"), *args, "--json"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_generated_log_is_the_command_paths_log_and_verifies_and_projects() -> None:
    copies = 3
    with tempfile.TemporaryDirectory() as folder:
        template = generate.build_template(SMALL, folder)
    with scratch_database("postgres") as generated, scratch_database("postgres") as commanded:
        n = generate.write_postgres(generated.url, generate.divisions_log(template, copies))
        with Ledger(commanded) as ledger:
            bodies = list(generate.division_commands(template.commands, copies))
            report = import_lines(ledger, [msgspec.json.encode(b) for b in bodies])
            assert report["applied"] > 0
        ours, theirs = _log(generated.url), _log(commanded.url)
        assert n == len(theirs) > 2 * len(template.events)
        assert ours == theirs  # positions, aggregates, versions, topics, payloads
        assert len({p["customer_id"] for *_, t, p in ours if t == REGISTERED}) \
            == copies * SMALL.customers

        verified = _cli(generated.url, "verify")
        assert verified["ok"] is True and verified["events"] == n
        with Ledger(generated) as ledger:
            assert projector_for(ledger).catch_up() > n  # several projections per event
        compared = 0
        for rep in ("REP-001", "REP-002", "REP-003", "REP-004"):
            base = _cli(generated.url, "query", "commission", "--rep", rep, "--period", "2025-03")
            if base["total"] <= 0:
                continue
            division = _cli(generated.url, "query", "commission", "--rep", f"D0002-{rep}",
                            "--period", "2025-03")
            assert division["total"] == base["total"]
            compared += 1
            break
        assert compared == 1


def test_every_benchmark_at_toy_size(tmp_path: Path) -> None:
    out_json, out_md = tmp_path / "results.json", tmp_path / "RESULTS.md"
    out_md.write_text("# Benchmark results\n\nearlier text\n")
    run = subprocess.run([sys.executable, str(BENCH / "run.py"), "--smoke", "--json", str(out_json),
                          "--markdown", str(out_md)], capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    d = json.loads(out_json.read_text())
    assert d["machine"]["cores"] >= 1
    i = d["ingest"]
    for key in ("events_per_s", "commands_per_s", "copy_rows_per_s", "ratio_to_copy",
                "naive_commands_per_s", "ratio_to_naive"):
        assert i[key] > 0, key
    assert i["profile"]["own"] and i["profile"]["total_s"] > 0
    assert i["recorders"]["library_events_per_s"] > 0 and i["recorders"]["insert_events_ratio"] > 0
    assert d["read_decode"]["events_per_s"] > 0
    assert d["catch_up"]["events_per_s"] > 0 and d["catch_up"]["peak_rss_mib"] > 0
    assert d["catch_up"]["events"] == d["log"]["events"] >= 1500
    assert len(d["catch_up_rss"]) == 2 and all(x["peak_rss_mib"] > 0 for x in d["catch_up_rss"])
    assert d["catch_up_profile"]["top"]["own"] and d["catch_up_profile"]["top"]["cumulative_ledger"]
    assert set(d["reads"]["cases"]) == {"healthz", "commission", "commission_open", "receivables"}
    for name, by_clients in d["reads"]["cases"].items():
        assert sorted(by_clients) == ["1", "2"], name
        assert all(r["requests"] > 0 and r["p99_ms"] >= r["p50_ms"] > 0
                   for r in by_clients.values()), name
    aging = d["reads"]["aging"]
    assert aging["p50_ms"] > 0 and aging["sales_rows"] > 0 and aging["open_items"] > 0
    t10 = d["issue10"]
    assert t10["verify"]["events"] == d["log"]["events"]
    assert t10["verify"]["events_per_s"] > 0 and t10["verify"]["raw_sha256_per_s"] > 0
    assert t10["rebuild"]["events_per_s"] > 0 and t10["rebuild"]["peak_rss_mib"] > 0
    assert t10["as_of"]["seconds"] > 0 and t10["as_of"]["position"] > 0
    assert t10["explain"]["seconds"] > 0 and t10["explain"]["value_equals_query"] is True
    md = out_md.read_text()
    assert "earlier text" in md and "make bench" in md and "catch-up" in md
