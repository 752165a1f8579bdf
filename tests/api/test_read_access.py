"""Who may read what over HTTP (SPEC 5.4 Reads): every GET route x every role, and the
error document of unknown routes and wrong methods."""

from __future__ import annotations

import re

import pytest
from apiclient import Api, bearer
from support import cmd

# One user per role of the test company (tests/apiclient.py KEYS); rep_user is R2's user.
ROLES = {"sa": "sales_admin", "mgr": "manager", "dir": "director", "fin": "finance",
         "aud": "auditor", "svc": "service", "admin": "admin", "rep_user": "sales_rep",
         "other_rep": "sales_rep"}

# A value for every path and query parameter a read route may need.
PARAMS = {"rep_id": "R2", "rep": "R2", "period": "2024-03", "customer_id": "C1",
          "customer": "C1", "budget_id": "B1", "budget": "B1", "entity_id": "C1",
          "entity": "C1", "user_id": "sa", "command_id": "known-command", "id": "known-command"}


def _get_routes(api: Api) -> list[tuple[str, str, list[str]]]:
    """(path template, tag, required query names) of every GET route the API documents."""
    routes = []
    for path, operations in api.client.get("/openapi.json").json()["paths"].items():
        get = operations.get("get")
        if get is None or not path.startswith("/v1"):
            continue
        # the required query parameters, and the optional ones this test has a value for
        required = [p["name"] for p in get.get("parameters", [])
                    if p["in"] == "query" and (p.get("required") or p["name"] in PARAMS)]
        routes.append((path, (get.get("tags") or [""])[0], required))
    assert len(routes) >= 10
    return routes


def _expected(user: str, tag: str, rep: str | None) -> bool:
    role = ROLES[user]
    if role == "admin":
        return tag == "users"
    if role == "sales_rep":
        return tag == "reps" and user == "rep_user" and rep == "R2"
    return True


@pytest.fixture
def company(api: Api) -> Api:
    api.post(cmd("RegisterUser", "admin", user_id="other_rep", name="Other",
                 roles=["sales_rep"]), user="admin")
    r = api.post({**cmd("AllocateBudget", "fin", budget_id="B1", department="east",
                        category="advertising", period="2024-Q1", amount=100_000,
                        approved_by="dir"), "command_id": "known-command"}, user="fin")
    assert r.status_code == 200, r.text
    return api


def test_every_read_route_by_every_role(company: Api):
    """The authorization matrix: 403 ``not_authorized`` exactly where SPEC 5.4 says."""
    seen = set()
    for path, tag, required in _get_routes(company):
        names = re.findall(r"{(\w+)}", path)
        missing = [n for n in names + required if n not in PARAMS]
        assert not missing, f"add a sample value for {missing} of {path}"
        url = path.format(**{n: PARAMS[n] for n in names})
        query = {n: PARAMS[n] for n in required}
        rep = PARAMS["rep"] if (("rep_id" in names) or ("rep" in required)) else None
        for user in ROLES:
            r = company.client.get(url, params=query, headers=bearer(user))
            allowed = _expected(user, tag, rep)
            if allowed:
                assert r.status_code == 200, (path, user, r.status_code, r.text)
            else:
                assert r.status_code == 403, (path, user, r.status_code, r.text)
                assert r.json()["rule"] == "not_authorized"
            seen.add((path, user, r.status_code))
    # every role meets at least one allowed and (but the all-readers) one refused read
    assert {(u, s) for _, u, s in seen} >= {("admin", 200), ("admin", 403), ("rep_user", 200),
                                            ("rep_user", 403), ("other_rep", 403), ("fin", 200)}


