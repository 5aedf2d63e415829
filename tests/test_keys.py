"""Device key store: file modes, stable device id, rotation, centre key pinning."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.errors import KeyFormatError, KeyStoreError
from kiosk.ledger.centre_key_pin import load_centre_key, pin_centre_key
from kiosk.ledger.keys import DeviceKeys, keys_dir
from kiosk.ledger.store import LedgerStore
from kiosk.protocol.chain import verify_chain
from kiosk.protocol.keys import load_public_key_b64, public_key_b64


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_create_writes_private_files_0600(tmp_path: Path) -> None:
    keys = DeviceKeys.load_or_create(tmp_path)
    d = keys_dir(tmp_path)
    assert _mode(d / "device_key.pem") == 0o600
    assert _mode(d / "template.key") == 0o600
    assert _mode(d) == 0o700
    raw = load_public_key_b64(keys.public_key_b64()).public_bytes_raw()
    assert len(raw) == 32
    assert keys.device_id == "kiosk-" + hashlib.sha256(raw).hexdigest()[:12]


def test_load_is_stable_and_template_key_separate(tmp_path: Path) -> None:
    a = DeviceKeys.load_or_create(tmp_path)
    b = DeviceKeys.load_or_create(tmp_path)
    assert (a.device_id, a.public_key_b64()) == (b.device_id, b.public_key_b64())
    assert a.template_key() == b.template_key()
    assert len(a.template_key()) == 32
    assert a.template_key() not in (keys_dir(tmp_path) / "device_key.pem").read_bytes()


def test_load_without_keys_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="kiosk keys init"):
        DeviceKeys.load(tmp_path)


def test_loose_private_key_mode_is_tightened(tmp_path: Path) -> None:
    DeviceKeys.load_or_create(tmp_path)
    path = keys_dir(tmp_path) / "device_key.pem"
    path.chmod(0o644)
    DeviceKeys.load(tmp_path)
    assert _mode(path) == 0o600


def test_rotation_keeps_old_records_verifiable(tmp_path: Path) -> None:
    keys = DeviceKeys.load_or_create(tmp_path)
    old_pub, device = keys.public_key, keys.device_id
    with LedgerStore(tmp_path / "l.sqlite", keys) as store:
        for i in range(3):
            store.append("checkin", {"i": i})
        rot = store.rotate_key()
        after = store.append("checkin", {"i": 3})
        envs = list(store.iter_envelopes())
        assert store.verify() == 5

    assert rot.record.seq == 4 and rot.record.type == "device_event"
    assert rot.record.body["event"] == "key_rotated"
    assert rot.record.body["old_public_key"] == public_key_b64(old_pub)
    assert rot.record.body["new_public_key"] == keys.public_key_b64()
    old_pub.verify(base64.b64decode(rot.sig), rot.record.canonical())  # signed by the OLD key
    assert after.record.seq == 5
    # device id survives rotation; history records when each key took over
    reloaded = DeviceKeys.load(tmp_path)
    assert reloaded.device_id == device
    assert [e.from_seq for e in reloaded.history] == [1, 5]
    assert reloaded.history[0].public_key_b64 == public_key_b64(old_pub)
    assert _mode(keys_dir(tmp_path) / "device_key.pem") == 0o600
    # an outside verifier (the centre) needs only the first key
    assert verify_chain(envs, old_pub, device=device) == 5


def test_rotation_interrupted_after_the_ledger_commit_is_completed(tmp_path: Path) -> None:
    keys = DeviceKeys.load_or_create(tmp_path)
    with LedgerStore(tmp_path / "l.sqlite", keys) as store:
        store.append("checkin", {})
        real_commit = keys.commit_rotation
        keys.commit_rotation = lambda *a: None  # the process dies right after COMMIT
        store.rotate_key()
        keys.commit_rotation = real_commit
    assert (keys_dir(tmp_path) / "device_key.next.pem").exists()
    with LedgerStore(tmp_path / "l.sqlite", DeviceKeys.load(tmp_path)) as store:
        env = store.append("checkin", {})
        assert env.record.seq == 3
        assert store.verify() == 3
    assert not (keys_dir(tmp_path) / "device_key.next.pem").exists()


def test_rotation_interrupted_before_the_ledger_commit_is_discarded(tmp_path: Path) -> None:
    keys = DeviceKeys.load_or_create(tmp_path)
    before = keys.public_key_b64()
    keys.stage_rotation()  # the process dies before writing the rotation record
    with LedgerStore(tmp_path / "l.sqlite", DeviceKeys.load(tmp_path)) as store:
        store.append("checkin", {})
        assert store.verify() == 1
    assert DeviceKeys.load(tmp_path).public_key_b64() == before
    assert not (keys_dir(tmp_path) / "device_key.next.pem").exists()


def test_centre_key_pinning(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="no centre key pinned"):
        load_centre_key(tmp_path)
    centre = Ed25519PrivateKey.generate().public_key()
    pin_centre_key(tmp_path, public_key_b64(centre))
    assert load_centre_key(tmp_path) == centre
    pin_centre_key(tmp_path, public_key_b64(centre))  # same key again: fine
    other = public_key_b64(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(KeyStoreError, match="different centre key is already pinned"):
        pin_centre_key(tmp_path, other)
    assert load_centre_key(tmp_path) == centre


@pytest.mark.parametrize("bad", ["", "not base64!", "AAAA"])
def test_load_public_key_b64_rejects_garbage(bad: str) -> None:
    with pytest.raises(KeyFormatError):
        load_public_key_b64(bad)
