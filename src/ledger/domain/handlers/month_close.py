"""What CloseMonth computes. Commission accruals and promotions come with the commission
plan engine (issue 4); until then a close records the period, its closer and the log
position it read up to."""

from __future__ import annotations

from typing import Any

from ledger.domain.handlers.context import Context
from ledger.domain.model import Closings


def compute_close(ctx: Context, period: str, closings: Closings) -> dict[str, Any]:
    return {}
