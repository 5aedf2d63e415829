"""LedgerStore on real SQLite files: outbox states, tampering on disk, disk full, CLI."""

from __future__ import annotations

import io
import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from kiosk.errors import LedgerTampered, StorageFull
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore
from kiosk.protocol.envelope import Envelope


@pytest.fixture
def keys(tmp_path: Path) -> DeviceKeys:
    return DeviceKeys.load_or_create(tmp_path / "data")


@pytest.fixture
def store(tmp_path: Path, keys: DeviceKeys):
    s = LedgerStore(tmp_path / "ledger.sqlite", keys)
    yield s
    s.close()


def _fill(store: LedgerStore, n: int) -> list[Envelope]:
    return [store.append("checkin", {"applicant_id": f"A{i}", "score": 0.7}) for i in range(n)]


def _raw(path: Path, sql: str, params: tuple = ()) -> None:
    """Edit the file the way an attacker with disk access would: behind the store's back."""
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def _blob(path: Path, seq: int) -> bytes:
    conn = sqlite3.connect(path)
    (blob,) = conn.execute("SELECT envelope FROM records WHERE seq = ?", (seq,)).fetchone()
    conn.close()
    return bytes(blob)


def test_append_chains_and_signs(store: LedgerStore, keys: DeviceKeys) -> None:
    envs = _fill(store, 4)
    assert [e.record.seq for e in envs] == [1, 2, 3, 4]
    assert envs[0].record.prev is None
    assert all(b.record.prev == a.digest() for a, b in itertools.pairwise(envs))
    assert {e.record.device for e in envs} == {keys.device_id}
    assert store.verify() == 4
    assert store.last() == envs[-1]
    assert list(store.iter_envelopes()) == envs


def test_wal_and_full_sync(store: LedgerStore) -> None:
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_outbox_states(store: LedgerStore) -> None:
    envs = _fill(store, 5)
    assert store.counts() == {"pending": 5, "sent": 0, "acked": 0}
    batch = store.pending(3)
    assert [e.record.seq for e in batch] == [1, 2, 3]
    assert store.mark_sent([e.record.id for e in batch]) == 3
    assert [e.record.seq for e in store.pending(10)] == [4, 5]
    assert store.mark_acked([envs[0].record.id, envs[1].record.id, "unknown"]) == 2
    assert store.mark_sent([envs[0].record.id]) == 0  # acked never goes back to sent
    assert store.counts() == {"pending": 2, "sent": 1, "acked": 2}
    assert store.requeue_sent() == 1
    assert [e.record.seq for e in store.pending(10)] == [3, 4, 5]


def test_export_jsonl_round_trips(store: LedgerStore) -> None:
    envs = _fill(store, 3)
    buf = io.StringIO()
    assert store.export_jsonl(buf) == 3
    lines = buf.getvalue().splitlines()
    assert [Envelope.from_dict(json.loads(line)) for line in lines] == envs
    assert lines[0].encode() == envs[0].canonical()


def test_reopen_continues_the_chain(tmp_path: Path, keys: DeviceKeys) -> None:
    with LedgerStore(tmp_path / "l.sqlite", keys) as s:
        _fill(s, 3)
    with LedgerStore(tmp_path / "l.sqlite", DeviceKeys.load(tmp_path / "data")) as s:
        env = s.append("session_close", {})
        assert env.record.seq == 4
        assert s.verify() == 4


# --- tampering on disk -----------------------------------------------------------------------


def test_edited_byte_is_detected_naming_the_seq(store: LedgerStore) -> None:
    envs = _fill(store, 5)
    blob = _blob(store.path, 3)
    edited = blob.replace(b'"A2"', b'"A9"')
    assert edited != blob and len(edited) == len(blob)
    _raw(store.path, "UPDATE records SET envelope = ? WHERE seq = 3", (edited,))
    with pytest.raises(LedgerTampered, match=rf"seq 3 \(id {envs[2].record.id}\): bad signature"):
        store.verify()


def test_unparseable_row_is_tampering(store: LedgerStore) -> None:
    _fill(store, 3)
    _raw(store.path, "UPDATE records SET envelope = ? WHERE seq = 2", (b'{"record":',))
    with pytest.raises(LedgerTampered, match=r"seq 2: unreadable stored record"):
        store.verify()


def test_deleted_record_is_a_gap(store: LedgerStore) -> None:
    envs = _fill(store, 5)
    _raw(store.path, "DELETE FROM records WHERE seq = 3")
    with pytest.raises(LedgerTampered, match=rf"seq 4 \(id {envs[3].record.id}\): gap: seq 3"):
        store.verify()


def test_reordered_records_are_detected(store: LedgerStore) -> None:
    envs = _fill(store, 5)
    b3, b4 = _blob(store.path, 3), _blob(store.path, 4)
    _raw(store.path, "UPDATE records SET envelope = ? WHERE seq = 3", (b4,))
    _raw(store.path, "UPDATE records SET envelope = ? WHERE seq = 4", (b3,))
    with pytest.raises(LedgerTampered, match=rf"seq 4 \(id {envs[3].record.id}\): reorder"):
        store.verify()


