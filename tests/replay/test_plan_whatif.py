"""``replay what-if --plan VERSION|FILE`` (SPEC 4, 5.3): the projections re-run in a sandbox
under another commission plan; closed months are recomputed as their closes would have
accrued them, open months from their facts; the log and the live tables are untouched.
Both stores."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from eventsourcing.utils import get_topic
from support import all_applied, at, cmd, sale, setup_company
from test_sandbox_tools import _fingerprint  # the log and every live table, hashed
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.cli import app
from ledger.domain.model import Customer, Rep
from ledger.domain.plan_schema import PLAN_2014_CN_1
from ledger.projections.commissions import query_commission
from ledger.bootstrap import projector_for
from ledger.replay.plan_whatif import PlanWhatIfError, resolve_plan
from ledger.replay.whatif import what_if

NOW = datetime(2024, 5, 2, 2, 0, tzinfo=timezone.utc)
runner = CliRunner()


def _plan(version: str, rate: str) -> dict:
    """Plan 2014-cn-1 with the second tier (from 1,300,000 fen) at ``rate``."""
    plan = json.loads(json.dumps(PLAN_2014_CN_1))
    plan["version"] = version
    plan["rate_tiers"][1]["rate"] = rate
    return plan


@pytest.fixture
def company(fresh_database):
    """R2 (SR, trained by R1, an SM) sells 1,300,000 in March (closed) and 1,400,000 in
    April (open); R1 sells nothing."""
    with Ledger(fresh_database, clock=lambda: NOW) as led:
        setup_company(led)
        all_applied(led, [sale("S1", 100, day="2024-03-05"), sale("S2", 30, day="2024-03-12")])
        all_applied(led, [cmd("CloseMonth", "fin", period="2024-03", **at("2024-04-01"))])
        all_applied(led, [sale("S3", 140, day="2024-04-08")])
        yield led


def _changes(document: dict) -> dict:
    return {(c["key"], c["field"]): (c["live"], c["what_if"], c["difference"])
            for c in document["changes"]}


# By hand (SPEC 2.5): commission = round(personal sales x 0.9 / 1.17 x rate).
# March, 1,300,000 at 0.1: 1,300,000 x 0.9 / 1.17 = 1,000,000 -> 100,000; at 0.12 -> 120,000.
# April, 1,400,000: x 0.9 / 1.17 = 1,076,923.08; at 0.1 -> 107,692; at 0.12 -> 129,231.
# R1's override (5% of R2's personal sales) does not depend on the tier rate.
EXPECTED = {
    ("R2/2024-03", "commission"): (100_000, 120_000, 20_000),
    ("R2/2024-03", "total"): (100_000, 120_000, 20_000),
    ("R2/2024-03", "balance"): (100_000, 120_000, 20_000),
    ("R2/2024-04", "commission"): (107_692, 129_231, 21_539),
    ("R2/2024-04", "total"): (107_692, 129_231, 21_539),
    ("R2/2024-04", "balance"): (107_692, 129_231, 21_539),
}


def test_a_plan_file_with_another_tier_rate_changes_the_statements(company, tmp_path):
    ledger = company
    live = projector_for(ledger)
    live.catch_up()
    assert query_commission(live, "R2", "2024-03")["closed"] is True
    assert query_commission(live, "R1", "2024-03")["override"] == 65_000  # 5% of 1,300,000
    before = _fingerprint(ledger, live)
    file = tmp_path / "plan-2024-alt.json"
    file.write_text(json.dumps({"command": "AdoptCommissionPlan", "plan_version": "2024-alt",
                                "effective_from": "2024-06-01",
                                "plan": _plan("2024-alt", "0.12")}))
    document = what_if(live, plan=resolve_plan(live, str(file)))
    assert document["plan"] == "2024-alt"
    assert _changes(document) == EXPECTED
    # the same plan as the live one changes nothing
    same = what_if(live, plan=resolve_plan(live, "2014-cn-1"))
    assert same["changes"] == []
    assert _fingerprint(ledger, live) == before


def test_an_adopted_version_through_the_cli(company, monkeypatch):
    ledger = company
    all_applied(ledger, [cmd("AdoptCommissionPlan", "dir", plan_version="2024-alt",
                             effective_from="2024-06-01", plan=_plan("2024-alt", "0.12"))])
    live = projector_for(ledger)
    live.catch_up()
    before = _fingerprint(ledger, live)
    monkeypatch.setenv("LEDGER_DATABASE_URL", ledger.database.url)
    result = runner.invoke(app, ["replay", "what-if", "--plan", "2024-alt", "--json"])
    assert result.exit_code == 0, result.output
    assert _changes(json.loads(result.stdout)) == EXPECTED
    unknown = runner.invoke(app, ["replay", "what-if", "--plan", "no-such-plan", "--json"])
    assert unknown.exit_code == 1
    assert json.loads(unknown.stdout)["rule"] == "unknown_reference"
    assert _fingerprint(ledger, live) == before


def test_a_plan_that_breaks_the_schema_is_refused(company, tmp_path):
    live = projector_for(company)
    bad = _plan("bad", "0.12")
    bad["rate_tiers"][1]["min_sales"] = 0  # tiers must ascend
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(bad))
    with pytest.raises(PlanWhatIfError) as e:
        resolve_plan(live, str(file))
    assert e.value.rule == "invalid_field" and "rate_tiers[1].min_sales" in e.value.message


def test_a_fact_left_out_of_a_closed_month_recomputes_its_close(company):
    """--exclude in a closed month: the month is what its close would have accrued without
    the fact (here a fine of 5,000), not the accrual the log holds."""
    ledger = company
    all_applied(ledger, [cmd("FineRep", "fin", fine_id="F9", rep_id="R2", amount=5_000,
                             reason="late report", approved_by="mgr", **at("2024-04-20"))])
    live = projector_for(ledger)
    live.catch_up()
    before = _fingerprint(ledger, live)
    march_close = next(n.id for n in ledger.app.recorder.select_notifications(start=1, limit=10_000)
                       if n.topic == get_topic(Rep.CommissionAccrued))
    # leaving out S2 (300,000 of March): R2's March falls to 1,000,000, below the first
    # paying tier: commission 0 instead of 100,000; R1's override 5% of 1,000,000 = 50,000
    s2 = next(n.id for n in ledger.app.recorder.select_notifications(start=1, limit=10_000)
              if n.topic == get_topic(Customer.SaleRecorded)
              and ledger.app.mapper.to_domain_event(n).sale_id == "S2")
    assert s2 < march_close
    got = _changes(what_if(live, exclude=[s2]))
    assert got[("R2/2024-03", "commission")] == (100_000, 0, -100_000)
    assert got[("R2/2024-03", "personal_sales")] == (1_300_000, 1_000_000, -300_000)
    assert got[("R1/2024-03", "override")] == (65_000, 50_000, -15_000)
    # an open month's fact: April's total less the fine, nothing of March moves
    f9 = ledger.max_position() - 2
    fined = what_if(live, exclude=[p for p in range(f9 - 3, ledger.max_position() + 1)
                                           if _is_fine(ledger, p)])
    assert _changes(fined) == {("R2/2024-04", "fines"): (5_000, 0, -5_000),
                               ("R2/2024-04", "total"): (102_692, 107_692, 5_000),
                               ("R2/2024-04", "balance"): (102_692, 107_692, 5_000)}
    assert _fingerprint(ledger, live) == before


def _is_fine(ledger, position: int) -> bool:
    notes = ledger.app.recorder.select_notifications(start=position, limit=1)
    return bool(notes) and notes[0].id == position and notes[0].topic == get_topic(Rep.Fined)
