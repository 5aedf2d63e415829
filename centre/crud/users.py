"""Staff users and their bearer API keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.core.security import STAFF_TOKEN_PREFIX, Role, hash_token, new_token
from centre.errors import CentreError
from centre.models import StaffUser


class StaffUserExists(CentreError):
    code = "staff_user_exists"


def add_user(db: Session, name: str, role: Role | str) -> tuple[StaffUser, str]:
    """Create a user; returns (user, api key). The key is never stored, only its hash."""
    role = role if isinstance(role, Role) else Role.parse(role)
    name = name.strip()
    if not name:
        raise CentreError("a staff user needs a name", code="staff_user_invalid")
    if db.scalar(select(StaffUser).where(StaffUser.name == name)) is not None:
        raise StaffUserExists(f"staff user {name!r} already exists")
    token = new_token(STAFF_TOKEN_PREFIX)
    user = StaffUser(name=name, role=role.name, token_hash=hash_token(token))
    db.add(user)
    db.flush()
    return user, token


def user_for_token(db: Session, token: str) -> StaffUser | None:
    user = db.scalar(select(StaffUser).where(StaffUser.token_hash == hash_token(token)))
    if user is None or user.disabled:
        return None
    return user


def list_users(db: Session) -> list[StaffUser]:
    return list(db.scalars(select(StaffUser).order_by(StaffUser.name)))