def test_record_replayed_from_another_device(tmp_path: Path, store: LedgerStore) -> None:
    other_keys = DeviceKeys.load_or_create(tmp_path / "other")
    with LedgerStore(tmp_path / "other.sqlite", other_keys) as other:
        foreign = _fill(other, 3)[2]
    _fill(store, 4)
    _raw(store.path, "UPDATE records SET envelope = ? WHERE seq = 3", (foreign.canonical(),))
    with pytest.raises(LedgerTampered, match=rf"seq 3 .*foreign device '{other_keys.device_id}'"):
        store.verify()


def test_ledger_rewritten_with_another_key_is_refused(tmp_path: Path, keys: DeviceKeys) -> None:
    with LedgerStore(tmp_path / "l.sqlite", keys) as s:
        _fill(s, 2)
    # an attacker re-creates the file with their own key but our device id
    _raw(tmp_path / "l.sqlite", "UPDATE meta SET value = ? WHERE key = 'genesis_public_key'",
         ("Lqd6VY1+vkX3yVpdjk6DfNVS/5SwRtqPqyqiBU0Pcvo=",))  # fmt: skip
    with (
        LedgerStore(tmp_path / "l.sqlite", keys) as s,
        pytest.raises(LedgerTampered, match="never had"),
    ):
        s.verify()


# --- disk full -------------------------------------------------------------------------------


def test_disk_full_raises_storage_full_and_keeps_the_ledger_valid(
    tmp_path: Path, keys: DeviceKeys
) -> None:
    path = tmp_path / "small.sqlite"
    with LedgerStore(path, keys) as s:
        _fill(s, 3)
    # cap the file at its current size plus a few pages (SQLite max_page_count on a real file)
    size = path.stat().st_size + 4 * 4096
    written = 3
    with LedgerStore(path, keys, max_size_bytes=size) as s:
        with pytest.raises(StorageFull, match="storage full"):
            for _ in range(10_000):
                s.append("calibration", {"blob": "x" * 2000})
                written += 1
        assert s.verify() == written
        assert s.last().record.seq == written
    # after space is freed, appends continue gap-free
    with LedgerStore(path, keys) as s:
        env = s.append("device_event", {"event": "storage_recovered"})
        assert env.record.seq == written + 1
        assert s.verify() == written + 1


# --- rotation ---------------------------------------------------------------------------------


def test_rotation_survives_a_second_process_with_the_old_key(
    tmp_path: Path, keys: DeviceKeys
) -> None:
    path = tmp_path / "l.sqlite"
    stale = DeviceKeys.load(tmp_path / "data")  # another process loaded keys earlier
    with LedgerStore(path, keys) as a, LedgerStore(path, stale) as b:
        _fill(a, 2)
        rot = a.rotate_key()
        env = b.append("checkin", {"applicant_id": "late"})  # must sign with the NEW key
        assert env.record.seq == rot.record.seq + 1
        assert stale.public_key_b64() == keys.public_key_b64()
        assert a.verify() == 4


# --- CLI --------------------------------------------------------------------------------------


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from kiosk import cli

    modules = ("kiosk.commands.ledger_cmd", "kiosk.commands.keys_cmd")
    monkey = pytest.MonkeyPatch()
    monkey.setattr(cli, "COMMAND_MODULES", modules)
    try:
        rc = cli.main(argv)
    finally:
        monkey.undo()
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_verify_status_export_rotate(capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk.config import load_config

    assert _cli(["keys", "init"], capsys)[0] == 0
    cfg = load_config()
    with LedgerStore(cfg.ledger_path, DeviceKeys.load(cfg.data_dir)) as s:
        envs = _fill(s, 3)
    rc, out, _ = _cli(["ledger", "verify"], capsys)
    assert (rc, "3 records verified" in out) == (0, True)
    rc, out, _ = _cli(["keys", "rotate"], capsys)
    assert rc == 0 and "signs from seq 5" in out
    rc, out, _ = _cli(["ledger", "status"], capsys)
    assert "pending  4" in out and "last seq 4" in out
    rc, out, _ = _cli(["ledger", "export"], capsys)
    assert [json.loads(line)["record"]["seq"] for line in out.splitlines()] == [1, 2, 3, 4]

    _raw(cfg.ledger_path, "DELETE FROM records WHERE seq = 2")
    rc, out, err = _cli(["ledger", "verify"], capsys)
    assert rc == 2
    assert f"seq 3 (id {envs[2].record.id}): gap: seq 2 missing" in err


def test_cli_purge_without_vault(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _cli(["purge"], capsys)
    assert rc == 0 and "nothing to purge" in out
