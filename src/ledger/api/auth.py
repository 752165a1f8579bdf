"""API keys and the caller (SPEC 5.4): ``Authorization: Bearer <key>``, each key bound to
one user of the ledger, whose roles are the ledger's own (``User`` aggregates; the built-in
``admin`` has role ``admin``).

Keys come from a JSON file ``{"<key>": "<user_id>", ...}`` named by ``LEDGER_API_KEYS_FILE``.
They are held as SHA-256 digests, so a lookup's timing says nothing about a key's text.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec
from eventsourcing.application import AggregateNotFoundError
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger.application import Ledger
from ledger.domain import authority
from ledger.domain.model.users import BootstrapAdmin, User

KEYS_FILE_ENV = "LEDGER_API_KEYS_FILE"


class ApiKeysError(ValueError):
    """The keys file is missing, unreadable or not a JSON object of strings."""


class ApiKeys:
    """Which user each API key speaks for."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._users: dict[bytes, str] = {}
        for key, user_id in keys.items():
            if not isinstance(key, str) or not key or not isinstance(user_id, str) or not user_id:
                raise ApiKeysError("API keys: every key and user id must be a non-empty string")
            self._users[_digest(key)] = user_id

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ApiKeys:
        try:
            document = msgspec.json.decode(Path(path).read_bytes())
        except (OSError, msgspec.DecodeError) as e:
            raise ApiKeysError(f"API keys file {str(path)!r}: {e}") from None
        if not isinstance(document, dict):
            raise ApiKeysError(f"API keys file {str(path)!r}: expected a JSON object "
                               '{"<key>": "<user_id>", ...}')
        return cls(document)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ApiKeys:
        path = environ.get(KEYS_FILE_ENV)
        if not path:
            raise ApiKeysError(f"no API keys: set {KEYS_FILE_ENV} to a JSON file "
                               '{"<key>": "<user_id>", ...}')
        return cls.from_file(path)

    def user_for(self, key: str) -> str | None:
        return self._users.get(_digest(key))

    def __len__(self) -> int:
        return len(self._users)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class Principal:
    """The caller: the key's user and the roles the ledger gives them."""

    user_id: str
    roles: frozenset[str]


class ApiError(Exception):
    """An answer of the HTTP edge itself (not a command's): status, rule, message."""

    def __init__(self, status: int, rule: str, message: str,
                 headers: dict[str, str] | None = None, **details: object) -> None:
        super().__init__(f"{rule}: {message}")
        self.status = status
        self.rule = rule
        self.message = message
        self.details = details
        self.headers = headers


def registered_roles(ledger: Ledger, user_id: str) -> frozenset[str] | None:
    """The roles of a registered user (None when the ledger does not know the user)."""
    try:
        user = ledger.app.repository.get(User.create_id(user_id))
    except AggregateNotFoundError:
        return BootstrapAdmin.roles if user_id == authority.ADMIN_USER else None
    return frozenset(user.roles)


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """401 for a missing or unknown key; 403 when the key's user is not (yet) registered."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or not credentials.credentials:
        raise ApiError(401, "not_authenticated", "missing API key: send Authorization: Bearer <key>",
                       headers=challenge)
    services = request.app.state.services
    user_id = services.keys.user_for(credentials.credentials)
    if user_id is None:
        raise ApiError(401, "not_authenticated", "unknown API key", headers=challenge)
    request.state.user_id = user_id  # for the access log (never the key itself)
    roles = registered_roles(services.ledger, user_id)
    if roles is None:
        raise ApiError(403, "not_authorized", f"the API key's user {user_id!r} is not registered",
                       user=user_id)
    return Principal(user_id, roles)


Caller = Annotated[Principal, Depends(authenticate)]
