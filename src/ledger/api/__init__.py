"""The HTTP API (SPEC 5.4): ``create_app`` builds it, ``serve`` runs it (``ledger serve``)."""

from __future__ import annotations

from ledger.api import keyfile
from ledger.api.app import create_app
from ledger.api.auth import ApiKeys, ApiKeysError
from ledger.api.server import serve

__all__ = ["ApiKeys", "ApiKeysError", "create_app", "keyfile", "serve"]
