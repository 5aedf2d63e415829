"""`kiosk keys init|show|rotate|pin-centre|seal`.

Every command loads the keys with the ``[keys] protection`` policy from the config (the
OS keyring, else a passphrase from ``KIOSK_KEY_PASSPHRASE`` or a prompt); `seal` moves an
existing store to another protection or a new passphrase.
"""

from __future__ import annotations

import argparse
import os

from kiosk.config import load_config
from kiosk.errors import KeyStoreError

# Only the parser is built at import (`kiosk --help` loads every command module); each
# handler imports the ledger, keys or camera code it needs.


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
    seal = ksub.add_parser(
        "seal",
        help="protect the keys with the OS keyring or a (new) passphrase; migrates plain text",
    )
    seal.add_argument(
        "--to",
        choices=("keyring", "passphrase"),
        default="passphrase",
        # keyseal.NEW_PASSPHRASE_ENV, spelled out so the parser needs no key code
        help="target protection (passphrase: from KIOSK_KEY_NEW_PASSPHRASE or asked twice)",
    )
    seal.set_defaults(handler=_seal)


def _init(args: argparse.Namespace) -> int:
    from kiosk.ledger.keys import DeviceKeys, keys_dir

    cfg = load_config(args.config)
    existed = (keys_dir(cfg.data_dir) / "device.json").exists()
    keys = DeviceKeys.for_config(cfg)
    what = "device keys already exist" if existed else "created device keys"
    print(f"{what} in {keys.directory}")
    print(f"device id  {keys.device_id}")
    print(f"public key {keys.public_key_b64()}")
    print(f"protection {keys.protection().value}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from kiosk.ledger.centre_key_pin import load_centre_key
    from kiosk.ledger.keys import DeviceKeys, KeyPolicy
    from kiosk.protocol.keys import key_id, load_public_key_b64

    cfg = load_config(args.config)
    keys = DeviceKeys.load(cfg.data_dir, KeyPolicy.from_config(cfg))
    print(f"device id  {keys.device_id}")
    print(f"public key {keys.public_key_b64()} (key id {keys.key_id()})")
    print(f"protection {keys.protection().value}")
    for epoch in keys.history:
        kid = key_id(load_public_key_b64(epoch.public_key_b64))
        print(f"  key {kid} signs from seq {epoch.from_seq}")
    try:
        print(f"centre key {key_id(load_centre_key(cfg.data_dir))} (pinned)")
    except KeyStoreError:
        print("centre key not pinned")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from kiosk.ledger.keys import DeviceKeys, KeyPolicy
    from kiosk.ledger.store import LedgerStore

    cfg = load_config(args.config)
    keys = DeviceKeys.load(cfg.data_dir, KeyPolicy.from_config(cfg))
    with LedgerStore(cfg.ledger_path, keys) as store:
        env = store.rotate_key()
    print(f"rotated: record seq {env.record.seq} announces key {keys.key_id()}")
    print(f"new public key {keys.public_key_b64()} signs from seq {env.record.seq + 1}")
    return 0


def _pin(args: argparse.Namespace) -> int:
    from kiosk.ledger.centre_key_pin import pin_centre_key
    from kiosk.protocol.keys import key_id, load_public_key_b64

    cfg = load_config(args.config)
    pin_centre_key(cfg.data_dir, args.public_key)
    print(f"pinned centre key {key_id(load_public_key_b64(args.public_key))}")
    return 0


def _seal(args: argparse.Namespace) -> int:
    from kiosk.ledger.keys import DeviceKeys
    from kiosk.ledger.keyseal import (
        NEW_PASSPHRASE_ENV,
        KeyPolicy,
        Protection,
        ProtectionSetting,
        prompt_passphrase,
    )

    cfg = load_config(args.config)
    keys = DeviceKeys.load(cfg.data_dir, KeyPolicy.from_config(cfg))
    before = keys.protection()
    target = Protection(args.to)

    def new_passphrase(confirm: bool) -> str | None:
        value = os.environ.get(NEW_PASSPHRASE_ENV)
        return value or prompt_passphrase("new device key passphrase: ", confirm=True)

    new_policy = KeyPolicy(protection=ProtectionSetting(args.to), passphrase=new_passphrase)
    keys.reseal(target, new_policy)
    print(f"device keys in {keys.directory}: {before.value} -> {keys.protection().value}")
    if target is Protection.PASSPHRASE:
        print("set KIOSK_KEY_PASSPHRASE to the new passphrase for the kiosk service")
    return 0
