"""An API over a real ledger (SQLite and PostgreSQL, via the ``ledger`` fixture) with the
standard test company and one key per user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import USERS, setup_company

from ledger.api import ApiKeys, create_app
from ledger.application import Ledger

KEYS = {f"key-{user}": user for user in [*USERS, "admin", "ghost"]}


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


@pytest.fixture
def api(ledger: Ledger) -> Iterator[Api]:
    setup_company(ledger)
    with TestClient(create_app(ledger, ApiKeys(KEYS))) as client:
        yield Api(client, ledger)
