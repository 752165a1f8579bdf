"""Users and their roles (SPEC 1 Actors)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import authority
from ledger.domain.ids import aggregate_id


class User(Aggregate):
    TOPIC = "ledger:User"
    KIND = "user"

    class Created(Aggregate.Created):
        TOPIC = "ledger:User.Created"

    @staticmethod
    def create_id(user_id: str) -> UUID:
        return aggregate_id(User.KIND, user_id)

    class Registered(Aggregate.Created):
        TOPIC = "ledger:User.Registered"
        user_id: str
        name: str
        roles: list[str]
        meta: dict[str, Any]

    @event(Registered)
    def __init__(self, user_id: str, name: str, roles: list[str], meta: dict[str, Any]) -> None:
        self.user_id = user_id
        self.name = name
        self.roles = frozenset(roles)


class BootstrapAdmin:
    """The one user a new ledger has: ``admin`` with role ``admin`` (SPEC 1). It is built
    in, not stored: nothing has to be written before the first command."""

    user_id = authority.ADMIN_USER
    name = "Administrator"
    roles = authority.BOOTSTRAP_ROLES
