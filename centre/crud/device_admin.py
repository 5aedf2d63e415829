"""Small listings for the console's administration pages (tokens, rosters, passwords)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from centre.models import EnrolmentToken, Roster
from centre.models_console import ConsoleCredential


def recent_tokens(db: Session, limit: int = 20) -> list[EnrolmentToken]:
    q = select(EnrolmentToken).order_by(EnrolmentToken.id.desc()).limit(limit)
    return list(db.scalars(q))


def recent_rosters(db: Session, limit: int = 100) -> list[Roster]:
    """Newest first, without the signed documents (they can be megabytes each)."""
    q = (
        select(Roster)
        .options(
            load_only(
                Roster.id,
                Roster.room,
                Roster.version,
                Roster.sha256,
                Roster.created_at,
                Roster.created_by,
            )
        )
        .order_by(Roster.id.desc())
        .limit(limit)
    )
    return list(db.scalars(q))


def users_with_password(db: Session) -> set[int]:
    return set(db.scalars(select(ConsoleCredential.user_id)))
