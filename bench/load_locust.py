"""One load case of ``bench/load_http.py``, with locust's library API (in its own process:
locust patches the standard library with gevent on import).

    python bench/load_locust.py CONFIG_JSON OUT_JSON

CONFIG: host, case (commission | receivables | sale), users, seconds, warmup, keys, run.
Every user sends its next request as soon as the last is answered (no think time). The
first ``warmup`` seconds (all users started, connections open) are not counted; then each
request's time is kept, and OUT gets requests/s, p50, p99 (ms), counts and failures."""

from __future__ import annotations

import json
import sys
import time
from itertools import count

import gevent
from locust import FastHttpUser, constant, events, task
from locust.env import Environment

CONFIG = json.load(open(sys.argv[1]))
KEYS = CONFIG["keys"]
_numbers = count()


class Reader(FastHttpUser):
    wait_time = constant(0)
    host = CONFIG["host"]

    def on_start(self) -> None:
        self.n = next(_numbers)
        user = "svc-orders" if CONFIG["case"] == "sale" else "fin-li"
        self.headers = {"Authorization": f"Bearer {KEYS[user]}"}
        self.sales = 0

    @task
    def one(self) -> None:
        case = CONFIG["case"]
        if case == "commission":
            # a closed month of the demo company: the figures its close accrued
            rep = f"REP-{self.n % 60 + 1:03d}"
            self.client.get(f"/v1/reps/{rep}/commission/2025-06", headers=self.headers,
                            name="commission")
        elif case == "receivables":
            customer = f"CUST-{self.n % 300 + 1:04d}"
            self.client.get(f"/v1/customers/{customer}/receivables", headers=self.headers,
                            name="receivables")
        else:
            self.sales += 1
            sale = f"L{CONFIG['run']}-{self.n:02d}-{self.sales:06d}"
            body = {"command": "RecordSale", "command_id": f"cmd-{sale}", "actor": "svc-orders",
                    "occurred_at": "2026-11-30T10:00:00+08:00", "sale_id": sale,
                    "customer_id": f"LC-{self.n % 64:03d}", "rep_id": f"REP-{self.n % 60 + 1:03d}",
                    "invoice_no": f"FP{sale}", "lines": [
                        {"sku": "TEA-100", "quantity": 1, "unit_price": 120_00}]}
            with self.client.post("/v1/commands", json=body, headers=self.headers,
                                  name="sale", catch_response=True) as r:
                if r.status_code != 200 or r.json().get("status") != "applied":
                    r.failure(f"{r.status_code} {r.text[:200]}")


times: list[float] = []
failures: list[str] = []
measuring = False


@events.request.add_listener
def _record(response_time: float, exception: BaseException | None, **_: object) -> None:
    if not measuring:
        return
    if exception is not None:
        failures.append(str(exception)[:200])
    else:
        times.append(response_time)


def percentile(sorted_times: list[float], p: float) -> float:
    if not sorted_times:
        return float("nan")
    k = min(len(sorted_times) - 1, max(0, round(p * len(sorted_times) + 0.5) - 1))
    return sorted_times[k]


def main() -> None:
    global measuring
    env = Environment(user_classes=[Reader], events=events)
    runner = env.create_local_runner()
    users = CONFIG["users"]
    runner.start(users, spawn_rate=users * 10)
    gevent.sleep(CONFIG["warmup"])
    measuring = True
    started = time.perf_counter()
    gevent.sleep(CONFIG["seconds"])
    measuring = False
    elapsed = time.perf_counter() - started
    runner.quit()
    done = sorted(times)
    json.dump({"case": CONFIG["case"], "users": users, "seconds": round(elapsed, 2),
               "requests": len(done), "failures": len(failures),
               "failure_sample": failures[:3], "rps": len(done) / elapsed,
               "p50_ms": percentile(done, 0.50), "p99_ms": percentile(done, 0.99)},
              open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
