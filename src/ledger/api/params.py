"""Query parameters the read routes share. Each route takes the CLI's own option names
(``--as-of`` -> ``as-of``; ``as_of`` is accepted too)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from ledger.api.auth import ApiError


def as_of_param(
    as_of: Annotated[date | None, Query(
        description="Business date `YYYY-MM-DD`: the facts dated on or before it, aged as of "
                    "it (SPEC 1 Time). Default: every fact, as of today.")] = None,
    as_of_cli: Annotated[date | None, Query(
        alias="as-of", description="The same as `as_of` (the CLI's option name).")] = None,
) -> str | None:
    if as_of is not None and as_of_cli is not None and as_of != as_of_cli:
        raise ApiError(422, "invalid_field", "as_of and as-of disagree", field="as_of")
    day = as_of or as_of_cli
    return day.isoformat() if day else None


AsOf = Annotated[str | None, Depends(as_of_param)]
