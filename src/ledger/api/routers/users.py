"""Registered users and their roles (SPEC 5.4: ``admin`` reads users only)."""

from __future__ import annotations

from fastapi import APIRouter

from ledger.api.encoding import MsgspecResponse
from ledger.api.schemas import UserDocument, Users, read_responses
from ledger.api.services import Read
from ledger.projections.users import query_user, query_users

router = APIRouter(prefix="/v1", tags=["users"])


@router.get("/users", operation_id="getUsers", summary="Every registered user and their roles",
            response_class=MsgspecResponse, responses=read_responses(Users, "The users.",
                                                                       lookup=False))
def users(read: Read) -> MsgspecResponse:
    return read.respond(query_users(read.projector))


@router.get("/users/{user_id}", operation_id="getUser", summary="One user and their roles",
            response_class=MsgspecResponse, responses=read_responses(UserDocument, "The user."))
def user(user_id: str, read: Read) -> MsgspecResponse:
    return read.respond(query_user(read.projector, user_id))
