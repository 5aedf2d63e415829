"""Accepted rosters kept on the kiosk, with the anti-rollback version per room.

`kiosk.protocol.roster` is the signed wire format and the anti-rollback rule,
`kiosk.checkin.roster` the in-memory model; this module is where an accepted roster lives
between restarts, its templates encrypted in the `TemplateVault`.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.checkin.roster import (
    Roster,
    encode_vector,
    parse_signed_roster,
    roster_from_document,
    roster_to_document,
)
from kiosk.ledger.vault import TemplateVault
from kiosk.protocol.bounded_json import loads_bounded
from kiosk.protocol.canonical import format_ts
from kiosk.protocol.roster import check_not_rollback
from kiosk.storage import open_sqlite

_STORE_SCHEMA = """CREATE TABLE IF NOT EXISTS rosters (
    room_key TEXT PRIMARY KEY,
    roster_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    document TEXT NOT NULL,
    accepted_at TEXT NOT NULL
)"""


class RosterStore:
    """Accepted rosters on the kiosk: the version high-water mark per room, and templates
    in the encrypted vault (the stored document keeps only pack ids and row numbers).

    The version survives restarts, so an older roster replayed after a reboot is still
    refused; `accept` is the only way in and always verifies the centre signature.
    """

    def __init__(self, path: Path, vault: TemplateVault) -> None:
        self.path = Path(path)
        self._vault = vault
        self._conn = open_sqlite(self.path)
        self._conn.execute(_STORE_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def version(self, centre: str, room: str) -> int:
        """Last accepted roster version for this room (0 if none)."""
        row = self._conn.execute(
            "SELECT version FROM rosters WHERE room_key = ?", (f"{centre}/{room}",)
        ).fetchone()
        return int(row[0]) if row else 0

    def accept(
        self,
        doc: dict[str, Any] | bytes | str,
        centre_public_key: Ed25519PublicKey,
        *,
        now: datetime,
        retention: timedelta = timedelta(days=30),
    ) -> Roster:
        """Verify a signed roster, refuse rollback, store it; templates go to the vault and
        expire `retention` after the session ends."""
        roster = parse_signed_roster(doc, centre_public_key, now=now)
        s = roster.session
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            current = self.version(s.centre, s.room)
            check_not_rollback(roster.roster_id, roster.version, current, roster.room_key)
            stripped = roster_to_document(roster)
            expires = s.ends_at + retention
            for a, entry in zip(roster.applicants, stripped["applicants"], strict=True):
                # the photo never goes into the plain stored document: only the vault; a
                # newer roster without one must not leave the old one to be shown
                entry.pop("photo", None)
                if a.photo is not None:
                    self._vault.put_photo(s.session_id, a.applicant_id, a.photo, expires_at=expires)
                else:
                    self._vault.drop_photo(s.session_id, a.applicant_id)
                rows: dict[str, list[np.ndarray]] = {}
                entry["templates"] = []
                for t in a.templates:
                    rows.setdefault(t.pack_id, []).append(t.vector)
                    entry["templates"].append({"pack": t.pack_id, "row": len(rows[t.pack_id]) - 1})
                for pack, vectors in rows.items():
                    self._vault.put(
                        s.session_id, a.applicant_id, pack, np.stack(vectors), expires_at=expires
                    )
            self._conn.execute(
                "INSERT OR REPLACE INTO rosters VALUES (?, ?, ?, ?, ?, ?)",
                (
                    roster.room_key,
                    roster.roster_id,
                    roster.version,
                    s.session_id,
                    json.dumps(stripped, sort_keys=True),
                    format_ts(now),
                ),
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return roster

    def load(self, centre: str, room: str) -> Roster | None:
        """The accepted roster for a room with templates and booking photos decrypted from
        the vault (those already purged are simply absent); None if no roster was accepted."""
        row = self._conn.execute(
            "SELECT document FROM rosters WHERE room_key = ?", (f"{centre}/{room}",)
        ).fetchone()
        if row is None:
            return None
        doc = loads_bounded(row[0])
        session_id = doc["session"]["session_id"]
        stored = set(self._vault.keys(session_id))
        for entry in doc["applicants"]:
            templates = []
            for t in entry["templates"]:
                if (entry["applicant_id"], t["pack"]) in stored:
                    arr = self._vault.get(session_id, entry["applicant_id"], t["pack"])
                    templates.append({"pack": t["pack"], "vector": encode_vector(arr[t["row"]])})
            entry["templates"] = templates
            photo = self._vault.get_photo(session_id, entry["applicant_id"])
            if photo is not None:
                entry["photo"] = base64.b64encode(photo).decode("ascii")
        return roster_from_document(doc)


__all__ = ["RosterStore"]
