"""The auditors' look-ups over HTTP and the CLI (SPEC 5.3, 5.4): each GET answers the query
function's own JSON, by its REST path and by the CLI's parameter names, in the documented
shape; ``ledger query ... --json`` prints the same document."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from apiclient import Api
from support import all_applied, at, cmd, sale
from typer.testing import CliRunner

from ledger.api import schemas
from ledger.cli import app
from ledger.projections.aging import query_dso
from ledger.projections.audit import query_actor, query_command, query_late, query_sod
from ledger.projections.disputes import query_disputes
from ledger.projections.policies import query_policies
from ledger.projections.trips import query_trips

QUERIES = {f.__name__: f for f in (query_actor, query_command, query_late, query_sod, query_dso,
                                   query_disputes, query_trips, query_policies)}


def _json(document: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(document))


@pytest.fixture
def company(api: Api) -> Api:
    """Sales (one reported late), a return approved by mgr, a closed month, two disputes,
    one resolved, and an adopted policy."""
    all_applied(api.ledger, [
        sale("S1", 2, day="2024-03-05"),
        {**sale("S2", 1, day="2024-03-18", rep="R1"), "reported_at": "2024-03-19T10:00:00+08:00"},
        cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=1_000, approved_by="mgr",
            reason="damaged", **at("2024-03-20")),
        cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01")),
        {**cmd("OpenDispute", "aud", dispute_id="D1", entity="R2", period="2024-03",
               claim="S1 counted short"), "command_id": "open-D1"},
        cmd("OpenDispute", "aud", dispute_id="D2", entity="S1", claim="price"),
        cmd("ResolveDispute", "fin", dispute_id="D2", outcome="rejected", reason="list price"),
        cmd("AdoptPolicy", "dir", policy="aging", version="a2", effective_from="2024-06-01",
            values={"in_collection_max_days": 60, "at_risk_is_doubtful": True,
                    "bucket_limits": [30, 60, 90, 180, 365], "dso_window_days": 90}),
    ])
    return api


ROUTES = [
    ("query_actor", "/v1/actors/mgr/audit", ("/v1/audit", {"actor": "mgr"}), ("mgr",),
     schemas.ActorAudit),
    ("query_command", "/v1/commands/open-D1", ("/v1/command", {"id": "open-D1"}), ("open-D1",),
     schemas.CommandTrace),
    ("query_late", "/v1/late", ("/v1/late", {}), (), schemas.Late),
    ("query_late", "/v1/late?from=2024-03-10&to=2024-03-31",
     ("/v1/late", {"from": "2024-03-10", "to": "2024-03-31"}), ("2024-03-10", "2024-03-31"),
     schemas.Late),
    ("query_sod", "/v1/sod", ("/v1/sod", {}), (), schemas.Sod),
    ("query_dso", "/v1/dso?as_of=2024-03-31", ("/v1/dso", {"as-of": "2024-03-31"}),
     ("2024-03-31",), schemas.Dso),
    ("query_disputes", "/v1/disputes", ("/v1/disputes", {}), (), schemas.Disputes),
    ("query_disputes", "/v1/disputes?entity=S1", ("/v1/disputes", {"entity": "S1"}), ("S1",),
     schemas.Disputes),
    ("query_disputes", "/v1/disputes?open=true", ("/v1/disputes", {"open": "true"}), (None, True),
     schemas.Disputes),
    ("query_trips", "/v1/reps/R1/trips?year=2024", ("/v1/trips", {"rep": "R1", "year": "2024"}),
     ("R1", 2024), schemas.Trips),
    ("query_policies", "/v1/policies", ("/v1/policies", {}), (), schemas.Policies),
    ("query_policies", "/v1/policies?as_of=2024-06-01", ("/v1/policies", {"as-of": "2024-06-01"}),
     ("2024-06-01",), schemas.Policies),
]


@pytest.mark.parametrize("query,path,cli,args,model", [
    pytest.param(*route, id=route[1]) for route in ROUTES
])
def test_each_auditor_route_answers_the_query_functions_json(company: Api, query, path, cli, args,
                                                             model):
    r = company.get(path, user="aud")  # auditors read everything
    assert r.status_code == 200, r.text
    # the query function's document, naming the ledger's currency (SPEC 1)
    expected = {**_json(QUERIES[query](company.projector, *args)), "currency": "CNY"}
    assert r.json() == expected
    cli_path, params = cli
    assert company.get(cli_path, user="aud", **params).json() == expected
    msgspec.convert(r.json(), model)


def test_what_the_documents_hold(company: Api):
    mgr = company.get("/v1/actors/mgr/audit").json()
    assert [(e["event"], e["approved_by"]) for e in mgr["entries"]] == [
        ("Customer.ReturnRecorded", ["mgr"])]
    command = company.get("/v1/commands/open-D1").json()
    assert (command["command"], command["actor"], command["answer"]["status"]) == (
        "OpenDispute", "aud", "applied")
    assert [e["event"] for e in command["entries"]] == ["Dispute.Opened"]
    assert company.get("/v1/commands/open-D1", actor="aud").json() == command
    assert company.get("/v1/command", id="open-D1", actor="fin").status_code == 404
    assert [e["details"]["sale_id"] for e in company.get("/v1/late").json()["entries"]] == ["S2"]
    assert company.get("/v1/late", to="2024-03-17").json()["count"] == 0
    dso = company.get("/v1/dso", as_of="2024-03-31").json()
    assert (dso["open_total"], dso["gross_sales"], dso["dso"]) == (29_000, 30_000, "87")
    assert [d["dispute_id"] for d in company.get("/v1/disputes", open="true").json()["disputes"]] == ["D1"]
    statement = company.get("/v1/reps/R2/commission/2024-03").json()
    assert [d["dispute_id"] for d in statement["disputes"]] == ["D1"]
    assert company.get("/v1/policies").json()["policies"]["aging"]["version"] == "a2"


@pytest.mark.parametrize("path,params,status,field", [
    ("/v1/actors/nobody/audit", {}, 404, "actor"),
    ("/v1/commands/no-such-command", {}, 404, "command_id"),
    ("/v1/reps/R404/trips", {}, 404, "rep"),
    ("/v1/late", {"from": "2024-02-30"}, 422, "from"),
    ("/v1/late", {"to": "yesterday"}, 422, "to"),
    ("/v1/trips", {"rep": "R1", "year": "99"}, 422, "year"),
    ("/v1/audit", {}, 422, "entity"),
    ("/v1/audit", {"entity": "S1", "actor": "mgr"}, 422, "entity"),
])
def test_bad_lookups(company: Api, path, params, status, field):
    r = company.get(path, **params)
    assert r.status_code == status, r.text
    assert r.json()["details"]["field"] == field


@pytest.mark.parametrize("cli,path", [
    (["audit", "--actor", "mgr"], "/v1/actors/mgr/audit"),
    (["command", "--id", "open-D1"], "/v1/commands/open-D1"),
    (["late", "--from", "2024-03-10", "--to", "2024-03-31"], "/v1/late?from=2024-03-10&to=2024-03-31"),
    (["sod"], "/v1/sod"),
    (["dso", "--as-of", "2024-03-31"], "/v1/dso?as_of=2024-03-31"),
    (["disputes", "--entity", "R2", "--open"], "/v1/disputes?entity=R2&open=true"),
    (["trips", "--rep", "R1", "--year", "2024"], "/v1/reps/R1/trips?year=2024"),
    (["policies", "--as-of", "2024-06-01"], "/v1/policies?as_of=2024-06-01"),
])
def test_the_cli_prints_the_same_json(company: Api, cli, path):
    result = CliRunner().invoke(app, ["query", *cli, "--json"],
                                env={"LEDGER_DATABASE_URL": company.ledger.database.url})
    assert result.exit_code == 0, result.output
    assert msgspec.json.decode(result.stdout) == company.get(path).json()


def test_cli_errors_are_json_with_exit_1(company: Api):
    env = {"LEDGER_DATABASE_URL": company.ledger.database.url}
    for args, rule in ((["late", "--from", "2024-02-30"], "invalid_field"),
                       (["audit", "--actor", "nobody"], "unknown_reference"),
                       (["command", "--id", "nope"], "unknown_reference")):
        result = CliRunner().invoke(app, ["query", *args, "--json"], env=env)
        assert result.exit_code == 1, result.output
        assert msgspec.json.decode(result.stdout)["rule"] == rule
    both = CliRunner().invoke(app, ["query", "audit", "--entity", "S1", "--actor", "mgr"], env=env)
    assert both.exit_code == 2
    # a readable table without --json
    shown = CliRunner().invoke(app, ["query", "sod"], env=env)
    assert shown.exit_code == 0 and "decisions_checked" in shown.stdout
