"""The registered users and their roles, read from the audit projection's ``users`` table
(SPEC 5.4: ``admin`` reads users only). The bootstrap ``admin`` of every ledger is listed
too, with role ``admin``."""

from __future__ import annotations

from typing import Any

from ledger.domain.authority import ADMIN_USER, BOOTSTRAP_ROLES
from ledger.projections.audit import AuditProjection
from ledger.projections.common import from_json
from ledger.projections.engine import Projector
from ledger.projections.errors import unknown
from ledger.projections.receivables import projection_of


def query_users(projector: Projector) -> dict[str, Any]:
    """``{users: [{user_id, roles}]}``, by user id."""
    p = projection_of(projector, AuditProjection)
    with projector.transaction(commit=False) as sql:
        rows = sql.all(f"SELECT user_id, roles FROM {p.t('users')} ORDER BY user_id")
    users = {r["user_id"]: sorted(from_json(r["roles"])) for r in rows}
    users.setdefault(ADMIN_USER, sorted(BOOTSTRAP_ROLES))
    return {"users": [{"user_id": u, "roles": users[u]} for u in sorted(users)]}


def query_user(projector: Projector, user_id: str) -> dict[str, Any]:
    """``{user_id, roles}`` of one user; ``unknown_reference`` for an unknown one."""
    for user in query_users(projector)["users"]:
        if user["user_id"] == user_id:
            return user
    raise unknown("user", user_id, "user_id")
