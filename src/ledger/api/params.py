"""Query parameters the read routes share. Each read takes the CLI's own option names too
(``--as-of`` -> ``as-of``; ``as_of`` is the same)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from ledger.api.auth import ApiError
from ledger.domain.calendar import parse_date

_DATE = r"^\d{4}-\d{2}-\d{2}$"

# No id, date, cursor or time holds a control character (and PostgreSQL text cannot hold
# NUL): the OpenAPI document gives every string parameter this pattern
# (``services.check_parameters`` enforces it).
PLAIN = r"^[^\x00-\x1f\x7f-\x9f]*$"


def as_of_param(
    as_of: Annotated[str | None, Query(
        pattern=_DATE, json_schema_extra={"format": "date"},
        description="Business date `YYYY-MM-DD`: the facts dated on or before it, aged as of "
                    "it (SPEC 1 Time). Default: every fact, as of today.")] = None,
    as_of_cli: Annotated[str | None, Query(
        alias="as-of", pattern=_DATE, json_schema_extra={"format": "date"},
        description="The same as `as_of` (the CLI's option name).")] = None,
) -> date | None:
    """The report date, parsed as the CLI parses ``--as-of``."""
    if as_of is not None and as_of_cli is not None and as_of != as_of_cli:
        raise ApiError(422, "invalid_field", "as_of and as-of disagree", field="as_of")
    text = as_of if as_of is not None else as_of_cli
    if text is None:
        return None
    try:
        return parse_date(text)
    except ValueError as e:
        raise ApiError(422, "invalid_field", f"as_of: {e}",
                       field="as_of" if as_of is not None else "as-of") from None


AsOf = Annotated[date | None, Depends(as_of_param)]
