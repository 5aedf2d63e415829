"""Camera pinning: the door runs only with the camera a technician calibrated.

Why: the cheapest way past a face check is not to fool the face model but to replace the
camera: a virtual camera (v4l2loopback, OBS Virtual Camera, akvcam, ...) fed with a
video of the booked applicant, or a different USB camera with a capture card behind it.
At calibration the technician pins the camera's identity as Linux exposes it (sysfs
name, USB vendor/product/serial, the kernel driver, the V4L2 ``QUERYCAP`` driver and card
where the device node answers, whether the node hangs under ``/sys/devices/virtual``) and
the resolutions it accepts. `check_pin` compares the camera the door is about to open
with the pin and refuses a different one (`CameraPinMismatch`) or any known virtual one
(`VirtualCameraRefused`), even if it was pinned.

The pin file sits in the data dir, but the pin is also written to the ledger as a signed
``calibration`` record; with a ledger at hand `check_pin` insists the two agree, so
editing the file to accept another camera (a colluding technician skipping the
procedure) leaves either a mismatch or a signed, centre-visible re-pin.

Reading a camera's identity is `kiosk.camera.identity`; this module is the pin: the
file, its ledger record, and the check at door start.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.camera.identity import (
    CameraIdentity,
    CameraNotPinned,
    CameraPinMismatch,
    VirtualCameraRefused,
    read_identity,
)
from kiosk.errors import CameraUnavailable
from kiosk.protocol.bodies import CAMERA_REFUSED_EVENT, CameraRefusedBody
from kiosk.protocol.bounded_json import loads_bounded
from kiosk.storage import atomic_write_text

if TYPE_CHECKING:
    from kiosk.ledger.record_ledger import RecordLedger

log = logging.getLogger(__name__)

PIN_FILENAME = "camera_pin.json"
PIN_EVENT = "camera_pinned"  # body.event of the `calibration` record a pin writes


# --- the pin ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraPin:
    identity: CameraIdentity
    pinned_at: str
    pinned_by: str
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": 1,
            "identity": self.identity.to_dict(),
            "pinned_at": self.pinned_at,
            "pinned_by": self.pinned_by,
            "fingerprint": self.fingerprint,
        }


def pin_path(data_dir: Path) -> Path:
    return Path(data_dir) / PIN_FILENAME


def load_pin(data_dir: Path) -> CameraPin:
    path = pin_path(data_dir)
    try:
        doc = loads_bounded(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CameraNotPinned(
            "no camera is pinned on this kiosk; a technician must run `kiosk camera pin`"
        ) from None
    except (OSError, ValueError) as exc:
        raise CameraPinMismatch(f"camera pin {path} is unreadable ({exc})") from None
    if not isinstance(doc, dict) or doc.get("v") != 1 or not isinstance(doc.get("identity"), dict):
        raise CameraPinMismatch(f"camera pin {path} is malformed")
    identity = CameraIdentity.from_dict(doc["identity"])
    pin = CameraPin(
        identity, str(doc.get("pinned_at")), str(doc.get("pinned_by")), str(doc.get("fingerprint"))
    )
    if pin.fingerprint != identity.fingerprint():
        raise CameraPinMismatch(f"camera pin {path} was edited (fingerprint does not match)")
    return pin


def pin_record_body(pin: CameraPin) -> dict[str, Any]:
    """The signed `calibration` record body that makes a (re-)pin visible at the centre."""
    return {
        "event": PIN_EVENT,
        "fingerprint": pin.fingerprint,
        "camera": pin.identity.to_dict(),
        "pinned_by": pin.pinned_by,
    }


def pin_camera(
    source: str | int,
    data_dir: Path,
    *,
    technician: str,
    ledger: RecordLedger | None = None,
    sysfs_root: Path = Path("/"),
    dev_root: Path | None = None,
    modes: tuple[tuple[int, int], ...] = (),
    allow_virtual: bool = False,
) -> CameraPin:
    """Pin the camera `source` names (technician action at calibration).

    A virtual camera is refused unless `allow_virtual` (a lab bench, never a door). The
    signed ledger record is written before the file, so a crash leaves the door refusing
    (file absent or old) rather than trusting an unrecorded pin.
    """
    identity = read_identity(source, sysfs_root=sysfs_root, dev_root=dev_root)
    if modes:
        identity = CameraIdentity(**{**identity.__dict__, "modes": tuple(modes)})
    reason = identity.virtual_reason()
    if reason and not allow_virtual:
        raise VirtualCameraRefused(f"refusing to pin {identity.describe()}: {reason}")
    pin = CameraPin(
        identity=identity,
        pinned_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        pinned_by=technician,
        fingerprint=identity.fingerprint(),
    )
    if ledger is not None:
        ledger.append("calibration", pin_record_body(pin))
    path = pin_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(pin.to_dict(), indent=2, sort_keys=True) + "\n"
    atomic_write_text(path, text, 0o644)
    log.info(
        "pinned camera %s (fingerprint %s) by %s",
        identity.describe(),
        pin.fingerprint[:16],
        technician,
    )
    return pin


def last_pinned_fingerprint(ledger: RecordLedger) -> str | None:
    """The fingerprint of the newest camera pin recorded in the (verified) ledger."""
    found: str | None = None
    for env in ledger.iter_envelopes():
        record = env.record
        if record.type == "calibration" and record.body.get("event") == PIN_EVENT:
            found = str(record.body.get("fingerprint"))
    return found


def check_pin(
    source: str | int,
    data_dir: Path,
    *,
    ledger: RecordLedger | None = None,
    sysfs_root: Path = Path("/"),
    dev_root: Path | None = None,
) -> CameraIdentity:
    """Refuse to run the door unless `source` is the pinned, physical camera.

    Raises CameraNotPinned, VirtualCameraRefused (whatever the pin says), CameraPinMismatch
    (another camera, an edited pin file, or a pin the ledger never recorded) or
    CameraUnavailable (the camera is not there). Returns the identity seen.
    """
    pin = load_pin(data_dir)
    seen = read_identity(source, sysfs_root=sysfs_root, dev_root=dev_root)
    reason = seen.virtual_reason()
    if reason:
        raise VirtualCameraRefused(f"camera {seen.describe()} is refused: {reason}")
    if ledger is not None and last_pinned_fingerprint(ledger) != pin.fingerprint:
        raise CameraPinMismatch(
            "the camera pin file does not match the last pin recorded in the ledger; "
            "a technician must re-pin with `kiosk camera pin`"
        )
    if seen.compared() != pin.identity.compared():
        diff = [k for k, v in seen.compared().items() if pin.identity.compared()[k] != v]
        raise CameraPinMismatch(
            f"camera {seen.describe()} is not the pinned camera {pin.identity.describe()} "
            f"(differs in {', '.join(diff)}); a technician must re-pin it"
        )
    return seen


def mismatch_event_body(exc: CameraUnavailable, source: str | int) -> dict[str, Any]:
    """A `device_event` body for a refused camera, for the ledger."""
    return CameraRefusedBody(
        event=CAMERA_REFUSED_EVENT, code=exc.code, source=str(source), reason=str(exc)
    ).to_dict()


__all__ = [
    "PIN_EVENT",
    "CameraNotPinned",
    "CameraPin",
    "CameraPinMismatch",
    "VirtualCameraRefused",
    "check_pin",
    "last_pinned_fingerprint",
    "load_pin",
    "mismatch_event_body",
    "pin_camera",
    "pin_path",
    "pin_record_body",
]
