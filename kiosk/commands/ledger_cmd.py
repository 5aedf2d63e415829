"""`kiosk ledger verify|export|status` and `kiosk purge`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kiosk.config import KioskConfig, load_config
from kiosk.errors import LedgerError

# Only the parser is built at import (`kiosk --help` loads every command module); each
# handler imports the ledger, keys or camera code it needs.
if TYPE_CHECKING:
    from kiosk.ledger.store import LedgerStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ledger", help="verify, export or inspect the signed ledger")
    lsub = p.add_subparsers(dest="ledger_command", required=True)
    verify = lsub.add_parser(
        "verify",
        help="check signatures, seq gaps, the hash chain and the head witness (read-only)",
    )
    verify.set_defaults(handler=_verify)
    accept = lsub.add_parser(
        "accept-rollback",
        help="record (signed) that the ledger lost records, so the door can open again",
    )
    accept.add_argument("--reason", required=True, help="what happened (kept in the record)")
    accept.set_defaults(handler=_accept_rollback)
    export = lsub.add_parser("export", help="write every record as JSON lines")
    export.add_argument("--out", help="output file (default: standard output)")
    export.set_defaults(handler=_export)
    status = lsub.add_parser("status", help="record counts by outbox state")
    status.set_defaults(handler=_status)
    purge = sub.add_parser(
        "purge",
        help="delete templates and booking photos whose retention period has ended",
        description="Delete (irreversibly) every stored biometric template whose retention "
        "period ([ledger] retention_days) has ended. Ledger records are kept: they hold scores, "
        "never templates.",
    )
    purge.set_defaults(handler=_purge)


def _open(cfg: KioskConfig) -> LedgerStore:
    from kiosk.ledger.keys import DeviceKeys, KeyPolicy
    from kiosk.ledger.store import LedgerStore

    if not cfg.ledger_path.exists():
        raise LedgerError(f"no ledger at {cfg.ledger_path}")
    return LedgerStore(cfg.ledger_path, DeviceKeys.load(cfg.data_dir, KeyPolicy.from_config(cfg)))


def _verify(args: argparse.Namespace) -> int:
    from kiosk.ledger.audit import audit_ledger

    cfg = load_config(args.config)
    report = audit_ledger(cfg.ledger_path, cfg.data_dir)
    print(
        f"ledger OK: {report.records} records verified for {report.device_id} ({cfg.ledger_path})"
    )
    witnessed = report.witnessed.seq if report.witnessed else "none yet"
    print(
        f"head seq {report.head.seq}; witness seq {witnessed} ({', '.join(report.witness_places)})"
    )
    return 0


def _accept_rollback(args: argparse.Namespace) -> int:
    with _open(load_config(args.config)) as store:
        env = store.accept_rollback(args.reason)
    print(f"recorded as seq {env.record.seq} (record {env.record.id}): {env.record.body['detail']}")
    return 0


def _export(args: argparse.Namespace) -> int:
    with _open(load_config(args.config)) as store:
        if args.out:
            with open(args.out, "w", encoding="utf-8", newline="\n") as fp:
                n = store.export_jsonl(fp)
            print(f"exported {n} records to {args.out}", file=sys.stderr)
        else:
            store.export_jsonl(sys.stdout)
    return 0


def _status(args: argparse.Namespace) -> int:
    with _open(load_config(args.config)) as store:
        counts = store.counts()
        last = store.last()
    print(f"device   {store.device_id}")
    print(f"ledger   {store.path}")
    print(f"last seq {last.record.seq if last else 0}")
    for state, n in counts.items():
        print(f"{state:<8} {n}")
    return 0


def _purge(args: argparse.Namespace) -> int:
    from kiosk.ledger.keys import DeviceKeys, KeyPolicy
    from kiosk.ledger.vault import TemplateVault, default_vault_path

    cfg = load_config(args.config)
    path = default_vault_path(cfg.data_dir)
    if not path.exists():
        print("no template vault; nothing to purge")
        return 0
    with TemplateVault(
        path, DeviceKeys.load(cfg.data_dir, KeyPolicy.from_config(cfg)).template_key()
    ) as vault:
        photos = vault.photo_count()
        n = vault.purge(datetime.now(UTC))
        left, photos_left = vault.count(), vault.photo_count()
    print(
        f"purged {n} expired template rows and {photos - photos_left} booking photos; "
        f"{left} template rows and {photos_left} photos remain"
    )
    return 0