def test_a_sales_rep_reads_only_their_own_reps_statement(company: Api):
    own = company.get("/v1/reps/R2/commission/2024-03", user="rep_user")
    assert own.status_code == 200 and own.json()["rep_id"] == "R2"
    other = company.get("/v1/reps/R1/commission/2024-03", user="rep_user")
    assert other.status_code == 403
    assert other.json()["details"] == {"user": "rep_user", "roles": ["sales_rep"],
                                       "read": "rep"}
    assert company.get("/v1/commission", user="rep_user", rep="R1",
                       period="2024-03").status_code == 403
    assert company.get("/v1/ranks", user="rep_user", rep="R2").status_code == 200
    # an unknown rep is not theirs either: no hint that it does not exist
    assert company.get("/v1/reps/R404/ranks", user="rep_user").status_code == 403


def test_admin_reads_users_and_their_roles(company: Api):
    r = company.get("/v1/users", user="admin")
    assert r.status_code == 200
    users = {u["user_id"]: u["roles"] for u in r.json()["users"]}
    assert users["admin"] == ["admin"]
    assert users["rep_user"] == ["sales_rep"]
    assert company.get("/v1/users/fin", user="admin").json() == {
        "user_id": "fin", "roles": ["finance"], "currency": "CNY"}
    assert company.get("/v1/users/nobody", user="admin").status_code == 404
    assert company.get("/v1/aging", user="admin").status_code == 403


def test_unknown_routes_and_wrong_methods_answer_the_error_document(api: Api):
    r = api.client.get("/v1/nowhere", headers=bearer("fin"))
    assert r.status_code == 404
    assert r.json() == {"rule": "unknown_route", "message": r.json()["message"],
                        "details": {"method": "GET", "path": "/v1/nowhere"}}
    r = api.client.delete("/v1/commands", headers=bearer("fin"))
    assert r.status_code == 405
    assert r.json()["rule"] == "method_not_allowed"
    assert "allow" in {k.lower() for k in r.headers}


def test_no_redirect_built_from_the_host_header(api: Api):
    r = api.client.get("/v1/aging/", headers={**bearer("fin"), "Host": "evil.example"},
                       follow_redirects=False)
    assert r.status_code == 404
    assert "location" not in {k.lower() for k in r.headers}
    assert r.json()["rule"] == "unknown_route"


def test_no_docs_page_loading_scripts_from_a_cdn(api: Api):
    assert api.client.get("/docs").status_code == 404
    assert api.client.get("/redoc").status_code == 404
    assert api.client.get("/openapi.json").status_code == 200


# --- pagination and compression (SPEC 5.4) ---------------------------------------------------


def test_audit_entries_come_in_pages_that_add_up_to_the_whole(company: Api):
    from support import sale

    for n in range(7):
        assert company.post(sale(f"S{n}")).status_code == 200
    whole = company.get("/v1/audit/C1").json()
    assert len(whole["entries"]) >= 8 and "next_cursor" not in whole
    pages, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = company.get("/v1/audit/C1", **params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["entries"]) <= 3
        pages.append(body["entries"])
        cursor = body.get("next_cursor")
        if cursor is None:
            assert "x-next-cursor" not in {k.lower() for k in r.headers}
            break
        assert r.headers["X-Next-Cursor"] == cursor
        assert r.headers["Link"].startswith("</v1/audit/C1?limit=3&cursor=")
    assert [e for page in pages for e in page] == whole["entries"]
    assert len(pages) == -(-len(whole["entries"]) // 3)


def test_a_bad_cursor_or_limit_is_invalid_field(company: Api):
    r = company.get("/v1/audit/C1", cursor="not-a-cursor")
    assert r.status_code == 422 and r.json()["rule"] == "invalid_field"
    assert r.json()["details"]["field"] == "cursor"
    r = company.get("/v1/audit/C1", limit=0)
    assert r.status_code == 422 and r.json()["rule"] == "invalid_field"


def test_large_answers_are_gzipped(company: Api):
    from support import sale

    for n in range(10):
        company.post(sale(f"S{n}"))
    r = company.client.get("/v1/audit/C1", headers={**bearer("fin"), "Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert len(r.json()["entries"]) >= 11
