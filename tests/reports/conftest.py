"""A small deterministic demo company (ledger.demo.Company with few reps and customers),
built once per test session through the real command path on SQLite, and the query
documents the report layouts and CSV tests read (issue 14)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ledger.application import Ledger
from ledger.config import parse_database_url

UPDATE_ENV = "LEDGER_UPDATE_GOLDEN"


@pytest.fixture(scope="session")
def demo_company(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from ledger.service.importing import import_lines
    from ledger.demo import Company, commission_payouts
    from ledger.projections.commissions import statement_months
    from ledger.bootstrap import projector_for

    path = Path(tmp_path_factory.mktemp("reports")) / "company.db"
    company = Company(seed=7, reps=8, customers=15)
    commands = list(company.commands())
    year_end = date(company.year, 12, 31)
    url = f"sqlite:///{path}"
    with Ledger(parse_database_url(url)) as ledger:
        report = import_lines(ledger, [msgspec.json.encode(b) for b in commands])
        projector = projector_for(ledger)
        projector.catch_up()
        months = {r: statement_months(projector, r) for r in company.rep_ids}
        payouts = commission_payouts(months, year_end, 7)
        paid = import_lines(ledger, [msgspec.json.encode(b) for b in payouts])
        assert paid["rejected"] == [], paid
    return {"url": url, "company": company, "commands": commands, "report": report,
            "year_end": year_end}


@pytest.fixture(scope="session")
def documents(demo_company: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """name -> (document, layout context) for every query the golden files cover."""
    from ledger.projections import aging, audit, budgets, commissions, disputes, general_ledger
    from ledger.projections import policies, reconcile, receivables, trips
    from ledger.bootstrap import projector_for
    from ledger.replay.drift import drift
    from ledger.replay.whatif import what_if
    from ledger.reports import context_for

    company = demo_company["company"]
    commands = demo_company["commands"]
    year_end = demo_company["year_end"]
    rep = company.rep_ids[0]
    budget_id = next(c["budget_id"] for c in commands if c["command"] == "SubmitExpense")
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    with Ledger(parse_database_url(demo_company["url"])) as ledger:
        p = projector_for(ledger)
        p.catch_up()
        customer = next(c.customer_id for c in company.cust
                        if receivables.query_receivables(p, c.customer_id, year_end)["items"])
        # the rep's month whose statement shows the most kinds of line (sales, trainees,
        # clawbacks, fines...), the latest of equals
        statements = [commissions.query_commission(p, r, f"{company.year}-{m:02d}")
                      for r in company.rep_ids for m in range(1, 13)]
        best = max(statements, key=lambda d: (len({x["type"] for x in d["lines"]}), d["period"]))
        rep, period = best["rep_id"], best["period"]
        last_payout = [e["position"] for e in audit.query_audit(p, rep)["entries"]
                       if e["event"] == "Rep.CommissionPaid"][-1]
        docs = {
            "commission": commissions.query_commission(p, rep, period),
            "receivables": receivables.query_receivables(p, customer, year_end),
            "aging": aging.query_aging(p, year_end),
            "dso": aging.query_dso(p, year_end.isoformat()),
            "budget": budgets.query_budget(p, budget_id),
            "ranks": commissions.query_ranks(p, rep, year_end),
            "trial-balance": general_ledger.trial_balance(p, year_end),
            "reconcile": reconcile.query_reconcile(p, year_end.isoformat()),
            "audit": audit.query_audit(p, customer),
            "sod": audit.query_sod(p),
            "disputes": disputes.query_disputes(p, None, False),
            "trips": trips.query_trips(p, rep, company.year),
            "policies": policies.query_policies(p, year_end.isoformat()),
            "drift": drift(p),
            "what-if": what_if(p, exclude=[last_payout], amend={}),
        }
        for name, doc in docs.items():
            doc = ledger.with_currency(doc)  # as the CLI answers (SPEC 1)
            docs[name] = doc
            out[name] = (doc, context_for(p, doc))
    # replay explain's shape (SPEC 5.3), built from the statement: its own figure steps
    doc = docs["commission"]
    running = 0
    steps = []
    for i, line in enumerate(x for x in doc["lines"] if x["type"] == "sale"):
        running += line["share"]
        steps.append({"position": 1000 + i, "event": "Customer.SaleRecorded",
                      "occurred_at": f"{line['date']}T10:00:00+08:00", "rule": f"share of {line['sale_id']}",
                      "policy_version": "2014-cn-1", "amount": line["share"], "running_total": running})
    out["explain"] = ({"figure": "commission", "value": running, "rep_id": doc["rep_id"],
                       "period": doc["period"], "steps": steps}, {})
    return out


@pytest.fixture
def golden() -> Any:
    """``golden(name, text)``: see :func:`compare_golden`."""
    return compare_golden


def compare_golden(name: str, text: str) -> None:
    """Compare ``text`` with tests/reports/expected/NAME.txt; with LEDGER_UPDATE_GOLDEN=1
    (re)write the file instead -- on purpose, never silently."""
    path = Path(__file__).parent / "expected" / f"{name}.txt"
    if os.environ.get(UPDATE_ENV) == "1":
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no expected text {path}: run with {UPDATE_ENV}=1 to write it, then "
                    "review and commit it")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (f"{name} differs from {path}; if the change is intended, "
                              f"rerun with {UPDATE_ENV}=1 and review the diff")
