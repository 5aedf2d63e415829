"""`kiosk camera pin|show|check`: the technician's side of camera pinning.

`pin` records the camera's identity in the data dir and as a signed ``calibration``
record; `check` is what the door does before it opens the camera (a refusal is written to
the ledger as a ``device_event``); `show` prints what the OS reports beside the pin.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from kiosk.config import KioskConfig, load_config
from kiosk.errors import CameraUnavailable, KioskError

# Only the parser is built at import (`kiosk --help` loads every command module); each
# handler imports the ledger, keys or camera code it needs.
if TYPE_CHECKING:
    from kiosk.ledger.store import LedgerStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("camera", help="pin the door camera; refuse swapped or virtual cameras")
    csub = p.add_subparsers(dest="camera_command", required=True)
    pin = csub.add_parser("pin", help="pin the camera (technician; writes a signed record)")
    pin.add_argument("--technician", required=True, help="who pins (recorded in the ledger)")
    pin.add_argument("--source", help="camera device (default: [camera] source)")
    pin.add_argument(
        "--probe-modes", action="store_true", help="open the camera and record its resolutions"
    )
    pin.add_argument(
        "--allow-virtual",
        action="store_true",
        help="pin even a virtual camera (lab bench only; the door still refuses it)",
    )
    pin.set_defaults(handler=_pin)
    show = csub.add_parser("show", help="the camera the OS reports, and the pin")
    show.add_argument("--source", help="camera device (default: [camera] source)")
    show.set_defaults(handler=_show)
    check = csub.add_parser("check", help="exit 0 only if the pinned, physical camera is there")
    check.add_argument("--source", help="camera device (default: [camera] source)")
    check.set_defaults(handler=_check)


def _source(cfg: KioskConfig, args: argparse.Namespace) -> str:
    return str(args.source or cfg.camera.source)


def _ledger(cfg: KioskConfig) -> LedgerStore:
    from kiosk.ledger.keys import DeviceKeys, KeyPolicy
    from kiosk.ledger.store import LedgerStore

    return LedgerStore(cfg.ledger_path, DeviceKeys.load(cfg.data_dir, KeyPolicy.from_config(cfg)))


def _pin(args: argparse.Namespace) -> int:
    from kiosk.camera.identity import probe_modes
    from kiosk.camera.pinning import pin_camera

    cfg = load_config(args.config)
    source = _source(cfg, args)
    modes = probe_modes(source) if args.probe_modes else ()
    with _ledger(cfg) as ledger:
        pin = pin_camera(
            source,
            cfg.data_dir,
            technician=args.technician,
            ledger=ledger,
            modes=modes,
            allow_virtual=args.allow_virtual,
        )
    print(f"pinned {pin.identity.describe()}")
    print(f"fingerprint {pin.fingerprint}")
    if pin.identity.modes:
        print("modes " + ", ".join(f"{w}x{h}" for w, h in pin.identity.modes))
    return 0


def _show(args: argparse.Namespace) -> int:
    from kiosk.camera.identity import CameraNotPinned, read_identity
    from kiosk.camera.pinning import load_pin

    cfg = load_config(args.config)
    source = _source(cfg, args)
    try:
        seen = read_identity(source)
        print("present: " + json.dumps(seen.to_dict(), indent=2, sort_keys=True))
        reason = seen.virtual_reason()
        if reason:
            print(f"VIRTUAL: {reason}")
    except KioskError as exc:
        print(f"present: none ({exc})")
    try:
        pin = load_pin(cfg.data_dir)
        print(f"pinned: {pin.identity.describe()} by {pin.pinned_by} at {pin.pinned_at}")
        print(f"fingerprint {pin.fingerprint}")
    except CameraNotPinned:
        print("pinned: none (run `kiosk camera pin --technician NAME`)")
    return 0


def _check(args: argparse.Namespace) -> int:
    from kiosk.camera.pinning import check_pin, mismatch_event_body

    cfg = load_config(args.config)
    source = _source(cfg, args)
    with _ledger(cfg) as ledger:
        try:
            seen = check_pin(source, cfg.data_dir, ledger=ledger)
        except CameraUnavailable as exc:
            ledger.append("device_event", mismatch_event_body(exc, source))
            raise
    print(f"ok: {seen.describe()} is the pinned camera")
    return 0
