"""The audit trail as a timeline (issue 14): one decision per row -- time in company time,
who, what, approvers and how each approval was given (attested or granted), reason, policy
version, late marker -- with the event's details on request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from ledger.reports.fmt import cell, company_time, group, money, table


def _approvals(e: dict[str, Any]) -> str:
    """``fin-wang (finance, attested)``: an approval is attested unless the entry says it was
    granted (SPEC 2: ``approvals.mode``), with the grant's id."""
    modes = {a.get("approver"): a for a in e.get("approvals") or [] if isinstance(a, dict)}
    roles = e.get("approver_roles") or {}
    out = []
    for who in e.get("approved_by") or []:
        given = modes.get(who, {})
        how = given.get("mode") or "attested"
        if given.get("grant_id"):
            how += f" {given['grant_id']}"
        role = ", ".join(roles.get(who, []))
        out.append(f"{who} ({role + ', ' if role else ''}{how})")
    return "; ".join(out) or "-"


def _late(e: dict[str, Any]) -> str:
    if not e.get("late"):
        return ""
    try:
        hours = (datetime.fromisoformat(e["reported_at"]) -
                 datetime.fromisoformat(e["occurred_at"])).total_seconds() / 3600
        return f"LATE +{hours:.0f}h"
    except (KeyError, TypeError, ValueError):
        return "LATE"


# an event's own id first (a return's, a payment's...), then what it is about
SUBJECT_KEYS = ("return_id", "payment_id", "writeoff_id", "fine_id", "payout_id", "dispute_id",
                "expense_id", "sale_id", "budget_id", "rep_id", "customer_id", "user_id", "period")
AMOUNT_KEYS = ("amount", "gross")


def _subject(e: dict[str, Any], entity: str | None) -> str:
    """What the decision was about, in a few words: ``S2025-000312 11,234.00``."""
    details = e.get("details")
    if not isinstance(details, dict):
        return ""
    bits = []
    # the event's own id (the first of SUBJECT_KEYS it carries), unless it is the trail's
    subject = next((details[k] for k in SUBJECT_KEYS if isinstance(details.get(k), str)), None)
    if subject and subject != entity:
        bits.append(subject)
    amount = next((details[k] for k in AMOUNT_KEYS if isinstance(details.get(k), int)
                   and not isinstance(details.get(k), bool)), None)
    if amount is not None:
        bits.append(money(amount))
    return (" " + " ".join(bits)) if bits else ""


def _details(details: Any, indent: str = "  ") -> str:
    if not isinstance(details, dict):
        return f"{indent}{cell('', details)}"
    lines = []
    for k, v in details.items():
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            lines.append(f"{indent}{k}:")
            lines += [f"{indent}  - " + ", ".join(f"{a}={cell(a, b)}" for a, b in x.items()) for x in v]
        else:
            lines.append(f"{indent}{k}: {cell(k, v)}")
    return "\n".join(lines)


def timeline(document: dict[str, Any], width: int = 80, *, details: bool = False) -> RenderableType:
    """``query audit --entity|--actor``, ``query late`` and ``query command``."""
    d = document
    entries = d.get("entries", [])
    if "entity_id" in d:
        title = f"Audit trail of {d['entity_id']}"
    elif "answer" in d:
        title = f"Command {d['command_id']} ({d.get('command')}) by {d.get('actor')}"
    elif "actor" in d:
        title = f"Decisions taken or approved by {d['actor']}"
    else:
        span = f"{d.get('from') or 'the start'} to {d.get('to') or 'today'}"
        title = f"Late-reported events, {span}"
    late = sum(1 for e in entries if e.get("late"))
    head_bits: list[Any] = [(title, "bold"), f"\n{len(entries)} entries in log order, {late} reported late"]
    if "answer" in d and isinstance(d["answer"], dict):
        a = d["answer"]
        head_bits.append(f"\nanswer: {a.get('status')}"
                         + (f" ({a.get('rule')}: {a.get('message')})" if a.get("rule") else ""))
    head = Text.assemble(*head_bits)
    rows = []
    for e in entries:
        first = [e.get("actor") or "-", "  ", e["event"], _subject(e, d.get("entity_id"))]
        if e.get("command") and width >= 120:
            first.append(f" ({e['command']})")
        late_mark = _late(e)
        if late_mark:
            first.append(f"  {late_mark}")
        more = []
        if e.get("approved_by"):
            more.append(f"approved by {_approvals(e)}")
        if e.get("reason"):
            more.append(f"reason: {e['reason']}")
        if e.get("policy_version"):
            more.append(f"policy {e['policy_version'].replace(',', ', ')}")
        lines: list[RenderableType] = [Text("".join(first))]
        lines += [Padding(Text(m), (0, 0, 0, 2)) for m in more]
        if details:
            lines.append(Padding(Text(_details(e.get("details"), indent="")), (0, 0, 0, 4)))
        rows.append([company_time(e.get("occurred_at")), f"#{e['position']}", Group(*lines)])
    if not entries:
        return group(head)
    return group(head, table([("time (company)", "id"), ("log", "num"),
                              ("who, what (approvals, reason, policy)", "text")], rows))
