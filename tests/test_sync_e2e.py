"""End to end: a real centre on 127.0.0.1, a kiosk with 10,000 records, faults on the way.

Faults, in order: centre down, HTTP 500, an answer slower than the client's timeout (the
centre committed), the connection cut after the centre committed, and the kiosk process
SIGKILLed in the middle of a batch. At the end every record is at the centre exactly once,
the centre verified the whole chain, and the chain re-verifies from the stored envelopes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_centre_support as support
from sqlalchemy import func, select
from test_centre_support import FaultProxy, UvicornThread, checkin_body, make_settings

from centre.app import create_app
from centre.core.security import Role
from centre.crud.users import add_user
from centre.models import Device, StoredRecord
from kiosk.errors import CentreUnavailable
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore
from kiosk.protocol.chain import verify_chain
from kiosk.protocol.envelope import Envelope
from kiosk.protocol.keys import load_public_key_b64
from kiosk.sync.client import SyncClient

db_url = support.db_url

N_RECORDS = 10_000
BATCH = 250
REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """The kiosk ledger on tmpfs when there is one: 10,000 fsync'd appends take seconds
    there instead of a minute on a slow disk; durability itself is the ledger's own test."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=base) as d:
        yield Path(d)


def _fill(store: LedgerStore, n: int) -> None:
    for i in range(n):
        if i % 500 == 0:
            store.append("session_open", {"session_id": f"S-{i // 500}", "room": "R-101"})
        else:
            store.append("checkin", checkin_body(i, session=f"S-{i // 500}"))


CHILD = textwrap.dedent("""
    import logging, sys
    sys.path.insert(0, {repo!r})
    from pathlib import Path
    from kiosk.ledger.keys import DeviceKeys
    from kiosk.ledger.store import LedgerStore
    from kiosk.sync.client import SyncClient
    data = Path({data!r})
    keys = DeviceKeys.load(data)
    store = LedgerStore(data / "ledger.sqlite", keys)
    client = SyncClient(store, keys, {url!r}, batch_size={batch}, timeout_s=60)
    print("ready", flush=True)
    client.push_all()
""")


def test_ten_thousand_records_arrive_exactly_once_through_faults(
    tmp_path: Path, fast_dir: Path, db_url: str
) -> None:
    settings = make_settings(tmp_path, db_url)
    app = create_app(settings)
    ctx = app.state.centre
    with ctx.session() as db:
        _, admin = add_user(db, "admin", Role.admin)
        db.commit()
    server = UvicornThread(app).start()
    proxy = FaultProxy(server.port).start()
    data = fast_dir / "kiosk"
    keys = DeviceKeys.load_or_create(data)
    store = LedgerStore(data / "ledger.sqlite", keys)
    client = None
    try:
        _fill(store, N_RECORDS)
        token = _enrolment_token(server.url, admin)
        with SyncClient(store, keys, server.url) as direct:
            direct.enroll(token)
        client = SyncClient(
            store,
            keys,
            proxy.url,
            batch_size=BATCH,
            # generous: a loaded CI machine must not turn a normal answer into a timeout
            # (the proxy's "slow" mode below holds its answer well past this)
            timeout_s=5.0,
            base_backoff_s=0.05,
            max_backoff_s=0.5,
            interval_s=0.2,
        )

        proxy.delay_s = 15.0  # "slow": past the client's 5 s timeout
        assert client.push_once().accepted == BATCH
        acked = BATCH
        for mode in ("down", "error500", "slow", "drop"):
            proxy.forwarded.clear()
            proxy.set_mode(mode)
            with pytest.raises(CentreUnavailable):
                client.push_once()
            assert store.counts()["acked"] == acked, mode  # nothing acked without an answer
            assert store.counts()["sent"] == 0, mode  # and the batch is pending again
            proxy.set_mode("pass")
            r = client.push_once()
            if mode in ("slow", "drop"):
                # The centre had committed: the retry is acknowledged as duplicate.
                assert proxy.forwarded.is_set()
                assert r.duplicate == BATCH and r.accepted == 0, mode
            else:
                assert r.accepted == BATCH, mode
            acked += BATCH

        # Kill the kiosk process while a batch is in flight (the centre commits it).
        proxy.delay_s = 30.0
        proxy.set_mode("slow")
        proxy.forwarded.clear()
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD.format(repo=str(REPO), data=str(data), url=proxy.url, batch=BATCH),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proxy.forwarded.wait(30), child.stderr.read() if child.poll() else "no push"
            assert store.counts()["sent"] == BATCH  # the child marked its batch sent
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        proxy.set_mode("pass")

        # A fresh client resumes in the background from the outbox state alone.
        client.close()
        client = SyncClient(
            store,
            keys,
            proxy.url,
            batch_size=BATCH,
            timeout_s=5.0,
            base_backoff_s=0.05,
            max_backoff_s=0.5,
            interval_s=0.2,
        )
        client.start()
        # The timeout only bounds a hang: the wait ends when the loop reports a drained outbox.
        assert client.wait_until(lambda: store.counts()["acked"] == N_RECORDS, timeout=120)
        client.stop(60)
        assert store.counts() == {"pending": 0, "sent": 0, "acked": N_RECORDS}
        assert {"down", "error500", "slow", "drop", "pass"} <= set(proxy.seen)

        _assert_centre_holds_exactly(ctx, keys, store)
    finally:
        if client is not None:
            client.close()
        proxy.stop()
        server.stop()
        store.close()
        ctx.engine.dispose()


def _enrolment_token(url: str, admin: str) -> str:
    import httpx

    r = httpx.post(
        f"{url}/api/v1/enrolment-tokens",
        json={"room": "R-101"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _assert_centre_holds_exactly(ctx, keys: DeviceKeys, store: LedgerStore) -> None:  # type: ignore[no-untyped-def]
    with ctx.session() as db:
        total = db.scalar(select(func.count()).select_from(StoredRecord))
        distinct = db.scalar(select(func.count(func.distinct(StoredRecord.id))))
        assert total == distinct == N_RECORDS
        device = db.get(Device, keys.device_id)
        assert device.head_seq == device.max_seq == N_RECORDS  # the centre verified the chain
        assert db.scalar(select(func.count()).where(StoredRecord.chained.is_(False))) == 0
        rows = db.execute(
            select(StoredRecord.seq, StoredRecord.envelope, StoredRecord.digest).order_by(
                StoredRecord.seq
            )
        ).all()
    assert [r.seq for r in rows] == list(range(1, N_RECORDS + 1))
    envs = [Envelope.from_dict(json.loads(r.envelope)) for r in rows]
    genesis = load_public_key_b64(keys.history[0].public_key_b64)
    assert verify_chain(envs, genesis, device=keys.device_id) == N_RECORDS
    kiosk_digests = [e.digest() for e in store.iter_envelopes()]
    assert kiosk_digests == [r.digest for r in rows]  # byte-identical to the kiosk's ledger
    assert store.verify() == N_RECORDS
