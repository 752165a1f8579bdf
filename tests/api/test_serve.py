"""``ledger.api.serve(host, port, keys_file)``: the API on uvicorn in its own process, over
``LEDGER_DATABASE_URL`` (an embedded SQLite file here)."""

from __future__ import annotations

import json
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
    code = f"from ledger.api import serve; serve('127.0.0.1', {port}, {str(keys)!r})"
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


def test_serve_without_keys_refuses_to_start(monkeypatch):
    monkeypatch.delenv("LEDGER_API_KEYS_FILE", raising=False)
    with pytest.raises(ApiKeysError):
        serve("127.0.0.1", _free_port(), None)
