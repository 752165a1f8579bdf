"""Aggregate ids are derived from business ids: uuid5 of kind and id (ARCHITECTURE, Domain).

So the caller's ids are the keys, and "does it exist" is a lookup, not a scan.
"""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

NAMESPACE = UUID("6f1d3c0e-3b8e-5a47-9d2c-1e0c6a7b5d11")


@lru_cache(maxsize=65536)
def aggregate_id(kind: str, business_id: str) -> UUID:
    return uuid5(NAMESPACE, f"{kind}:{business_id}")
