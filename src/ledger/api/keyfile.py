"""The API keys file (issue 13): keys stored hashed, never in clear.

``{"version": 1, "keys": [{"id", "user_id", "sha256", "created_at", "revoked_at"}]}``

``ledger keys add USER`` makes a new random key, prints it once and stores only its
SHA-256; ``ledger keys list`` shows ids, users and dates; ``ledger keys revoke ID`` marks a
key revoked. The file must not be readable or writable by group or others (like an ssh
key), and it is written atomically (a temporary file renamed over it), mode 0600.

A file of the first format, ``{"<key>": "<user_id>"}`` in clear, is still read, but only
keys of at least ``MIN_KEY_LENGTH`` characters count; ``ledger keys add`` converts it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

MIN_KEY_LENGTH = 32
KEY_BYTES = 32  # a new key: 32 random bytes, url-safe base64 (43 characters)
FILE_MODE = 0o600


class KeyFileError(ValueError):
    """The keys file is missing, unsafe, or not a keys file."""


class KeyEntry(msgspec.Struct, kw_only=True):
    id: str
    user_id: str
    sha256: str
    created_at: str
    revoked_at: str | None = None


class KeyFile(msgspec.Struct, kw_only=True):
    version: int = 1
    keys: list[KeyEntry] = []


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_permissions(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & 0o077:
        raise KeyFileError(
            f"API keys file {str(path)!r} is accessible to group or others (mode "
            f"{stat.S_IMODE(mode):04o}); run: chmod 600 {path}")


def load(path: str | os.PathLike[str], *, check_mode: bool = True) -> KeyFile:
    """The keys file's entries (a clear-text file of the first format is converted in
    memory, its short keys left out)."""
    p = Path(path)
    try:
        if check_mode:
            check_permissions(p)
        raw = msgspec.json.decode(p.read_bytes())
    except OSError as e:
        raise KeyFileError(f"API keys file {str(p)!r}: {e.strerror or e}") from None
    except msgspec.DecodeError as e:
        raise KeyFileError(f"API keys file {str(p)!r}: not JSON ({e})") from None
    if isinstance(raw, dict) and "keys" in raw:
        try:
            return msgspec.convert(raw, KeyFile)
        except msgspec.ValidationError as e:
            raise KeyFileError(f"API keys file {str(p)!r}: {e}") from None
    if isinstance(raw, dict) and all(isinstance(k, str) and isinstance(v, str)
                                     for k, v in raw.items()):
        now = _now()
        return KeyFile(keys=[KeyEntry(id=digest(k)[:12], user_id=v, sha256=digest(k),
                                      created_at=now)
                             for k, v in raw.items() if len(k) >= MIN_KEY_LENGTH and v])
    raise KeyFileError(f"API keys file {str(p)!r}: expected "
                       '{"version": 1, "keys": [...]} (see `ledger keys add`)')


def save(path: str | os.PathLike[str], keys: KeyFile) -> None:
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent or Path("."), prefix=f".{p.name}.")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(msgspec.json.format(msgspec.json.encode(keys), indent=2) + b"\n")
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add(path: str | os.PathLike[str], user_id: str) -> tuple[str, KeyEntry]:
    """A new random key for ``user_id``: (the key, its stored entry). Only the digest is
    written."""
    p = Path(path)
    keys = load(p) if p.exists() else KeyFile()
    key = secrets.token_urlsafe(KEY_BYTES)
    entry = KeyEntry(id=secrets.token_hex(6), user_id=user_id, sha256=digest(key),
                     created_at=_now())
    keys.keys.append(entry)
    save(p, keys)
    return key, entry


def revoke(path: str | os.PathLike[str], key_id: str) -> KeyEntry:
    keys = load(path)
    for entry in keys.keys:
        if entry.id == key_id:
            if entry.revoked_at is None:
                entry.revoked_at = _now()
                save(path, keys)
            return entry
    raise KeyFileError(f"no key with id {key_id!r} in {str(path)!r} (see `ledger keys list`)")


def active(keys: KeyFile) -> dict[str, str]:
    """sha256 hex -> user id of the keys not revoked."""
    return {e.sha256: e.user_id for e in keys.keys if e.revoked_at is None}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def as_rows(keys: KeyFile) -> list[dict[str, Any]]:
    return [msgspec.structs.asdict(e) | {"sha256": None} for e in keys.keys]
