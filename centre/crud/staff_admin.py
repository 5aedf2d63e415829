"""Staff administration the console needs beyond `centre.crud.users`: role and access."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from centre.core.security import Role
from centre.errors import CentreError
from centre.models import StaffUser
from centre.models_console import ConsoleSession


class StaffUserNotFound(CentreError):
    code = "staff_user_not_found"


def user_by_name(db: Session, name: str) -> StaffUser:
    user = db.scalar(select(StaffUser).where(StaffUser.name == name))
    if user is None:
        raise StaffUserNotFound(f"there is no staff user {name!r}")
    return user


def set_role(db: Session, name: str, role: Role | str) -> StaffUser:
    user = user_by_name(db, name)
    user.role = (role if isinstance(role, Role) else Role.parse(role)).name
    db.flush()
    return user


def set_disabled(db: Session, name: str, disabled: bool) -> StaffUser:
    """Disabling also ends the user's console sessions (their API key stops working too)."""
    user = user_by_name(db, name)
    user.disabled = disabled
    if disabled:
        db.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    db.flush()
    return user
