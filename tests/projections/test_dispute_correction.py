"""Disputes end to end in the trail (issue 10): a resolution that names its correcting
command links dispute -> correcting command -> the figures its events changed, in
``audit --entity <dispute>`` and in the disputes query; the resolution is found under the
correcting command's id too. A resolution without a correction has no link."""

from __future__ import annotations

from support import all_applied, applied, at, cmd, sale, setup_company

from ledger.projections.audit import query_audit
from ledger.projections.disputes import query_disputes
from ledger.bootstrap import projector_for


def _disputed_and_corrected(ledger) -> str:
    setup_company(ledger)
    all_applied(ledger, [
        sale("S1", 2),  # 20,000 fen gross, rep R2, customer C1
        cmd("OpenDispute", "rep_user", dispute_id="D1", entity="R2", period="2024-03",
            claim="S1 was half returned before the close", **at("2024-03-20")),
        cmd("OpenDispute", "aud", dispute_id="D2", entity="C1", claim="no issue",
            **at("2024-03-20")),
    ])
    fix = applied(ledger, cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1",
                              amount=11_300, approved_by="mgr", reason="dispute D1",
                              **at("2024-03-21")))["command_id"]
    all_applied(ledger, [
        cmd("ResolveDispute", "fin", dispute_id="D1", outcome="upheld", reason="return recorded",
            correction_command_id=fix, **at("2024-03-22")),
        cmd("ResolveDispute", "fin", dispute_id="D2", outcome="rejected", reason="nothing wrong",
            **at("2024-03-22")),
    ])
    return fix


def test_a_resolution_links_its_correcting_command_and_the_figures_it_changed(ledger):
    fix = _disputed_and_corrected(ledger)
    projector = projector_for(ledger)
    projector.catch_up()

    trail = query_audit(projector, "D1")["entries"]
    assert [e["event"] for e in trail] == ["Dispute.Opened", "Dispute.Resolved"]
    correction = trail[1]["correction"]
    assert (correction["command_id"], correction["command"], correction["actor"]) == (
        fix, "RecordReturn", "sa")
    (changed,) = correction["events"]
    assert changed["event"] == "Customer.ReturnRecorded"
    # the figures it changed: the customer's and the sale's receivable, the rep's sales
    assert {"C1", "S1", "R2", "RT1"} <= set(changed["entities"])
    # and the general ledger, to the fen: 11,300 gross = 10,000 revenue + 1,300 VAT
    assert changed["postings"] == [
        {"day": "2024-03-21", "account": "revenue", "debit": 10_000, "credit": 0},
        {"day": "2024-03-21", "account": "vat_payable", "debit": 1_300, "credit": 0},
        {"day": "2024-03-21", "account": "receivables", "debit": 0, "credit": 11_300},
    ]
    # the resolution is found from the correcting command's side too
    by_command = query_audit(projector, fix)["entries"]
    assert [e["event"] for e in by_command] == ["Dispute.Resolved"]

    disputes = {d["dispute_id"]: d for d in query_disputes(projector)["disputes"]}
    assert disputes["D1"]["correction"] == correction
    assert "correction" not in disputes["D2"]  # resolved without a correction: no link
    assert "correction" not in query_audit(projector, "D2")["entries"][1]
