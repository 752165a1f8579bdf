"""API keys on disk (issue 13): stored hashed, shown once, refused when unsafe or short,
reloaded on change without a restart."""

from __future__ import annotations

import json
import os
import time

import pytest
from typer.testing import CliRunner

from ledger.api import ApiKeys, ApiKeysError, keyfile
from ledger.cli import app

runner = CliRunner()


def _add(path, user: str) -> str:
    result = runner.invoke(app, ["keys", "add", user, "--file", str(path)])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_keys_add_prints_a_new_key_once_and_stores_only_its_hash(tmp_path):
    path = tmp_path / "keys.json"
    key = _add(path, "svc")
    assert len(key) >= keyfile.MIN_KEY_LENGTH and "\n" not in key
    text = path.read_text()
    assert key not in text
    assert keyfile.digest(key) in text
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert ApiKeys.from_file(path).user_for(key) == "svc"
    assert _add(path, "svc") != key  # random each time


def test_keys_list_shows_ids_and_users_never_keys(tmp_path):
    path = tmp_path / "keys.json"
    key = _add(path, "fin")
    result = runner.invoke(app, ["keys", "list", "--file", str(path), "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)["keys"]
    assert [r["user_id"] for r in rows] == ["fin"]
    assert "sha256" not in rows[0] and key not in result.stdout


def test_a_revoked_key_stops_working_without_a_restart(tmp_path):
    path = tmp_path / "keys.json"
    key = _add(path, "fin")
    keys = ApiKeys.from_file(path)
    keys.RELOAD_CHECK_SECONDS = 0
    assert keys.user_for(key) == "fin"
    key_id = json.loads(path.read_text())["keys"][0]["id"]
    assert runner.invoke(app, ["keys", "revoke", key_id, "--file", str(path)]).exit_code == 0
    assert keys.user_for(key) is None
    # and a key added later works at once
    later = _add(path, "aud")
    assert keys.user_for(later) == "aud"


def test_a_keys_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "keys.json"
    _add(path, "fin")
    path.chmod(0o644)
    with pytest.raises(ApiKeysError, match="chmod 600"):
        ApiKeys.from_file(path)


def test_short_clear_text_keys_do_not_count(tmp_path):
    path = tmp_path / "keys.json"
    long_key = "k" * keyfile.MIN_KEY_LENGTH
    path.write_text(json.dumps({"short": "fin", long_key: "aud"}))
    path.chmod(0o600)
    keys = ApiKeys.from_file(path)
    assert keys.user_for("short") is None
    assert keys.user_for(long_key) == "aud"
    path.write_text(json.dumps({"short": "fin"}))
    with pytest.raises(ApiKeysError, match="no usable key"):
        ApiKeys.from_file(path)


def test_no_keys_file_no_start(tmp_path, monkeypatch):
    from ledger.api.server import keys_of
    from ledger.bootstrap import Settings

    with pytest.raises(ApiKeysError, match="ledger keys add"):
        keys_of(Settings.from_env({}))
    with pytest.raises(ApiKeysError):
        ApiKeys.from_file(tmp_path / "missing.json")


def test_an_unreadable_change_keeps_the_keys_loaded(tmp_path):
    path = tmp_path / "keys.json"
    key = _add(path, "fin")
    keys = ApiKeys.from_file(path)
    keys.RELOAD_CHECK_SECONDS = 0
    time.sleep(0.01)
    path.write_text("{not json")
    path.chmod(0o600)
    assert keys.user_for(key) == "fin"
    assert keys.last_error and "not JSON" in keys.last_error
