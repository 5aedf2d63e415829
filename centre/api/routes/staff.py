"""Staff users (admin), who-am-I (any role), health and the centre's public key (open)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from centre.api.deps import (
    Admin,
    ApiError,
    DbSession,
    Viewer,
    context,
)
from centre.crud import users as crud_users

router = APIRouter(prefix="/api/v1")


class StaffUserIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(pattern="^(viewer|auditor|admin)$")


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/centre-key")
def centre_key(*, request: Request) -> dict[str, str]:
    """The roster-signing public key; kiosks pin it at enrolment (compare the key id)."""
    key = context(request).key
    return {"public_key": key.public_key_b64(), "key_id": key.key_id}


@router.get("/me")
def me(*, user: Viewer) -> dict[str, Any]:
    return {"name": user.name, "role": user.role}


@router.post("/users", status_code=201)
def add_user(*, payload: StaffUserIn, request: Request, db: DbSession, _: Admin) -> dict[str, Any]:
    with context(request).write_lock():
        try:
            user, token = crud_users.add_user(db, payload.name, payload.role)
        except crud_users.StaffUserExists as exc:
            raise ApiError(409, exc.code, str(exc)) from None
        db.commit()
    return {"name": user.name, "role": user.role, "api_key": token}


@router.get("/users")
def list_users(*, db: DbSession, _: Admin) -> dict[str, Any]:
    return {
        "users": [
            {"name": u.name, "role": u.role, "disabled": u.disabled}
            for u in crud_users.list_users(db)
        ]
    }
