"""`kiosk sync status|push|pull|enroll`: talk to the centre from the command line."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from kiosk.config import KioskConfig, load_config
from kiosk.errors import CentreUnavailable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="push records to the centre, pull rosters")
    ssub = p.add_subparsers(dest="sync_command", required=True)
    status = ssub.add_parser("status", help="outbox counts here and what the centre holds")
    status.set_defaults(handler=_status)
    push = ssub.add_parser("push", help="push pending records now (until none are left)")
    push.add_argument("--max-batches", type=int, help="stop after this many batches")
    push.set_defaults(handler=_push)
    pull = ssub.add_parser("pull", help="fetch, verify and store the newest roster for a room")
    pull.add_argument("room", help="exam room whose roster to fetch")
    pull.set_defaults(handler=_pull)
    enroll = ssub.add_parser("enroll", help="enrol this kiosk with a one-time token")
    enroll.add_argument("token", help="one-time enrolment token issued by the centre")
    enroll.add_argument("--label", help="a note for the centre's registry")
    enroll.set_defaults(handler=_enroll)


def _client(cfg: KioskConfig):  # type: ignore[no-untyped-def]
    from kiosk.ledger.keys import DeviceKeys
    from kiosk.ledger.store import LedgerStore
    from kiosk.sync.client import SyncClient

    if not cfg.sync.centre_url:
        raise CentreUnavailable(
            "no centre URL configured; set [sync] centre_url or KIOSK_SYNC_CENTRE_URL"
        )
    keys = DeviceKeys.for_config(cfg)
    store = LedgerStore(cfg.ledger_path, keys)
    return store, SyncClient.from_config(cfg, store, keys)


def _status(args: argparse.Namespace) -> int:
    from kiosk.ledger.keys import DeviceKeys
    from kiosk.ledger.store import LedgerStore

    cfg = load_config(args.config)
    keys = DeviceKeys.for_config(cfg)
    with LedgerStore(cfg.ledger_path, keys) as store:
        counts = store.counts()
        last = store.last()
        print(f"device    {keys.device_id}")
        print(f"centre    {cfg.sync.centre_url or '(none: offline)'}")
        print(f"last seq  {last.record.seq if last else 0}")
        for state, n in counts.items():
            print(f"{state:<9} {n}")
        if cfg.sync.centre_url:
            _, client = _client(cfg)
            with client:
                try:
                    doc = client.centre_status()
                    print(
                        f"at centre head_seq {doc.get('head_seq')} (verified chain), "
                        f"max_seq {doc.get('max_seq')}, status {doc.get('status')}"
                    )
                except CentreUnavailable as exc:
                    print(f"centre unreachable: {exc}")
    return 0


def _push(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    store, client = _client(cfg)
    with store, client:
        requeued = store.requeue_sent()
        r = client.push_all(max_batches=args.max_batches)
        head = client.report_head()  # every contact reports the signed ledger head
        left = store.counts()
    if requeued:
        print(f"re-queued {requeued} record(s) left mid-push by an earlier run")
    if head.get("incidents"):
        print(f"the centre raised {', '.join(head['incidents'])} on this ledger's head")
    print(
        f"pushed {r.sent} in {r.batches} batch(es): {r.accepted} accepted, "
        f"{r.duplicate} already there, {r.rejected} rejected; {left['pending']} pending"
    )
    for rej in r.rejections[:20]:
        print(f"  rejected seq {rej['seq']}: {rej['reason']} {rej.get('detail') or ''}")
    return 1 if r.rejected else 0


def _pull(args: argparse.Namespace) -> int:
    from kiosk.checkin.roster_store import RosterStore
    from kiosk.ledger.vault import TemplateVault, default_vault_path

    cfg = load_config(args.config)
    store, client = _client(cfg)
    with (
        store,
        client,
        TemplateVault(default_vault_path(cfg.data_dir), client.keys.template_key()) as vault,
    ):
        rosters = RosterStore(cfg.data_dir / "rosters.sqlite", vault)
        try:
            outcome, roster = client.pull_roster(
                args.room, roster_store=rosters, now=datetime.now(UTC)
            )
        finally:
            rosters.close()
    print(
        f"roster {roster.roster_id} v{roster.version} for room {args.room}: {outcome} "
        f"({len(roster.applicants)} applicants, session {roster.session.session_id})"
    )
    return 0


def _enroll(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    store, client = _client(cfg)
    with store, client:
        doc = client.enroll(args.token, label=args.label)
    print(
        f"enrolled {doc['device_id']} (room {doc.get('room') or '-'}); centre key "
        f"{doc.get('centre_key_id')} pinned"
    )
    return 0
