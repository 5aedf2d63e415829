"""The kiosk sync client against a real centre on 127.0.0.1: acks, rejections, backoff,
the background runner, roster pulls and the `kiosk sync` commands."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_centre_api import roster_doc
from test_centre_support import Centre, UvicornThread, checkin_body, free_port, make_settings

from kiosk.checkin.roster_store import RosterStore
from kiosk.cli import main as kiosk_main
from kiosk.errors import CentreProtocolError, CentreUnavailable, RosterSignatureInvalid
from kiosk.ledger.centre_key_pin import pin_centre_key
from kiosk.ledger.keys import DeviceKeys, keys_dir
from kiosk.ledger.store import LedgerStore
from kiosk.ledger.vault import TemplateVault, default_vault_path
from kiosk.ledger.witness import HeadWitness
from kiosk.sync.backoff import Backoff
from kiosk.sync.client import SyncClient


class Live:
    def __init__(self, centre: Centre, server: UvicornThread) -> None:
        self.centre, self.server = centre, server

    def kiosk(
        self, root: Path, room: str | None = None, n: int = 0, **kw: object
    ) -> tuple[LedgerStore, SyncClient]:
        keys = DeviceKeys.load_or_create(root)
        store = LedgerStore(root / "ledger.sqlite", keys)
        for i in range(n):
            store.append("checkin", checkin_body(i))
        client = SyncClient(store, keys, self.server.url, **kw)  # type: ignore[arg-type]
        client.enroll(self.centre.enrolment_token(room))
        return store, client


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    centre = Centre(make_settings(tmp_path, f"sqlite:///{tmp_path / 'centre.sqlite'}"))
    server = UvicornThread(centre.app).start()
    try:
        yield Live(centre, server)
    finally:
        server.stop()
        centre.close()


def test_backoff_is_full_jitter_capped_and_resets() -> None:
    b = Backoff(1.0, 8.0, rng=random.Random(1))
    ceilings = []
    for _ in range(8):
        ceilings.append(b.ceiling())
        assert 0.0 <= b.next_delay() <= ceilings[-1]
    assert ceilings == [1, 2, 4, 8, 8, 8, 8, 8]
    delays = [Backoff(1.0, 8.0, rng=random.Random(s)).next_delay() for s in range(50)]
    assert len({round(d, 3) for d in delays}) > 40  # jitter: kiosks do not retry in step
    b.reset()
    assert b.ceiling() == 1


def test_push_acks_exactly_what_the_centre_confirms(live: Live, tmp_path: Path) -> None:
    store, client = live.kiosk(tmp_path / "k", n=1200, batch_size=500)
    with client:
        r = client.push_all()
        assert (r.sent, r.accepted, r.batches) == (1200, 1200, 3)
        assert store.counts() == {"pending": 0, "sent": 0, "acked": 1200}
        assert client.push_all().sent == 0
        assert client.centre_status()["head_seq"] == 1200
    store.close()


def test_rejected_records_stay_sent_and_are_not_acked(live: Live, tmp_path: Path) -> None:
    # Two ledgers signed by one key: the second one's records are forks at the centre.
    store, client = live.kiosk(tmp_path / "k", n=3)
    client.push_all()
    # (made elsewhere with a copied key, so with its own head witness: this one's would
    # refuse a ledger that is behind it)
    (tmp_path / "elsewhere").mkdir()
    witness = HeadWitness(
        tmp_path / "elsewhere",
        client.keys.device_id,
        lambda: [client.keys.public_key],
        keyring=False,
    )
    clone = LedgerStore(tmp_path / "k" / "clone.sqlite", client.keys, witness=witness)
    for i in range(3):
        clone.append("checkin", checkin_body(50 + i))
    with SyncClient(clone, client.keys, live.server.url) as cloned:
        r = cloned.push_all()
    assert r.rejected == 3 and {x["reason"] for x in r.rejections} == {"fork"}
    assert clone.counts() == {"pending": 0, "sent": 3, "acked": 0}
    assert clone.requeue_sent() == 3  # they come back on the next start
    client.close()
    store.close()
    clone.close()


def test_refusal_and_outage_put_the_batch_back(live: Live, tmp_path: Path) -> None:
    store, client = live.kiosk(tmp_path / "k", n=5)
    r = live.centre.client.post(
        f"/api/v1/devices/{client.keys.device_id}/revoke", headers=live.centre.staff()
    )
    assert r.status_code == 200
    with pytest.raises(CentreProtocolError, match="device_revoked"):
        client.push_once()
    assert store.counts()["pending"] == 5
    down = SyncClient(store, client.keys, f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(CentreUnavailable):
        down.push_once()
    assert store.counts()["pending"] == 5
    down.close()
    client.close()
    store.close()


def test_background_runner_never_blocks_and_drains_when_the_centre_returns(
    live: Live, tmp_path: Path
) -> None:
    store, enrolled = live.kiosk(tmp_path / "k", n=0)
    enrolled.close()
    port = free_port()
    client = SyncClient(
        store,
        store._keys,
        f"http://127.0.0.1:{port}",
        batch_size=100,
        timeout_s=1,
        base_backoff_s=0.05,
        max_backoff_s=0.2,
        interval_s=0.1,
    )
    client.start()
    for i in range(250):  # the door keeps appending while the centre is unreachable
        store.append("checkin", checkin_body(i))
    # Timeouts below only bound a hang; the waits end as soon as the loop reports.
    assert client.wait_until(lambda: client.backoff.attempt >= 2, timeout=60)
    client.stop(60)
    assert not client.running
    assert client.last_error is not None and client.last_error.startswith("[centre_unavailable]")
    assert store.counts() == {"pending": 250, "sent": 0, "acked": 0}  # a failed push re-queues
    client.close()
    # Same outbox, the right address: it drains on its own.
    client = SyncClient(store, store._keys, live.server.url, batch_size=100, interval_s=0.1)
    client.start()
    assert client.wait_until(lambda: store.counts()["acked"] == 250, timeout=120)
    client.close()
    assert store.counts() == {"pending": 0, "sent": 0, "acked": 250}
    store.close()


def test_pull_roster_verifies_stores_and_refuses_a_foreign_key(live: Live, tmp_path: Path) -> None:
    r = live.centre.client.post(
        "/api/v1/rosters/R-101", json=roster_doc("R-101"), headers=live.centre.staff()
    )
    assert r.status_code == 201
    store, client = live.kiosk(tmp_path / "k", room="R-101")
    data = tmp_path / "k"
    with TemplateVault(default_vault_path(data), client.keys.template_key()) as vault:
        rosters = RosterStore(data / "rosters.sqlite", vault)
        outcome, roster = client.pull_roster("R-101", roster_store=rosters)
        assert outcome == "updated" and roster.version == 1
        assert client.pull_roster("R-101", roster_store=rosters)[0] == "up to date"
        live.centre.client.post(
            "/api/v1/rosters/R-101", json=roster_doc("R-101"), headers=live.centre.staff()
        )
        assert client.pull_roster("R-101", roster_store=rosters)[1].version == 2
        loaded = rosters.load("C-1", "R-101")
        assert loaded is not None and len(loaded.applicants[0].templates) == 1
        rosters.close()
    # File mode, and a kiosk that pinned some other key refuses the centre's roster.
    assert client.pull_roster("R-101", now=datetime.now(UTC))[0] == "updated"
    assert client.roster_path("R-101").exists()
    (keys_dir(data) / "centre_key.pub").unlink()
    pin_centre_key(data, DeviceKeys.load_or_create(tmp_path / "other").public_key_b64())
    with pytest.raises(RosterSignatureInvalid):
        client.pull_roster("R-101")
    client.close()
    store.close()


def test_kiosk_sync_commands(
    live: Live, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIOSK_SYNC_CENTRE_URL", live.server.url)
    data = Path(os.environ["KIOSK_PATHS_DATA_DIR"])
    token = live.centre.enrolment_token("R-101")
    assert kiosk_main(["sync", "enroll", token]) == 0
    assert "pinned" in capsys.readouterr().out
    keys = DeviceKeys.load(data)
    with LedgerStore(data / "ledger.sqlite", keys) as store:
        for i in range(7):
            store.append("checkin", checkin_body(i))
    assert kiosk_main(["sync", "push"]) == 0
    assert "7 accepted" in capsys.readouterr().out
    assert kiosk_main(["sync", "status"]) == 0
    out = capsys.readouterr().out
    assert "acked     7" in out and "head_seq 7" in out
    live.centre.client.post(
        "/api/v1/rosters/R-101", json=roster_doc("R-101"), headers=live.centre.staff()
    )
    assert kiosk_main(["sync", "pull", "R-101"]) == 0
    assert "updated" in capsys.readouterr().out
    with LedgerStore(data / "ledger.sqlite", keys) as store:
        store.append("checkin", checkin_body(8))
    monkeypatch.setenv("KIOSK_SYNC_CENTRE_URL", f"http://127.0.0.1:{free_port()}")
    assert kiosk_main(["sync", "push"]) == 2  # a clear error line, not a traceback
    assert "centre_unavailable" in capsys.readouterr().err
