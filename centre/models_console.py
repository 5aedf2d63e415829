"""Tables the web console adds: staff passwords, browser sessions, incident acknowledgements.

They live beside `centre/models.py` (same `Base`, same Alembic history) rather than in it, so
the console can be merged and reviewed on its own. Passwords sit in their own table keyed by
the staff user: an API-key-only user simply has no row and cannot sign in to the console.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from centre.models import Base, utcnow


class ConsoleCredential(Base):
    """A staff user's console password (scrypt hash) and lockout counters."""

    __tablename__ = "console_credentials"

    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie value is stored."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), nullable=False)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class IncidentAck(Base):
    """Append-only: who acknowledged which incident, when, and why.

    The migration puts triggers on this table that refuse UPDATE and DELETE, so neither the
    console nor anyone with the console's database role can rewrite the audit trail.
    """

    __tablename__ = "incident_acks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False)
    acked_by: Mapped[str] = mapped_column(String(100), nullable=False)
    acked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")

    __table_args__ = (Index("ix_incident_acks_incident", "incident_id", "id"),)
