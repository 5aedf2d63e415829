"""`kiosk keys init|show|rotate|pin-centre`."""

from __future__ import annotations

import argparse

from kiosk.config import load_config
from kiosk.errors import KeyStoreError
from kiosk.ledger.keys import (
    DeviceKeys,
    key_id,
    keys_dir,
    load_centre_key,
    load_public_key_b64,
    pin_centre_key,
)
from kiosk.ledger.store import LedgerStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="device signing key and the pinned centre key")
    ksub = p.add_subparsers(dest="keys_command", required=True)
    ksub.add_parser("init", help="create the device keys if absent").set_defaults(handler=_init)
    ksub.add_parser("show", help="device id, public key and history").set_defaults(handler=_show)
    ksub.add_parser(
        "rotate", help="switch to a new signing key (announced in the ledger by the old key)"
    ).set_defaults(handler=_rotate)
    pin = ksub.add_parser("pin-centre", help="pin the centre's roster-signing public key")
    pin.add_argument("public_key", help="raw Ed25519 public key, base64")
    pin.set_defaults(handler=_pin)


def _init(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    existed = (keys_dir(cfg.data_dir) / "device.json").exists()
    keys = DeviceKeys.load_or_create(cfg.data_dir)
    what = "device keys already exist" if existed else "created device keys"
    print(f"{what} in {keys.directory}")
    print(f"device id  {keys.device_id}")
    print(f"public key {keys.public_key_b64()}")
    return 0


def _show(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    keys = DeviceKeys.load(cfg.data_dir)
    print(f"device id  {keys.device_id}")
    print(f"public key {keys.public_key_b64()} (key id {keys.key_id()})")
    for epoch in keys.history:
        kid = key_id(load_public_key_b64(epoch.public_key_b64))
        print(f"  key {kid} signs from seq {epoch.from_seq}")
    try:
        print(f"centre key {key_id(load_centre_key(cfg.data_dir))} (pinned)")
    except KeyStoreError:
        print("centre key not pinned")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    keys = DeviceKeys.load(cfg.data_dir)
    with LedgerStore(cfg.ledger_path, keys) as store:
        env = store.rotate_key()
    print(f"rotated: record seq {env.record.seq} announces key {keys.key_id()}")
    print(f"new public key {keys.public_key_b64()} signs from seq {env.record.seq + 1}")
    return 0


def _pin(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    pin_centre_key(cfg.data_dir, args.public_key)
    print(f"pinned centre key {key_id(load_public_key_b64(args.public_key))}")
    return 0
