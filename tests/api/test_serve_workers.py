"""``ledger serve --workers N`` (issue 13) on PostgreSQL: N uvicorn worker processes, the
background projector in the supervising process only; writes and reads-your-writes go
through any worker; SIGTERM stops the supervisor, the workers and the projector."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from ledger.api import keyfile
from ledger.api.server import pool_for
from ledger.bootstrap import POOL_MAX_OVERFLOW_ENV, POOL_SIZE_ENV, Settings

from stores import require_postgres, scratch_database
from test_serve import _free_port


def test_pool_is_shared_out_between_the_workers():
    assert pool_for(1) == (8, 8)
    assert pool_for(2) == (4, 4)
    assert pool_for(4) == (2, 2)
    assert pool_for(64) == (2, 2)  # never less than two connections a worker


def test_the_pool_size_comes_from_the_environment_when_set():
    url = "postgresql://postgres@127.0.0.1:5432/test"
    assert Settings.from_env({"LEDGER_DATABASE_URL": url}).database().env[POOL_SIZE_ENV] == "4"
    env = Settings.from_env({"LEDGER_DATABASE_URL": url, POOL_SIZE_ENV: "3",
                             POOL_MAX_OVERFLOW_ENV: "5"}).database().env
    assert (env[POOL_SIZE_ENV], env[POOL_MAX_OVERFLOW_ENV]) == ("3", "5")


def test_a_bad_pool_size_is_a_configuration_error():
    from ledger.config import ConfigError

    with pytest.raises(ConfigError, match="POSTGRES_POOL_SIZE must be a whole number"):
        Settings.from_env({POOL_SIZE_ENV: "many"})


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.postgres
def test_two_workers_write_read_and_stop_on_sigterm(tmp_path):
    require_postgres()
    from support import USERS, at, cmd

    with scratch_database("postgres") as database:
        keys = tmp_path / "keys.json"
        admin_key, _ = keyfile.add(keys, "admin")
        sa_key, _ = keyfile.add(keys, "sa")
        fin_key, _ = keyfile.add(keys, "fin")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        for name in ("LEDGER_API_KEYS_FILE", "LEDGER_DATABASE_URL", POOL_SIZE_ENV,
                     POOL_MAX_OVERFLOW_ENV):
            env.pop(name, None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "serve", "--database", database.url,
             "--keys-file", str(keys), "--port", str(port), "--workers", "2"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
            # two workers (the spawn context may add its resource tracker)
            deadline = time.monotonic() + 30
            while True:  # the second may still be starting when the first answers
                workers = {w for w in _children(proc.pid) if _alive(w) and
                           b"spawn_main" in open(f"/proc/{w}/cmdline", "rb").read()}
                if len(workers) >= 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert len(workers) == 2, workers

            def post(key: str, body: dict) -> dict:
                r = httpx.post(f"{base}/v1/commands", json=body, timeout=30,
                               headers={"Authorization": f"Bearer {key}"})
                assert r.status_code == 200, r.text
                assert r.json()["status"] == "applied", r.text
                return r.json()

            for user in ("sa", "fin"):
                post(admin_key, cmd("RegisterUser", "admin", user_id=user, name=user,
                                    roles=USERS[user]))
            fin = {"Authorization": f"Bearer {fin_key}"}
            # each connection is a new TCP connection: the kernel spreads them over both
            # workers; every write is read back at its position, whichever worker answers
            for i in range(6):
                position = post(sa_key, cmd(
                    "RegisterCustomer", "sa", customer_id=f"C{i}", name=f"Customer {i}",
                    credit_limit=100_000 + i, payment_terms_days=30, region="east",
                    **at("2024-03-01")))["position"]
                r = httpx.get(f"{base}/v1/customers/C{i}/receivables", headers=fin,
                              params={"wait_for": position}, timeout=30)
                assert r.status_code == 200, r.text
                assert r.json()["credit_limit"] == 100_000 + i
                assert int(r.headers["X-Ledger-Position"]) >= position
            # without wait_for a read answers from the projected tables at once; the
            # supervisor's projector brings them to the log's end on its own, also for a
            # write that did not come through the API
            from ledger.application import Ledger

            with Ledger(database) as ledger:
                answer = ledger.execute_one(cmd(
                    "RegisterCustomer", "sa", customer_id="C9", name="Direct",
                    credit_limit=9, payment_terms_days=30, region="west", **at("2024-03-01")))
                assert answer["status"] == "applied", answer
                position = ledger.max_position()
            deadline = time.monotonic() + 20
            while True:
                r = httpx.get(f"{base}/v1/customers/C9/receivables", headers=fin, timeout=30)
                if r.status_code == 200:
                    assert int(r.headers["X-Ledger-Position"]) >= position
                    assert r.json()["credit_limit"] == 9
                    break
                assert r.status_code == 404, r.text  # not projected yet
                assert time.monotonic() < deadline, "the projector did not catch up"
                time.sleep(0.2)

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
            deadline = time.monotonic() + 10
            while any(_alive(w) for w in workers):
                assert time.monotonic() < deadline, "a worker outlived the server"
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.terminate()  # the supervisor stops its workers (a kill would orphan them)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
