"""Regenerate ``samples.ndjson``: one stored example of every event type.

Run only when a NEW event type is added (``python tests/event_samples/generate.py``);
existing samples must never be rewritten, since they stand for events already in logs.
New samples are appended; existing topics keep their old sample.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import msgspec

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from ledger.application import Ledger  # noqa: E402
from ledger.config import parse_database_url  # noqa: E402
from ledger.demo import Company  # noqa: E402
from ledger.domain.policies import DEFAULT_POLICIES  # noqa: E402
from support import at, cmd  # noqa: E402

SAMPLES = HERE / "samples.ndjson"


def extra_commands() -> list[dict]:
    day = "2026-02-03"
    return [
        cmd("FlagCustomerAtRisk", "fin-li", customer_id="CUST-0001", at_risk=True,
            reason="court judgment", **at(day)),
        cmd("SetCreditTerms", "fin-li", customer_id="CUST-0002", credit_limit=90_000_00,
            payment_terms_days=45, approved_by="fin-wang", **at(day)),
        cmd("AdjustBudget", "fin-li", budget_id="B-east-adver-2025Q1", delta=5_000_00,
            approved_by="dir-zhao", reason="trade fair added", **at(day)),
        cmd("FineRep", "fin-li", fine_id="F-1", rep_id="REP-004", amount=200_00,
            reason="late visit reports", approved_by="mgr-east", **at(day)),
        cmd("ChangeRank", "dir-zhao", rep_id="REP-005", rank="SE", reason="regional need",
            **at(day)),
        cmd("AdoptPolicy", "dir-zhao", policy="budget", version="2026-1",
            effective_from="2026-03-01",
            values={"spend_tolerance": "0.05", "activity_notice_days": 30,
                    "categories": ["advertising", "promotion"]}, **at(day)),
        cmd("OpenDispute", "aud-sun", dispute_id="D-1", entity="REP-004", period="2025-12",
            claim="fine applied twice?", **at(day)),
        cmd("ResolveDispute", "dir-chen", dispute_id="D-1", outcome="rejected",
            reason="one fine only", **at(day)),
    ]


def money_commands(ledger: Ledger) -> list[dict]:
    """A write-off of an open sale and a payout of a closed month's commission."""
    from ledger.domain.model import Customer, Rep

    day = "2026-02-04"
    out = []
    for i in range(1, 21):
        customer = ledger.app.repository.get(Customer.create_id(f"CUST-{i:04d}"))
        open_items = [r for r in customer.active.values() if r.open > 0]
        if open_items:
            out.append(cmd("WriteOffReceivable", "fin-li", writeoff_id="WO-SAMPLE",
                           sale_id=open_items[0].sale_id, amount=1, approved_by="dir-zhao",
                           reason="sample", **at(day)))
            break
    for i in range(1, 13):
        rep = ledger.app.repository.get(Rep.create_id(f"REP-{i:03d}"))
        if rep.payable_for("2025-01") > 0:
            out.append(cmd("PayCommission", "fin-li", payout_id="PO-SAMPLE", rep_id=rep.rep_id,
                           period="2025-01", amount=1, paid_on=day, **at(day)))
            break
    assert len(out) == 2, out
    return out


def reversal_commands(ledger: Ledger) -> list[dict]:
    """One reversal of each kind (SPEC 2.7): the first payment, fine, expense spend and
    payout the log holds that can be reversed."""
    import itertools

    records = ledger.app.recorder.select_notifications(
        start=1, limit=10**9, topics=["ledger:CommandRecord.Recorded"])
    by_kind: dict[str, list[str]] = {}
    for n in records:
        record = ledger.app.mapper.to_domain_event(n)
        by_kind.setdefault(record.command, []).append(record.command_id)
    approver = {"RecordPayment": "dir-zhao", "FineRep": "mgr-east",
                "RecordExpenseSpend": "dir-zhao", "PayCommission": "dir-zhao"}
    ids = itertools.count(1)
    out = []
    for kind, who in approver.items():
        for target in by_kind.get(kind, [])[:50]:
            body = cmd("Reverse", "fin-li", reversal_id=f"REV-{next(ids)}",
                       target_command_id=target, reason="sample", approved_by=who,
                       **at("2026-02-05"))
            if ledger.execute_one(body)["status"] == "applied":
                out.append(body)
                break
    assert len(out) == 4, out
    return out
def grant_commands() -> list[dict]:
    """Approvals granted beforehand (SPEC 1 Approvals): granted mode, a grant, its use."""
    day = "2026-02-05"
    return [
        cmd("AdoptPolicy", "dir-zhao", policy="approvals", version="granted-1",
            effective_from=day,
            values={**DEFAULT_POLICIES["approvals"], "mode": "granted"}, **at(day)),
        cmd("GrantApproval", "mgr-east", approval_id="G-SAMPLE", kind="fine", subject="F-2",
            limit=300_00, expires_at="2099-01-01T00:00:00+08:00", **at(day)),
        cmd("FineRep", "fin-li", fine_id="F-2", rep_id="REP-004", amount=100_00,
            reason="late visit reports again", approved_by="mgr-east", **at(day)),
    ]


def main() -> None:
    existing = {}
    if SAMPLES.exists():
        for line in SAMPLES.read_text().splitlines():
            if line.strip():
                existing[msgspec.json.decode(line)["topic"]] = line
    with tempfile.TemporaryDirectory() as folder:
        with Ledger(parse_database_url(f"sqlite:///{folder}/s.db")) as ledger:
            company = Company(seed=3, reps=12, customers=20)
            bodies = list(company.commands())
            for i in range(0, len(bodies), 500):
                ledger.execute(bodies[i:i + 500])
            for answer in ledger.execute(extra_commands() + money_commands(ledger)):
                assert answer["status"] == "applied", answer
            reversal_commands(ledger)  # applied one by one as it finds them
            for answer in ledger.execute(grant_commands()):
                assert answer["status"] == "applied", answer
            # another user's command under a command_id already used (SPEC 1: the key is the
            # actor and the command_id): CommandRecord.RecordedFor
            shared = {**cmd("OpenDispute", "fin-wang", dispute_id="D-SHARED", entity="CUST-0001",
                            claim="sample of a shared command id"), "command_id": "AdjustBudget-3"}
            answer = ledger.execute_one(shared)
            assert answer["status"] == "applied", answer
            found = {}
            for n in ledger.app.recorder.select_notifications(start=1, limit=10**9):
                if n.topic not in existing and n.topic not in found:
                    found[n.topic] = msgspec.json.encode(
                        {"topic": n.topic, "originator_version": n.originator_version,
                         "state": n.state.decode()}).decode()
    with SAMPLES.open("a") as f:
        for topic in sorted(found):
            f.write(found[topic] + "\n")
    print(f"{len(found)} new samples; {len(existing)} kept")


if __name__ == "__main__":
    main()
