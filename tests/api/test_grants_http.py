"""Approvals over HTTP, end to end (SPEC 1 Approvals, 5.2 GrantApproval, 5.4): a service key
records a sale over the credit limit naming a director as its credit approver. Under
``approvals.mode`` = ``granted`` that passes only when the director granted it beforehand
with their own key, and the audit trail shows ``granted`` with the grant's id; in the
default ``attested`` mode the same sale passes and the trail shows ``attested``. Runs on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from apiclient import Api
from support import cmd

from ledger.domain.policies import DEFAULT_POLICIES


def _tomorrow() -> str:
    return (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()


def over_limit_sale(sale_id: str, credit_approver: str = "dir") -> dict[str, Any]:
    """3 x 10,000 fen to C1, whose limit is 10,000 fen: needs a credit override. Dated now
    (no occurred_at), like a service's live sale."""
    return cmd("RecordSale", "svc", sale_id=sale_id, customer_id="C1", rep_id="R2",
               invoice_no=f"INV-{sale_id}", credit_approved_by=credit_approver,
               lines=[{"sku": "X", "quantity": 3, "unit_price": 10_000}])


@pytest.fixture
def low_limit(api: Api) -> Api:
    r = api.post(cmd("SetCreditTerms", "fin", customer_id="C1", credit_limit=10_000,
                     payment_terms_days=30, approved_by="dir"), user="fin")
    assert r.status_code == 200, r.text
    return api


def _granted_mode(api: Api) -> None:
    r = api.post(cmd("AdoptPolicy", "dir", policy="approvals", version="granted-1",
                     effective_from="2024-01-01",
                     values={**DEFAULT_POLICIES["approvals"], "mode": "granted"}), user="dir")
    assert r.status_code == 200, r.text


def _sale_entry(api: Api, sale_id: str, position: int) -> dict[str, Any]:
    r = api.get(f"/v1/audit/{sale_id}", user="aud", wait_for=position)
    assert r.status_code == 200, r.text
    [entry] = [e for e in r.json()["entries"] if e["event"] == "Customer.SaleRecorded"]
    return entry


def test_granted_mode_end_to_end(low_limit: Api):
    api = low_limit
    _granted_mode(api)
    # without the director's grant the service's sale is refused: 403 not_authorized
    r = api.post(over_limit_sale("S1"), user="svc")
    assert r.status_code == 403, r.text
    assert r.json()["rule"] == "not_authorized"
    assert r.json()["details"]["field"] == "credit_approved_by"
    assert r.json()["details"]["approver"] == "dir"
    # the service cannot grant for the director: neither as itself nor in the director's name
    assert api.post(cmd("GrantApproval", "svc", approval_id="G0", kind="credit_override",
                        subject="S1", expires_at=_tomorrow()), user="svc").status_code == 403
    r = api.post(cmd("GrantApproval", "dir", approval_id="G0", kind="credit_override",
                     subject="S1", expires_at=_tomorrow()), user="svc")
    assert r.status_code == 403 and r.json()["rule"] == "not_authorized"
    # the director grants it with their own key, for this sale, up to its gross
    r = api.post(cmd("GrantApproval", "dir", approval_id="G1", kind="credit_override",
                     subject="S1", limit=30_000, expires_at=_tomorrow()), user="dir")
    assert r.status_code == 200, r.text
    r = api.post(over_limit_sale("S1"), user="svc")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "applied"
    assert answer["result"]["exposure"] == 30_000
    entry = _sale_entry(api, "S1", answer["position"])
    assert entry["actor"] == "svc"
    assert entry["approved_by"] == ["dir"]
    assert entry["approvals"] == [{"field": "credit_approved_by", "user": "dir",
                                   "how": "granted", "grant_id": "G1"}]
    assert entry["policy_version"] == "aging=default,approvals=granted-1,credit=default,price_approval=default"
    # the grant's own trail: given by dir, used by the service's sale
    trail = api.get("/v1/audit/G1", user="aud").json()["entries"]
    assert [(e["event"], e["actor"]) for e in trail] == [
        ("ApprovalGrants.Granted", "dir"), ("ApprovalGrants.Used", "svc")]
    assert trail[1]["details"]["used_by_command"] == answer["command_id"]
    assert trail[1]["command_id"] == answer["command_id"]
    # the director's trail shows the grant they gave and the sale they approved
    mine = api.get("/v1/actors/dir/audit", user="aud").json()["entries"]
    assert ("ApprovalGrants.Granted", "dir") in [(e["event"], e["actor"]) for e in mine]
    assert entry["position"] in [e["position"] for e in mine]
    # used once: a second sale naming dir for the same subject cannot use it
    r = api.post({**over_limit_sale("S1"), "invoice_no": "INV-S1b"}, user="svc")
    assert r.status_code == 422 and r.json()["rule"] == "duplicate_id"  # S1 exists anyway
    r = api.post(over_limit_sale("S2"), user="svc")
    assert r.status_code == 403 and r.json()["rule"] == "not_authorized"


def test_attested_mode_end_to_end(low_limit: Api):
    api = low_limit
    r = api.post(over_limit_sale("S1"), user="svc")
    assert r.status_code == 200, r.text
    entry = _sale_entry(api, "S1", r.json()["position"])
    assert entry["approved_by"] == ["dir"]
    assert entry["approvals"] == [{"field": "credit_approved_by", "user": "dir",
                                   "how": "attested", "grant_id": None}]
    assert entry["policy_version"] == "aging=default,approvals=default,credit=default,price_approval=default"


def test_a_grant_in_attested_mode_is_not_consumed(low_limit: Api):
    """In attested mode grants are not consulted: the sale is attested and the grant stays
    unused, to serve once the company switches to granted mode."""
    api = low_limit
    assert api.post(cmd("GrantApproval", "dir", approval_id="G1", kind="credit_override",
                        subject="S2", expires_at=_tomorrow()), user="dir").status_code == 200
    r = api.post(over_limit_sale("S1"), user="svc")
    assert _sale_entry(api, "S1", r.json()["position"])["approvals"][0]["how"] == "attested"
    _granted_mode(api)
    r = api.post(over_limit_sale("S2"), user="svc")
    assert r.status_code == 200, r.text
    assert _sale_entry(api, "S2", r.json()["position"])["approvals"] == [
        {"field": "credit_approved_by", "user": "dir", "how": "granted", "grant_id": "G1"}]


def test_policies_show_the_mode(api: Api):
    r = api.get("/v1/policies")
    assert r.status_code == 200, r.text
    assert r.json()["policies"]["approvals"]["values"]["mode"] == "attested"
    _granted_mode(api)
    r = api.get("/v1/policies", as_of="2024-02-01", wait_for=api.ledger.max_position())
    assert r.json()["policies"]["approvals"]["values"]["mode"] == "granted"
