"""The replay commands' verdicts (issue 14): a short verdict line first, then the evidence.
verify, explain (SPEC 5.3 ``{figure, value, steps}``), what-if, drift, rebuild."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from ledger.reports.fmt import MONEY_KEYS, company_time, group, money, pairs, table


def verify(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    brk = d.get("first_break")
    against = d.get("against")
    if brk:
        verdict = Text.assemble(("BROKEN", "bold red"), f": the chain breaks at position "
                                f"{brk['position']} ({brk['kind']})")
    elif against and not d["ok"]:
        verdict = Text.assemble(("FAILED", "bold red"), ": the log does NOT extend the checkpoint "
                                "(details below)")
    else:
        verdict = Text.assemble(("OK", "bold green"), f": the chain is intact over {d['events']:,} events"
                                + (", and extends the checkpoint" if against else ""))
    facts = [("events", f"{d['events']:,}"), ("last position", str(d["position"])),
             ("head", d["head"] or "-")]
    if "root" in d:
        facts += [("root", d["root"] or "-"), ("tree size", f"{d.get('tree_size'):,}")]
    rate = d.get("rate")
    if rate:
        facts.append(("rate", f"{rate['events_per_second']:,} events/s in {rate['seconds']}s"
                      + (f" (raw SHA-256 {rate['sha256_per_second']:,}/s)"
                         if rate.get("sha256_per_second") else "")))
    parts: list[RenderableType] = [verdict, pairs(facts, money_right=False)]
    if brk:
        parts.append(Text(f"BREAK at position {brk['position']}: {brk['kind']}: "
                          f"{brk['detail']}", no_wrap=True, overflow="ignore"))
    if against:
        lines = []
        for name in ("signature", "key_trusted", "head", "consistency"):
            value = against.get(name)
            lines.append(f"checkpoint {name}: " + ("n/a (no key pinned)" if value is None
                                                    else "ok" if value else "FAILED"))
        lines += [f"problem: {problem}" for problem in against.get("problems", [])]
        lines.append(f"checkpoint of {against.get('signed_at')} (position {against.get('position')}, "
                     f"tree size {against.get('tree_size')}):")
        lines.append("  the log extends it" if d["ok"] else "  the log does NOT extend it")
        parts.append(Text("\n".join(lines)))
    return group(*parts)


def explain(document: dict[str, Any], width: int = 80) -> RenderableType:
    """``replay explain``: ``{figure, value, steps: [{position, event, occurred_at, rule,
    policy_version, amount, running_total}]}``; the last running total is the value."""
    d = document
    steps = d.get("steps", [])
    last = steps[-1]["running_total"] if steps else 0
    agrees = last == d["value"]
    verdict = Text.assemble((f"{d['figure']} = {money(d['value'])}", "bold"),
                            f": {len(steps)} step(s)",
                            (", the running total ends on it" if agrees else
                             f", BUT the running total ends on {money(last)}"),
                            style="" if agrees else "red")
    extra = {k: v for k, v in d.items() if k not in ("figure", "value", "steps")
             and not isinstance(v, (list, dict))}
    parts: list[RenderableType] = [verdict]
    if extra:
        parts.append(pairs([(k, str(v)) for k, v in extra.items()], money_right=False))
    wide = width >= 120
    if wide:
        cols = [("pos", "num"), ("occurred", "id"), ("event", "id"), ("rule", "text"),
                ("policy", "id")]
    else:  # the time over the event, the policy under the rule
        cols = [("pos", "num"), ("occurred / event", "id"), ("rule / policy", "text")]
    cols += [("amount", "money"), ("running", "money")]
    rows = []
    for s in steps:
        when, event = company_time(s.get("occurred_at")), s.get("event") or "-"
        rule, policy = s.get("rule") or "-", s.get("policy_version") or "-"
        if wide:
            r = [str(s["position"]), when, event, rule, policy]
        else:
            r = [str(s["position"]), f"{when}\n{event}",
                 rule + (f"\npolicy {policy}" if s.get("policy_version") else "")]
        r += [money(s["amount"]), money(s["running_total"])]
        rows.append(r)
    parts.append(table(cols, rows))
    return group(*parts)


def what_if(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    changes = d.get("changes", [])
    what = []
    if d.get("excluded"):
        what.append("excluding " + ", ".join(str(p) for p in d["excluded"]))
    if d.get("amended"):
        what.append("amending " + ", ".join(str(p) for p in d["amended"]))
    verdict = Text.assemble(
        (f"{len(changes)} figure(s) change" if changes else "no figure changes", "bold"),
        f" when replaying to position {d['position']}" + (f" {' and '.join(what)}" if what else ""))
    if not changes:
        return group(verdict)
    rows = []
    for c in changes:
        fmt = money if c["field"] in MONEY_KEYS else (lambda v: f"{v:,}" if isinstance(v, int) else str(v))
        diff = c["difference"]
        rows.append([c["projection"], c["key"], c["field"], fmt(c["live"]), fmt(c["what_if"]),
                     ("+" if isinstance(diff, int) and diff > 0 else "") + fmt(diff)])
    return group(verdict, table([("projection", "id"), ("key", "text"), ("field", "id"),
                                 ("live", "money"), ("what-if", "money"), ("difference", "money")],
                                rows))


def drift(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    diffs = d.get("differences", [])
    verdict = Text.assemble(("no drift" if d["ok"] else f"DRIFT: {len(diffs)} table(s) differ",
                             "bold" if d["ok"] else "bold red"),
                            f" (live projections at position {d['position']})")
    if not diffs:
        return group(verdict)
    return group(verdict, table([("projection", "id"), ("table", "id"), ("missing rows", "num"),
                                 ("unexpected rows", "num")],
                                [[x["projection"], x["table"], str(x["missing"]), str(x["unexpected"])]
                                 for x in diffs]))


def rebuild(document: dict[str, Any], width: int = 80) -> RenderableType:
    d = document
    verdict = Text(f"rebuilt {len(d['projections'])} projection(s) from {d['events']:,} events "
                   f"in {d['seconds']:.1f}s ({d['rate'] or 0:,} events/s)", style="bold")
    return group(verdict, table([("projection", "id"), ("from generation", "num"),
                                 ("to generation", "num")],
                                [[p["name"], str(p["from_generation"]), str(p["to_generation"])]
                                 for p in d["projections"]]))
