"""Pages of a read's list (SPEC 5.4: audit entries, receivable items, statement lines and
expenses are paginated with ``limit`` and ``cursor``).

A document's list is cut at ``limit`` (default ``DEFAULT_LIMIT``, at most ``MAX_LIMIT``);
when more follow, the document carries ``next_cursor`` and the answer the headers
``X-Next-Cursor`` and ``Link: <...>; rel="next"``. A cursor is opaque to callers: the
offset of the page's first element, tamper-evident only in that a malformed one is
``invalid_field``. A document whose list fits in one page is the CLI's document, byte for
byte (no ``next_cursor``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ledger.api.auth import ApiError

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
PAGED_FIELDS = ("entries", "items", "lines", "expenses")
NEXT_CURSOR_HEADER = "X-Next-Cursor"


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        offset = int(number)
        if kind != "o" or offset < 0:
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(422, "invalid_field", f"cursor: {cursor!r} is not a cursor this API gave",
                       field="cursor") from None
    return offset


def paginate(document: Any, limit: int | None, cursor: str | None) -> tuple[Any, str | None]:
    """(the document with its list cut to one page, the next page's cursor or None)."""
    if not isinstance(document, dict):
        return document, None
    field = next((f for f in PAGED_FIELDS if isinstance(document.get(f), list)), None)
    if field is None:
        if cursor is not None:
            raise ApiError(422, "invalid_field", "cursor: this read has no list to page",
                           field="cursor")
        return document, None
    offset = decode_cursor(cursor) if cursor is not None else 0
    size = limit if limit is not None else DEFAULT_LIMIT
    items = document[field]
    page = items[offset:offset + size]
    if offset == 0 and len(page) == len(items):
        return document, None
    following = encode_cursor(offset + size) if offset + size < len(items) else None
    paged = {**document, field: page}
    if following is not None:
        paged["next_cursor"] = following
    return paged, following
