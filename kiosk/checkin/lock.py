"""The door lock: released automatically for an admitted applicant, or by hand by a proctor.

Why a separate object: the relay driver is hardware-specific (GPIO, a USB relay, a
network lock) and must not leak into the flow. An automatic release needs no record of
its own, because the ``checkin``/``override`` record that admitted the applicant is the
audit trail; a manual unlock is a human exception, so it is a signed ``device_event``
naming the proctor and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kiosk.checkin.proctor import ProctorAccount, ProctorRole, require_role
from kiosk.errors import PolicyViolation
from kiosk.ledger.store import LedgerStore
from kiosk.protocol.bodies import DOOR_UNLOCK_EVENT, DoorUnlockBody
from kiosk.protocol.envelope import Envelope

log = logging.getLogger(__name__)

MIN_UNLOCK_NOTE = 5

Actuator = Callable[[dict[str, Any]], None]


class DoorLock:
    """The door's electric lock: sends "release" to an actuator (the relay); logs and
    records manual unlocks."""

    def __init__(self, ledger: LedgerStore, actuator: Actuator | None = None) -> None:
        self._ledger = ledger
        self._actuator = actuator
        self.releases = 0

    def _fire(self, event: dict[str, Any]) -> None:
        self.releases += 1
        if self._actuator is None:
            log.info("door release (no actuator attached): %s", event)
            return
        try:
            self._actuator(event)
        except Exception:  # the decision is already recorded; a relay fault must not undo it
            log.exception("door actuator failed for %s", event)

    def release_for(self, applicant_id: str, record_id: str) -> None:
        """Open for an applicant the kiosk (or an override) admitted."""
        self._fire({"trigger": "admitted", "applicant_id": applicant_id, "record_id": record_id})

    def unlock_manually(
        self, account: ProctorAccount, note: str, *, session_id: str | None = None
    ) -> Envelope:
        """A proctor opens the door without a check-in (evacuation, staff, a fault)."""
        require_role(account, (ProctorRole.PROCTOR, ProctorRole.TECHNICIAN))
        note = note.strip()
        if len(note) < MIN_UNLOCK_NOTE:
            raise PolicyViolation(
                f"say why the door is unlocked (at least {MIN_UNLOCK_NOTE} characters)"
            )
        env = self._ledger.append(
            "device_event",
            DoorUnlockBody(
                event=DOOR_UNLOCK_EVENT,
                proctor_id=account.proctor_id,
                role=account.role.value,
                note=note,
                session_id=session_id,
            ).to_dict(),
        )
        log.warning("door unlocked manually by %s (record %s)", account.proctor_id, env.record.id)
        self._fire(
            {"trigger": "proctor", "proctor_id": account.proctor_id, "record_id": env.record.id}
        )
        return env


__all__ = ["DOOR_UNLOCK_EVENT", "DoorLock"]
