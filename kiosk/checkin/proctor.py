"""Proctor accounts, PIN authentication with lockout, roles, and the override policy.

Why this shape: the brief's failure was people getting through the exam door without
being the booked applicant, often with a person's help. So every human exception is
tied to an authenticated proctor, requires a reason from a fixed list plus a written
note, and ends up as a signed ``override`` record. PINs are short, so they are stretched
with scrypt and guarded by a persisted lockout (a restart must not reset the counter).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import logging
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.errors import PolicyViolation, ProctorAuthError, ProctorLockedOut
from kiosk.protocol.canonical import format_ts, is_uuid7
from kiosk.storage import open_sqlite

log = logging.getLogger(__name__)

MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=5)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ProctorRole(StrEnum):
    PROCTOR = "proctor"  # opens/closes sessions, unlocks the door, overrides refusals
    TECHNICIAN = "technician"  # calibration and device maintenance
    ADMIN = "admin"  # manages accounts; may do anything the others may


@dataclass(frozen=True)
class ProctorAccount:
    """An authenticated (or listed) proctor; never carries the PIN hash."""

    proctor_id: str
    name: str
    role: ProctorRole


def require_role(account: ProctorAccount, role: ProctorRole | Iterable[ProctorRole]) -> None:
    """Raise PolicyViolation unless the account has `role` (or one of several); admin
    passes every check."""
    allowed = {role} if isinstance(role, ProctorRole) else set(role)
    if account.role is ProctorRole.ADMIN or account.role in allowed:
        return
    names = " or ".join(sorted(r.value for r in allowed))
    raise PolicyViolation(
        f"{account.proctor_id} is a {account.role.value}; this action needs {names}"
    )


def proctor_directory_path(cfg: KioskConfig) -> Path:
    """Where the proctor accounts live: the one path `kiosk run` signs proctors in from
    and `kiosk proctor` manages, so an account added on the command line is the account
    the door knows."""
    return cfg.data_dir / "proctors.sqlite"


# The one answer to a failed sign-in, whether or not the proctor id exists, so the sign-in
# screen cannot be used to find out which ids are real (the work done is equal too: an
# unknown id still costs one scrypt, and attempts are counted only for real ids).
NOT_ACCEPTED = "proctor id or PIN not accepted"


def _hash_pin(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=_HASH_BYTES
    )


def check_pin_policy(pin: str) -> None:
    """PINs are 4–8 ASCII digits and not trivially guessable (all one digit, a run)."""
    if not isinstance(pin, str) or not re.fullmatch(r"[0-9]{4,8}", pin):
        raise PolicyViolation("PIN must be 4 to 8 digits")
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if steps in ({0}, {1}, {-1}):
        raise PolicyViolation("PIN is too easy to guess (repeated or consecutive digits)")


_SCHEMA = """CREATE TABLE IF NOT EXISTS proctors (
    proctor_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    salt BLOB NOT NULL,
    pin_hash BLOB NOT NULL,
    scrypt_n INTEGER NOT NULL,
    scrypt_r INTEGER NOT NULL,
    scrypt_p INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER
)"""


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


class ProctorDirectory:
    """Proctor accounts in SQLite. Failed-attempt counters and lockouts are stored, so
    they survive restarts and are shared by every process on the kiosk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = open_sqlite(self.path)
        self._conn.execute(_SCHEMA)
        self._dummy_salt = os.urandom(_SALT_BYTES)

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def _txn(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def add(self, proctor_id: str, name: str, role: ProctorRole | str, pin: str) -> ProctorAccount:
        """Create an account; PolicyViolation for a bad id, role or PIN, or a duplicate."""
        if not isinstance(proctor_id, str) or not _ID_RE.match(proctor_id):
            raise PolicyViolation(f"bad proctor id {proctor_id!r}")
        if not name.strip():
            raise PolicyViolation("proctor name is required")
        try:
            role = ProctorRole(role)
        except ValueError:
            raise PolicyViolation(f"unknown role {role!r}") from None
        check_pin_policy(pin)
        salt = os.urandom(_SALT_BYTES)
        digest = _hash_pin(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        try:
            with self._txn():
                self._conn.execute(
                    "INSERT INTO proctors(proctor_id, name, role, salt, pin_hash, scrypt_n, "
                    "scrypt_r, scrypt_p) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (proctor_id, name.strip(), role.value, salt, digest, *_params()),
                )
        except sqlite3.IntegrityError:
            raise PolicyViolation(f"proctor {proctor_id!r} already exists") from None
        log.info("proctor account %s (%s) added", proctor_id, role.value)
        return ProctorAccount(proctor_id, name.strip(), role)

    def set_pin(self, proctor_id: str, pin: str) -> None:
        """Replace a PIN (clears failures and any lockout)."""
        check_pin_policy(pin)
        salt = os.urandom(_SALT_BYTES)
        digest = _hash_pin(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        with self._txn():
            n = self._conn.execute(
                "UPDATE proctors SET salt = ?, pin_hash = ?, scrypt_n = ?, scrypt_r = ?, "
                "scrypt_p = ?, failed_attempts = 0, locked_until_ms = NULL WHERE proctor_id = ?",
                (salt, digest, *_params(), proctor_id),
            ).rowcount
        if not n:
            raise ProctorAuthError(f"unknown proctor {proctor_id!r}")

    def get(self, proctor_id: str) -> ProctorAccount:
        row = self._conn.execute(
            "SELECT proctor_id, name, role FROM proctors WHERE proctor_id = ?", (proctor_id,)
        ).fetchone()
        if row is None:
            raise ProctorAuthError(f"unknown proctor {proctor_id!r}")
        return ProctorAccount(row[0], row[1], ProctorRole(row[2]))

    def list(self) -> list[ProctorAccount]:
        rows = self._conn.execute(
            "SELECT proctor_id, name, role FROM proctors ORDER BY proctor_id"
        ).fetchall()
        return [ProctorAccount(i, n, ProctorRole(r)) for i, n, r in rows]

    def locked_until(self, now: datetime | None = None) -> dict[str, datetime]:
        """Accounts locked out at `now`, with when each lockout ends (for `kiosk proctor
        list`, so an admin sees whom to unlock)."""
        at = _ms(_now(now))
        rows = self._conn.execute(
            "SELECT proctor_id, locked_until_ms FROM proctors WHERE locked_until_ms > ?", (at,)
        ).fetchall()
        return {pid: datetime.fromtimestamp(ms / 1000, UTC) for pid, ms in rows}

    def unlock(self, proctor_id: str) -> None:
        """Clear a lockout early (an admin action; the caller checks the role)."""
        with self._txn():
            self._conn.execute(
                "UPDATE proctors SET failed_attempts = 0, locked_until_ms = NULL "
                "WHERE proctor_id = ?",
                (proctor_id,),
            )

    def authenticate(
        self, proctor_id: str, pin: str, now: datetime | None = None
    ) -> ProctorAccount:
        """Check a PIN. Raises ProctorAuthError (`NOT_ACCEPTED`, unknown id or wrong PIN) or
        ProctorLockedOut (5 consecutive failures lock the account for 5 minutes).

        The check runs inside a write transaction, so parallel guesses from several
        processes are counted one by one rather than racing the counter.
        """
        at = _now(now)
        with self._txn():
            row = self._conn.execute(
                "SELECT name, role, salt, pin_hash, scrypt_n, scrypt_r, scrypt_p, "
                "failed_attempts, locked_until_ms FROM proctors WHERE proctor_id = ?",
                (proctor_id,),
            ).fetchone()
            if row is None:
                # Same cost as a real check, so timing does not reveal which ids exist.
                _hash_pin(str(pin), self._dummy_salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
                raise ProctorAuthError(NOT_ACCEPTED)
            name, role, salt, stored, n, r, p, failed, locked_until_ms = row
            if locked_until_ms is not None and _ms(at) < locked_until_ms:
                until = datetime.fromtimestamp(locked_until_ms / 1000, UTC)
                left = max(1, int((until - at).total_seconds() + 0.999))
                raise ProctorLockedOut(
                    f"proctor {proctor_id} is locked out until {format_ts(until)} ({left} s left)"
                )
            candidate = _hash_pin(str(pin), salt, n, r, p)
            if hmac.compare_digest(candidate, stored):
                self._conn.execute(
                    "UPDATE proctors SET failed_attempts = 0, locked_until_ms = NULL "
                    "WHERE proctor_id = ?",
                    (proctor_id,),
                )
                return ProctorAccount(proctor_id, name, ProctorRole(role))
            failed += 1
            if failed >= MAX_FAILED_ATTEMPTS:
                self._conn.execute(
                    "UPDATE proctors SET failed_attempts = 0, locked_until_ms = ? "
                    "WHERE proctor_id = ?",
                    (_ms(at + LOCKOUT), proctor_id),
                )
                error: ProctorAuthError = ProctorLockedOut(
                    f"wrong PIN for {proctor_id}; {MAX_FAILED_ATTEMPTS} failures in a row, "
                    f"locked out for {int(LOCKOUT.total_seconds() // 60)} minutes"
                )
                log.warning("proctor %s locked out after repeated wrong PINs", proctor_id)
            else:
                self._conn.execute(
                    "UPDATE proctors SET failed_attempts = ?, locked_until_ms = NULL "
                    "WHERE proctor_id = ?",
                    (failed, proctor_id),
                )
                # Same words as for an unknown id: "4 attempts left" would say the id exists.
                error = ProctorAuthError(NOT_ACCEPTED)
        # Raised after COMMIT so the failure count is persisted.
        raise error


def _params() -> tuple[int, int, int]:
    return SCRYPT_N, SCRYPT_R, SCRYPT_P


class OverrideReason(StrEnum):
    """Why a proctor let in someone the kiosk refused; a fixed list so reports can count."""

    DOCUMENT_CHECKED_MANUALLY = "document_checked_manually"
    CAMERA_OR_LIGHTING_FAULT = "camera_or_lighting_fault"
    APPEARANCE_CHANGED = "appearance_changed"
    MEDICAL_OR_ACCESSIBILITY = "medical_or_accessibility"
    LIVENESS_FALSE_REJECT = "liveness_false_reject"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _REASON_LABELS[self]


_REASON_LABELS = {
    OverrideReason.DOCUMENT_CHECKED_MANUALLY: "Identity document checked by hand",
    OverrideReason.CAMERA_OR_LIGHTING_FAULT: "Camera or lighting fault",
    OverrideReason.APPEARANCE_CHANGED: "Appearance changed since enrolment photo",
    OverrideReason.MEDICAL_OR_ACCESSIBILITY: "Medical or accessibility reason",
    OverrideReason.LIVENESS_FALSE_REJECT: "Liveness check wrongly failed",
    OverrideReason.OTHER: "Other (explain in the note)",
}

NOTE_MIN, NOTE_MAX, NOTE_MIN_OTHER = 10, 500, 30


@dataclass(frozen=True)
class OverrideRequest:
    """A proctor's request to override a refused check-in; validated on construction, so
    an invalid override cannot exist. `to_body()` is the ``override`` record body."""

    proctor_id: str
    reason: OverrideReason
    note: str
    refused_record_id: str

    def __post_init__(self) -> None:
        raw: object = self.reason  # typed as the enum, but built from untrusted input
        if not isinstance(raw, OverrideReason):
            try:
                object.__setattr__(self, "reason", OverrideReason(self.reason))
            except ValueError:
                raise PolicyViolation(f"unknown override reason {self.reason!r}") from None
        if not isinstance(self.proctor_id, str) or not _ID_RE.match(self.proctor_id):
            raise PolicyViolation("an override must name the proctor")
        note = self.note.strip() if isinstance(self.note, str) else ""
        object.__setattr__(self, "note", note)
        minimum = NOTE_MIN_OTHER if self.reason is OverrideReason.OTHER else NOTE_MIN
        if len(note) < minimum:
            raise PolicyViolation(
                f"override note must be at least {minimum} characters"
                + (" when the reason is Other" if self.reason is OverrideReason.OTHER else "")
            )
        if len(note) > NOTE_MAX:
            raise PolicyViolation(f"override note must be at most {NOTE_MAX} characters")
        if not is_uuid7(self.refused_record_id):
            raise PolicyViolation(
                f"refused_record_id {self.refused_record_id!r} is not a ledger record id"
            )

    def to_body(self) -> dict[str, str]:
        return {
            "proctor_id": self.proctor_id,
            "reason": self.reason.value,
            "note": self.note,
            "refused_record_id": self.refused_record_id,
        }


__all__ = [
    "LOCKOUT",
    "MAX_FAILED_ATTEMPTS",
    "OverrideReason",
    "OverrideRequest",
    "ProctorAccount",
    "ProctorDirectory",
    "ProctorRole",
    "check_pin_policy",
    "proctor_directory_path",
    "require_role",
]
