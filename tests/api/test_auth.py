"""Keys, actors and auditors (SPEC 5.4): 401 for a missing or unknown key, the key's user
as the actor, 403 for someone else's actor and for an auditor's writes but OpenDispute."""

from __future__ import annotations

import json

import pytest
from apiclient import Api
from support import cmd, sale

from ledger.api import ApiKeys, ApiKeysError
from ledger.api.server import keys_of
from ledger.bootstrap import KEYS_FILE_ENV, Settings


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer nope"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic a2V5LXNhOg=="},
    {"Authorization": "key-sa"},
])
@pytest.mark.parametrize("method,path", [("post", "/v1/commands"), ("get", "/v1/trial-balance")])
def test_missing_or_unknown_key_is_401(api: Api, headers, method, path):
    before = api.ledger.max_position()
    kwargs = {"json": sale("S1")} if method == "post" else {}
    r = getattr(api.client, method)(path, headers=headers, **kwargs)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["rule"] == "not_authenticated"
    assert api.ledger.max_position() == before


def test_key_of_an_unregistered_user_is_403(api: Api):
    r = api.post(sale("S1"), user="ghost")
    assert r.status_code == 403
    assert r.json()["rule"] == "not_authorized"
    assert api.get("/v1/aging", user="ghost").status_code == 403


def test_a_user_registered_after_a_refusal_is_known_at_the_next_request(api: Api):
    # the caller's roles are kept while the log does not grow: a registration grows it
    assert api.get("/v1/aging", user="ghost").status_code == 403
    assert api.get("/v1/aging", user="ghost").status_code == 403
    r = api.post(cmd("RegisterUser", "admin", user_id="ghost", name="Ghost", roles=["finance"]),
                 user="admin")
    assert r.status_code == 200, r.text
    assert api.get("/v1/aging", user="ghost").status_code == 200
    assert api.post(sale("S9"), user="ghost").json()["rule"] == "not_authorized"  # finance


def test_actor_is_filled_in_from_the_key(api: Api):
    body = sale("S1")
    del body["actor"]
    r = api.post(body, user="sa")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied"
    # the command stored is the body with actor "sa": sending that body is a duplicate
    r = api.post({**body, "actor": "sa"}, user="sa")
    assert r.status_code == 200
    assert r.json()["status"] == "duplicate"


def test_filled_in_actor_is_judged_by_the_domain(api: Api):
    body = sale("S1")
    del body["actor"]
    r = api.post(body, user="fin")  # finance may not record sales (SPEC 5.2)
    assert r.status_code == 403
    answer = r.json()
    assert answer["status"] == "rejected" and answer["rule"] == "not_authorized"
    assert answer["details"]["actor"] == "fin"


def test_actor_naming_someone_else_is_403_and_stores_nothing(api: Api):
    before = api.ledger.max_position()
    body = sale("S1", actor="svc")
    r = api.post(body, user="sa")
    assert r.status_code == 403
    answer = r.json()
    assert answer["status"] == "rejected"
    assert answer["rule"] == "not_authorized"
    assert answer["command_id"] == body["command_id"]
    assert answer["details"] == {"actor": "svc", "user": "sa"}
    assert api.ledger.max_position() == before
    # nothing was kept under the command_id: the rightful user may still send it
    r = api.post(body, user="svc")
    assert r.status_code == 200 and r.json()["status"] == "applied", r.text


def test_auditor_may_open_a_dispute(api: Api):
    api.post(sale("S1"), user="sa")
    r = api.post(cmd("OpenDispute", "aud", dispute_id="D1", entity="S1",
                     claim="the price looks wrong"), user="aud")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied"


@pytest.mark.parametrize("body", [
    sale("S9", actor="aud"),
    cmd("FlagCustomerAtRisk", "aud", customer_id="C1", at_risk=True, reason="rumours"),
])
def test_auditor_may_not_write_anything_else(api: Api, body):
    before = api.ledger.max_position()
    r = api.post(body, user="aud")
    assert r.status_code == 403
    assert r.json()["rule"] == "not_authorized"
    assert "auditor" in r.json()["message"]
    assert api.ledger.max_position() == before


def test_auditor_reads(api: Api):
    assert api.get("/v1/trial-balance", user="aud").status_code == 200


# --- the keys file ----------------------------------------------------------------------------


def test_keys_from_the_file_named_by_the_environment(tmp_path):
    path = tmp_path / "keys.json"
    k1, k2 = "k1" * 16, "k2" * 16  # keys of at least 32 characters count
    path.write_text(json.dumps({k1: "sa", k2: "aud"}))
    path.chmod(0o600)
    keys = keys_of(Settings.from_env({KEYS_FILE_ENV: str(path)}))
    assert keys.user_for(k1) == "sa"
    assert keys.user_for(k2) == "aud"
    assert keys.user_for("k3" * 16) is None
    assert keys.user_for(k1.upper()) is None


@pytest.mark.parametrize("text", ["[]", '{"k": 1}', '{"": "sa"}', '{"k": ""}', "not json"])
def test_a_bad_keys_file_is_refused(tmp_path, text):
    path = tmp_path / "keys.json"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ApiKeysError):
        ApiKeys.from_file(path)


def test_no_keys_file_is_refused(tmp_path):
    with pytest.raises(ApiKeysError, match=KEYS_FILE_ENV):
        keys_of(Settings.from_env({}))
    with pytest.raises(ApiKeysError):
        ApiKeys.from_file(tmp_path / "missing.json")

