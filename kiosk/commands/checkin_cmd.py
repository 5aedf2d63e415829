"""`kiosk enroll` and `kiosk roster import|show|make-demo`."""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.commands.terminal import progress_bar
from kiosk.config import KioskConfig, load_config
from kiosk.errors import ConfigError, RosterError

if TYPE_CHECKING:  # imported lazily at run time so `kiosk --help` stays fast
    from kiosk.checkin.roster import Roster
    from kiosk.checkin.roster_store import RosterStore
    from kiosk.ledger.keys import DeviceKeys
    from kiosk.ledger.store import LedgerStore
    from kiosk.ledger.vault import TemplateVault
    from kiosk.vision.pipeline import FaceEngine


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("enroll", help="make an applicant's template from photos (quality-gated)")
    e.add_argument("photos", nargs="+", metavar="PHOTO", help="one or more photos of the person")
    e.add_argument("--applicant", required=True, help="applicant id")
    e.add_argument("--out", help="also write the template as JSON for the centre (biometric data!)")
    e.set_defaults(handler=_enroll)

    p = sub.add_parser("roster", help="import, show or make the session roster")
    rsub = p.add_subparsers(dest="roster_command", required=True)
    imp = rsub.add_parser("import", help="verify a centre-signed roster and store it")
    imp.add_argument("file", help="signed roster JSON")
    imp.set_defaults(handler=_import)
    show = rsub.add_parser("show", help="the stored roster for a room (no templates shown)")
    show.add_argument("--centre", help="centre id (default: [checkin] centre_id)")
    show.add_argument("--room", help="room (default: [checkin] room)")
    show.set_defaults(handler=_show)
    demo = rsub.add_parser("make-demo", help="build a signed demo roster from assets/demo")
    demo.add_argument("--out", help="where to write it (default: <data_dir>/demo-roster.json)")
    demo.add_argument("--room", help="room for the demo session (default: from people.toml)")
    demo.add_argument(
        "--pin-demo-key",
        action="store_true",
        help="pin the DEMO centre key on this data dir (demo kiosks only; refused if "
        "another centre key is pinned)",
    )
    demo.add_argument("--import", dest="do_import", action="store_true", help="also import it")
    demo.set_defaults(handler=_make_demo)


@dataclass
class _Stores:
    cfg: KioskConfig
    keys: DeviceKeys
    vault: TemplateVault
    rosters: RosterStore
    ledger: LedgerStore


@contextlib.contextmanager
def _stores(cfg: KioskConfig) -> Iterator[_Stores]:
    from kiosk.checkin.roster_store import RosterStore
    from kiosk.ledger.keys import DeviceKeys
    from kiosk.ledger.store import LedgerStore
    from kiosk.ledger.vault import TemplateVault, default_vault_path

    keys = DeviceKeys.for_config(cfg)
    with (
        TemplateVault(default_vault_path(cfg.data_dir), keys.template_key()) as vault,
        LedgerStore(cfg.ledger_path, keys) as ledger,
    ):
        rosters = RosterStore(cfg.data_dir / "rosters.sqlite", vault)
        try:
            yield _Stores(cfg, keys, vault, rosters, ledger)
        finally:
            rosters.close()


def _engine_and_threshold(cfg: KioskConfig) -> tuple[FaceEngine, float]:
    from kiosk.checkin.matcher import find_calibration
    from kiosk.vision.pipeline import FaceEngine

    engine = FaceEngine.from_config(cfg)
    return engine, find_calibration(cfg, engine.pack).threshold


def _enroll(args: argparse.Namespace) -> int:
    from kiosk.checkin.enrolment import enrol, store_pending

    cfg = load_config(args.config)
    engine, threshold = _engine_and_threshold(cfg)
    with progress_bar("checking photos", len(args.photos)) as advance:
        result = enrol(
            engine,
            args.photos,
            applicant_id=args.applicant,
            agreement_threshold=threshold,
            on_photo=advance,
        )
    for c in result.checks:
        print(f"  {c.photo}: ok (quality {c.quality_score:.0f})")
    now = datetime.now(UTC)
    with _stores(cfg) as s:
        store_pending(s.vault, result, now=now, retention=timedelta(days=cfg.ledger.retention_days))
    agreement = "" if result.agreement is None else f", photos agree at {result.agreement:.3f}"
    print(
        f"enrolled {args.applicant} with pack {result.template.pack_id}{agreement}; "
        "template stored encrypted, pending a centre-signed roster"
    )
    if args.out:
        doc = {
            "applicant_id": args.applicant,
            "pack": result.template.pack_id,
            "vector": base64.b64encode(result.template.vector.astype("<f4").tobytes()).decode(),
        }
        Path(args.out).write_text(json.dumps(doc) + "\n", encoding="utf-8")
        print(f"template written to {args.out}: biometric data, hand it only to the centre")
    return 0


