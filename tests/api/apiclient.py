"""A TestClient that speaks as one of the standard test company's users (one key each)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from support import USERS

from ledger.application import Ledger

KEYS = {f"key-{user}": user for user in [*USERS, "admin", "ghost", "other_rep"]}


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer key-{user}"}


class Api:
    """A TestClient that speaks as a user."""

    def __init__(self, client: TestClient, ledger: Ledger) -> None:
        self.client = client
        self.ledger = ledger
        self.projector = client.app.state.services.projector  # type: ignore[attr-defined]

    def post(self, body: Any, user: str = "sa") -> Any:
        return self.client.post("/v1/commands", json=body, headers=bearer(user))

    def get(self, path: str, user: str = "fin", **params: Any) -> Any:
        return self.client.get(path, params=params or None, headers=bearer(user))
