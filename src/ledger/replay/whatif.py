"""What-if (SPEC 4, 5.3 ``replay what-if``): the projections re-run in a sandbox with
events left out (``--exclude POSITION``) or amended (``--amend POSITION=JSON``: the JSON
object's fields replace the stored event's fields of those names), or under another
commission plan (``--plan VERSION|FILE``: in the sandbox only, governing every month);
closed months are recomputed as their closes would have accrued them
(``ledger.replay.plan_whatif``); the changed figures are listed against the live
projections. The real log and the live tables are only read."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import msgspec

from ledger.projections.engine import Projector
from ledger.replay.figures import differences, figures, rep_months
from ledger.replay.sandbox import sandbox


class WhatIfError(ValueError):
    """A what-if that cannot be run: ``rule`` (``invalid_field``, ``unknown_reference``),
    message and the field."""

    def __init__(self, rule: str, message: str, field: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "details": {"field": self.field}}


def parse_amend(text: str) -> tuple[int, dict[str, Any]]:
    """``POSITION=JSON`` -> (position, fields)."""
    number, sep, body = text.partition("=")
    try:
        position = int(number)
        fields = msgspec.json.decode(body) if sep else None
    except (ValueError, msgspec.DecodeError):
        raise WhatIfError("invalid_field", f"--amend {text!r}: expected POSITION=JSON",
                          "amend") from None
    if not isinstance(fields, dict) or not fields or position < 1:
        raise WhatIfError("invalid_field",
                          f"--amend {text!r}: expected POSITION=JSON with a JSON object", "amend")
    return position, fields


def amend_event(event: Any, fields: Mapping[str, Any], position: int) -> Any:
    names = {f.name for f in dataclasses.fields(event)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise WhatIfError("invalid_field",
                          f"--amend {position}: the event {type(event).__qualname__} has no "
                          f"field {', '.join(unknown)} (it has {', '.join(sorted(names))})",
                          "amend")
    return dataclasses.replace(event, **fields)


def what_if(live: Projector, *, exclude: Sequence[int] = (),
            amend: Mapping[int, dict[str, Any]] | None = None,
            plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{changes: [{projection, key, field, live, what_if, difference}], excluded,
    amended, position}``. ``live`` is caught up first, so both sides read the same log."""
    end = live.source.end()
    amend = dict(amend or {})
    for position in [*exclude, *amend]:
        if not 1 <= position <= end:
            raise WhatIfError("unknown_reference",
                              f"position {position} is not in the log (1..{end})", "position")
    excluded = set(exclude)
    transform_errors: list[WhatIfError] = []

    def transform(position: int, event: Any) -> Any | None:
        if position in excluded:
            return None
        if position in amend:
            try:
                return amend_event(event, amend[position], position)
            except WhatIfError as e:
                transform_errors.append(e)
                return event
        return event

    live.catch_up(stop=end)
    # closed months recomputed as their closes would have accrued them, under ``plan`` or
    # the log's own plans (ledger.replay.plan_whatif)
    from ledger.replay.plan_whatif import plan_replay

    run, prepare, _ = plan_replay(live, plan, transform, frozenset(amend))
    with sandbox(live.source, stop=end, transform=run, prepare=prepare,
                 clock=live.clock) as alt:
        if transform_errors:
            raise transform_errors[0]
        months = rep_months(live)
        for rep_id, periods in rep_months(alt).items():
            months.setdefault(rep_id, set()).update(periods)
        before = figures(live, months)
        after = figures(alt, months)
    document = {"position": end, "excluded": sorted(excluded), "amended": sorted(amend),
                "changes": differences(before, after)}
    if plan is not None:
        document["plan"] = plan.get("version")
    return document


def first_day(period: str) -> date:
    return date.fromisoformat(f"{period}-01")