def import_roster(s: _Stores, data: bytes, *, now: datetime) -> Roster:
    """Verify with the pinned centre key, store, and record ``roster_loaded`` in the ledger."""
    from kiosk.ledger.centre_key_pin import load_centre_key
    from kiosk.protocol.bodies import RosterLoadedBody
    from kiosk.protocol.keys import key_id

    centre_key = load_centre_key(s.cfg.data_dir)
    retention = timedelta(days=s.cfg.ledger.retention_days)
    roster = s.rosters.accept(data, centre_key, now=now, retention=retention)
    sess = roster.session
    body = RosterLoadedBody(
        roster_id=roster.roster_id,
        version=roster.version,
        session_id=sess.session_id,
        centre=sess.centre,
        room=sess.room,
        applicants=len(roster.applicants),
        templates=sum(len(a.templates) for a in roster.applicants),
        centre_key_id=key_id(centre_key),
    )
    s.ledger.append("roster_loaded", body.to_dict())
    return roster


def _print_roster(roster: Roster) -> None:
    from kiosk.protocol.iin import mask_iin

    s = roster.session
    print(
        f"roster {roster.roster_id} v{roster.version} (expires {roster.expires_at:%Y-%m-%d %H:%M}Z)"
    )
    print(
        f"session {s.session_id}: {s.kind} at {s.centre}/{s.room}, "
        f"{s.starts_at:%Y-%m-%d %H:%M}–{s.ends_at:%H:%M} UTC"
    )
    for a in roster.applicants:
        packs = ", ".join(sorted({t.pack_id for t in a.templates})) or "NO TEMPLATE"
        photo = "  photo" if a.photo is not None else ""
        print(
            f"  {a.applicant_id:<10} seat {a.seat:<4} {mask_iin(a.iin)}  {a.name}  [{packs}]{photo}"
        )


def _import(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise RosterError(f"cannot read roster {args.file}: {exc.strerror}") from None
    with _stores(cfg) as s:
        roster = import_roster(s, data, now=datetime.now(UTC))
    print("roster accepted and stored:")
    _print_roster(roster)
    return 0


def _show(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    centre, room = args.centre or cfg.checkin.centre_id, args.room or cfg.checkin.room
    if not centre or not room:
        raise ConfigError("name the room: --centre and --room, or [checkin] centre_id and room")
    with _stores(cfg) as s:
        roster = s.rosters.load(centre, room)
    if roster is None:
        print(f"no roster stored for {centre}/{room}")
        return 1
    _print_roster(roster)
    return 0


def _make_demo(args: argparse.Namespace) -> int:
    from kiosk.demo.roster import demo_public_key_b64, make_demo_roster
    from kiosk.ledger.centre_key_pin import pin_centre_key

    cfg = load_config(args.config)
    engine, threshold = _engine_and_threshold(cfg)
    now = datetime.now(UTC)
    room = args.room or cfg.checkin.room or None
    roster, signed = make_demo_roster(engine, now=now, agreement_threshold=threshold, room=room)
    out = Path(args.out) if args.out else cfg.data_dir / "demo-roster.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(signed, indent=1) + "\n", encoding="utf-8")
    print(f"demo roster written to {out} (signed with the DEMO centre key)")
    if args.pin_demo_key:
        pin_centre_key(cfg.data_dir, demo_public_key_b64())
        print("pinned the DEMO centre key: this data dir now trusts demo rosters (demo only)")
    if args.do_import:
        with _stores(cfg) as s:
            roster = import_roster(s, out.read_bytes(), now=now)
        print("imported:")
    _print_roster(roster)
    return 0
