"""Staff credentials and roles.

Staff authenticate with bearer API keys. A key is 256 bits from `secrets`, so a plain
SHA-256 of it is a safe thing to store (no dictionary to attack; a slow KDF buys nothing
for random keys and would cost on every request). Only the hash is kept; the key is shown
once when it is created.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import IntEnum


class Role(IntEnum):
    """Ordered roles: each one can do everything the ones below it can.

    viewer  — aggregate reports (counts and rates per session/room/proctor).
    auditor — also record-level data (applicant ids, decisions) and incidents.
    admin   — also devices, enrolment tokens, rosters and staff users.
    """

    viewer = 1
    auditor = 2
    admin = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().lower()]
        except KeyError:
            raise ValueError(f"unknown role {name!r}; expected viewer, auditor or admin") from None


STAFF_TOKEN_PREFIX = "kcs_"
ENROLMENT_TOKEN_PREFIX = "kce_"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
