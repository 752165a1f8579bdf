"""``ledger serve`` (SPEC 5.3, 5.4): the HTTP API on uvicorn, over the ledger of
``LEDGER_DATABASE_URL`` and the keys of ``keys_file`` (default ``LEDGER_API_KEYS_FILE``)."""

from __future__ import annotations

import signal

from ledger.api.app import create_app
from ledger.api.auth import ApiKeys
from ledger.application import Ledger


def serve(host: str = "127.0.0.1", port: int = 8000, keys_file: str | None = None) -> None:
    """Serve until interrupted. One process: the ledger runs one batch at a time and the
    projector catches up on reads. Raises ``ApiKeysError`` (a ``ValueError``) when there
    are no usable keys, before anything listens."""
    import uvicorn

    keys = ApiKeys.from_file(keys_file) if keys_file else ApiKeys.from_env()
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda *_: keys.reload())
    with Ledger() as ledger:
        uvicorn.run(create_app(ledger, keys, background_projector=True), host=host, port=port, log_level="info")
