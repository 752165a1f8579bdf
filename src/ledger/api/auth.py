"""API keys and the caller (SPEC 5.4): ``Authorization: Bearer <key>``, each key bound to
one user of the ledger, whose roles are the ledger's own (``User`` aggregates; the built-in
``admin`` has role ``admin``).

Keys come from the keys file named by ``LEDGER_API_KEYS_FILE`` (``ledger.api.keyfile``: only
their SHA-256 digests are stored), so a lookup's timing says nothing about a key's text.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger.api import keyfile
from ledger.bootstrap import Runtime
from ledger.domain import authority
from ledger.domain.model.users import User


class ApiKeysError(ValueError):
    """The keys file is missing, unreadable or not a JSON object of strings."""


class ApiKeys:
    """Which user each API key speaks for. Held as SHA-256 digests only.

    Built from a mapping of clear keys (tests, embedding) or from a keys file
    (``ledger.api.keyfile``), which is read again when it changes (checked at most once a
    second, and at once on ``reload()``, which ``ledger serve`` calls on SIGHUP), so keys
    are added and revoked without a restart. A changed file that cannot be read keeps the
    keys already loaded (and says why in ``last_error``)."""

    RELOAD_CHECK_SECONDS = 1.0

    def __init__(self, keys: Mapping[str, str]) -> None:
        users: dict[bytes, str] = {}
        for key, user_id in keys.items():
            if not isinstance(key, str) or not key or not isinstance(user_id, str) or not user_id:
                raise ApiKeysError("API keys: every key and user id must be a non-empty string")
            users[_digest(key)] = user_id
        self._users = users
        self._path: Path | None = None
        self._stamp: tuple[float, int] | None = None
        self._checked = 0.0
        self.last_error: str | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ApiKeys:
        keys = cls({})
        keys._path = Path(path)
        keys._load(strict=True)
        return keys

    def _load(self, *, strict: bool) -> None:
        path = self._path
        if path is None:
            return
        try:
            st = path.stat()
            loaded = keyfile.active(keyfile.load(path))
        except (OSError, keyfile.KeyFileError) as e:
            if strict:
                raise ApiKeysError(str(e)) from None
            self.last_error = str(e)
            return
        if strict and not loaded:
            raise ApiKeysError(f"API keys file {str(path)!r} holds no usable key "
                               f"(keys are at least {keyfile.MIN_KEY_LENGTH} characters; "
                               "make one with `ledger keys add USER`)")
        self._users = {bytes.fromhex(h): u for h, u in loaded.items()}
        self._stamp = (st.st_mtime, st.st_size)
        self.last_error = None

    def reload(self) -> None:
        """Read the keys file again now (SIGHUP)."""
        self._load(strict=False)

    def _maybe_reload(self) -> None:
        if self._path is None:
            return
        now = time.monotonic()
        if now - self._checked < self.RELOAD_CHECK_SECONDS:
            return
        self._checked = now
        try:
            st = self._path.stat()
        except OSError as e:
            self.last_error = str(e)
            return
        if (st.st_mtime, st.st_size) != self._stamp:
            self._load(strict=False)

    def user_for(self, key: str) -> str | None:
        self._maybe_reload()
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


def registered_roles(runtime: Runtime, user_id: str) -> frozenset[str] | None:
    """The roles of a registered user (None when the ledger does not know the user)."""
    user = runtime.ledger.load(User, user_id)
    if user is None:
        return authority.bootstrap_roles(user_id)
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
    # the log's end and the projections' positions, read once for the request: the roles
    # are loaded again only when the log has grown since they were (Services.roles_of)
    state = request.state.read_state = services.runtime.read_state()
    roles = services.roles_of(user_id, state.log_position)
    if roles is None:
        raise ApiError(403, "not_authorized", f"the API key's user {user_id!r} is not registered",
                       user=user_id)
    return Principal(user_id, roles)


Caller = Annotated[Principal, Depends(authenticate)]
