"""A msgspec JSON transcoder for the eventsourcing mapper.

Event payloads hold JSON-native values only (int fen, str dates and times, decimal
strings for rates, lists, dicts, bools): the domain keeps no floats, UUIDs, Decimals or
datetimes in events. The one exception is the library's own ``timestamp`` field (the
recorded time), a ``datetime`` that this transcoder restores on decode.

Commands are decoded strictly (an amount must be a JSON integer), so no float reaches
an event; ``tests/test_event_schema.py`` checks every stored sample for floats.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from eventsourcing.persistence import Transcoder

# Keys the library itself puts in event state as datetimes.
_DATETIME_KEYS = ("timestamp",)


def _refuse(obj: Any) -> Any:
    raise TypeError(f"cannot store {type(obj).__name__} in an event payload: {obj!r}")


class MsgspecTranscoder(Transcoder):
    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder(enc_hook=_refuse)
        self._decoder = msgspec.json.Decoder()

    def encode(self, obj: Any) -> bytes:
        return self._encoder.encode(obj)

    def decode(self, data: bytes) -> Any:
        state = self._decoder.decode(data)
        if isinstance(state, dict):
            for key in _DATETIME_KEYS:
                value = state.get(key)
                if isinstance(value, str):
                    state[key] = datetime.fromisoformat(value)
        return state
