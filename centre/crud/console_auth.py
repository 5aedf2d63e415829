"""Console sign-in: scrypt password hashes, lockout after failed attempts, browser sessions.

Staff API keys are random, so the API stores a plain SHA-256 of them; passwords are chosen
by people, so they get a memory-hard KDF (scrypt, 32 MiB per guess) and a per-user lockout.
A session cookie is 256 random bits and, like an API key, only its SHA-256 is stored.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from centre.core.security import hash_token
from centre.errors import CentreError
from centre.models import StaffUser, utcnow
from centre.models_console import ConsoleCredential, ConsoleSession

# N=2^15, r=8: 32 MiB and ~0.1 s per guess on the centre's CPU.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD_LENGTH = 12
MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=8)


class SignInRefused(CentreError):
    """Wrong name or password, or a locked account; `code` says which for the log only."""

    code = "sign_in_refused"


class PasswordTooWeak(CentreError):
    code = "password_too_weak"


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """`scrypt$n$r$p$salt$hash`: the parameters travel with the hash so they can be raised."""
    salt = secrets.token_bytes(16)
    key = Scrypt(salt=salt, length=32, n=n, r=SCRYPT_R, p=SCRYPT_P).derive(password.encode())
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        kdf = Scrypt(salt=base64.b64decode(salt), length=32, n=int(n), r=int(r), p=int(p))
        kdf.verify(password.encode(), base64.b64decode(key))
        return True
    except (InvalidKey, ValueError):
        return False


# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16), n=SCRYPT_N)


def set_password(db: Session, user: StaffUser, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooWeak(f"a console password needs at least {MIN_PASSWORD_LENGTH} characters")
    cred = db.get(ConsoleCredential, user.id)
    if cred is None:
        cred = ConsoleCredential(user_id=user.id, password_hash="", failed_attempts=0)
        db.add(cred)
    cred.password_hash = hash_password(password)
    cred.failed_attempts = 0
    cred.locked_until = None
    cred.changed_at = utcnow()
    # A new password ends every browser session the old one opened.
    db.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    db.flush()


def has_password(db: Session, user_id: int) -> bool:
    return db.get(ConsoleCredential, user_id) is not None


def authenticate(
    db: Session, name: str, password: str, *, now: datetime | None = None
) -> StaffUser:
    """The user, or `SignInRefused`. Counts failures; locks for `LOCKOUT` after too many."""
    now = now or utcnow()
    user = db.scalar(select(StaffUser).where(StaffUser.name == name.strip()))
    cred = db.get(ConsoleCredential, user.id) if user is not None else None
    if user is None or cred is None or user.disabled:
        check_password(password, _DUMMY_HASH)
        raise SignInRefused("name or password is wrong", code="bad_credentials")
    if cred.locked_until is not None and _aware(cred.locked_until) > now:
        raise SignInRefused(f"account {user.name!r} is locked", code="locked")
    if not check_password(password, cred.password_hash):
        cred.failed_attempts += 1
        if cred.failed_attempts >= MAX_FAILED_ATTEMPTS:
            cred.locked_until = now + LOCKOUT
            cred.failed_attempts = 0
        db.flush()
        raise SignInRefused("name or password is wrong", code="bad_credentials")
    cred.failed_attempts = 0
    cred.locked_until = None
    db.flush()
    return user


@dataclass(frozen=True)
class SignedIn:
    user: StaffUser
    csrf_token: str


def open_session(db: Session, user: StaffUser) -> tuple[str, str]:
    """(cookie value, CSRF token) for a fresh browser session."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    # Expired sessions are dead already; sweeping them here keeps the table small.
    db.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < utcnow()))
    db.add(
        ConsoleSession(
            token_hash=hash_token(token),
            user_id=user.id,
            csrf_token=csrf,
            expires_at=utcnow() + SESSION_TTL,
        )
    )
    db.flush()
    return token, csrf


def session_user(db: Session, token: str | None) -> SignedIn | None:
    if not token:
        return None
    row = db.get(ConsoleSession, hash_token(token))
    if row is None or _aware(row.expires_at) <= utcnow():
        return None
    user = db.get(StaffUser, row.user_id)
    if user is None or user.disabled:
        return None
    return SignedIn(user, row.csrf_token)


def close_session(db: Session, token: str | None) -> None:
    if token:
        db.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == hash_token(token)))


def same_token(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
