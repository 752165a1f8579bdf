"""``ledger.api.serve(settings, host, port)``: the API on uvicorn in its own process, over
``LEDGER_DATABASE_URL`` (an embedded SQLite file here)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from ledger.api import ApiKeysError, keyfile, serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_http(tmp_path):
    keys = tmp_path / "keys.json"
    admin_key, _ = keyfile.add(keys, "admin")
    fin_key, _ = keyfile.add(keys, "fin")
    port = _free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/ledger.db",
           "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("LEDGER_API_KEYS_FILE", None)
    code = ("from ledger.api import serve; from ledger.bootstrap import Settings; "
            f"serve(Settings.from_env(keys_file={str(keys)!r}), '127.0.0.1', {port})")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        auth = {"Authorization": f"Bearer {admin_key}"}
        assert httpx.get(f"{base}/v1/aging").status_code == 401
        r = httpx.post(f"{base}/v1/commands", headers=auth, json={
            "command": "RegisterUser", "command_id": "u1", "user_id": "fin", "name": "Fin",
            "roles": ["finance"]})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "applied"
        position = r.json()["position"]
        # admin reads users only (SPEC 5.4); the finance user reads the ledger
        r = httpx.get(f"{base}/v1/trial-balance", headers=auth, params={"wait_for": position})
        assert r.status_code == 403, r.text
        r = httpx.get(f"{base}/v1/trial-balance", headers={"Authorization": f"Bearer {fin_key}"},
                      params={"wait_for": position})
        assert r.status_code == 200, r.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_without_keys_refuses_to_start():
    from ledger.bootstrap import Settings

    with pytest.raises(ApiKeysError, match="LEDGER_API_KEYS_FILE"):
        serve(Settings.from_env({}), "127.0.0.1", _free_port())


def _start(database_url: str, keys_path, port: int) -> subprocess.Popen:
    env = {**os.environ, "LEDGER_DATABASE_URL": database_url,
           "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("LEDGER_API_KEYS_FILE", None)
    code = ("from ledger.api import serve; from ledger.bootstrap import Settings; "
            f"serve(Settings.from_env(keys_file={str(keys_path)!r}), '127.0.0.1', {port})")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)


def test_a_real_server_flow_and_sigterm_drains_in_flight_requests(fresh_database, tmp_path):
    """``ledger serve`` as a subprocess on each store: write, read your write with
    ``wait_for``, the audit trail; then SIGTERM while a read waits for a position the test
    writes afterwards: the read is answered (200), not dropped, and the server then exits."""
    import signal
    import threading

    from support import USERS, at, cmd

    from ledger.application import Ledger

    keys = tmp_path / "keys.json"
    admin_key, _ = keyfile.add(keys, "admin")
    sa_key, _ = keyfile.add(keys, "sa")
    fin_key, _ = keyfile.add(keys, "fin")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(fresh_database.url, keys, port)
    try:
        def post(key: str, body: dict) -> dict:
            r = httpx.post(f"{base}/v1/commands", json=body, timeout=30,
                           headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200, r.text
            return r.json()

        for user in ("sa", "fin"):
            post(admin_key, cmd("RegisterUser", "admin", user_id=user, name=user,
                                roles=USERS[user]))
        position = post(sa_key, cmd("RegisterCustomer", "sa", customer_id="C1", name="Acme",
                                    credit_limit=100_000, payment_terms_days=30,
                                    region="east", **at("2024-03-01")))["position"]
        fin = {"Authorization": f"Bearer {fin_key}"}
        r = httpx.get(f"{base}/v1/customers/C1/receivables", headers=fin,
                      params={"wait_for": position}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["credit_limit"] == 100_000
        trail = httpx.get(f"{base}/v1/audit/C1", headers=fin, params={"wait_for": position},
                          timeout=30).json()
        assert [e["event"] for e in trail["entries"]] == ["Customer.Registered"]
        assert trail["entries"][0]["actor"] == "sa"

        # a read in flight, waiting for a position not written yet
        answers: list[httpx.Response] = []
        waiting = threading.Thread(target=lambda: answers.append(httpx.get(
            f"{base}/v1/customers/C2/receivables", headers=fin,
            params={"wait_for": position + 2}, timeout=30)))
        waiting.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with Ledger(fresh_database) as ledger:  # another writer writes the position
            answer = ledger.execute_one(cmd("RegisterCustomer", "sa", customer_id="C2",
                                            name="Beta", credit_limit=1, payment_terms_days=30,
                                            region="west", **at("2024-03-01")))
            assert answer["status"] == "applied", answer
        waiting.join(30)
        assert answers and answers[0].status_code == 200, answers and answers[0].text
        assert answers[0].json()["customer_id"] == "C2"
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
