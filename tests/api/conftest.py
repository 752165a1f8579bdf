"""An API over a real ledger (SQLite and PostgreSQL, via the ``ledger`` fixture) with the
standard test company and one key per user."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apiclient import KEYS, Api
from fastapi.testclient import TestClient
from support import setup_company

from ledger.api import ApiKeys, create_app
from ledger.bootstrap import Runtime
from ledger.application import Ledger


@pytest.fixture
def api(ledger: Ledger) -> Iterator[Api]:
    setup_company(ledger)
    with TestClient(create_app(Runtime.for_ledger(ledger), ApiKeys(KEYS))) as client:
        yield Api(client, ledger)
