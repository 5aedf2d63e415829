"""The head witness catches what the chain cannot see: a cut-off tail, a restored older
copy, an emptied or recreated ledger. Run on the data folder of a real headless demo
(`kiosk demo --headless --keep DIR`), tampered the way an insider would, and checked
with the real command (`kiosk ledger verify`)."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.errors import LedgerRolledBack
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.keyseal import KeyPolicy
from kiosk.ledger.store import LedgerStore
from kiosk.ledger.witness import HEAD_FILE
from kiosk.owner_only import loose_paths


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory, engine) -> Path:  # type: ignore[no-untyped-def]
    from kiosk.demo.headless import run_headless

    keep = tmp_path_factory.mktemp("demo") / "kept"
    cfg = load_config(environ={"KIOSK_RUNTIME_PROVIDER": "cpu"})
    assert run_headless(cfg, Console(file=io.StringIO()), engine=engine, keep=keep) == 0
    return keep


def _copy(demo_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(demo_dir, target)
    return target


def _verify(data: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KIOSK_PATHS_DATA_DIR", str(data))
    rc = main(["ledger", "verify"])
    out = capsys.readouterr()
    return rc, out.out + out.err


def _delete_last(data: Path, n: int) -> None:
    with sqlite3.connect(data / "ledger.sqlite") as conn:
        conn.execute("DELETE FROM records WHERE seq > (SELECT MAX(seq) FROM records) - ?", (n,))


def _demo_store(data: Path) -> LedgerStore:
    keys = DeviceKeys.load(data, KeyPolicy.plaintext_for_demo())
    return LedgerStore(data / "ledger.sqlite", keys)


def test_the_demo_ledger_verifies_against_its_witness(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    data = _copy(demo_dir, tmp_path)
    rc, out = _verify(data, monkeypatch, capsys)
    assert rc == 0, out
    assert "ledger OK: 4 records verified" in out
    assert "head seq 4; witness seq 4" in out


def test_the_demo_leaves_nothing_readable_by_other_accounts(demo_dir: Path) -> None:
    assert loose_paths(demo_dir) == []
    assert (demo_dir / "keys" / HEAD_FILE).is_file()


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        (1, "ledger rolled back: witness seq 4, ledger ends at 3"),
        (2, "ledger rolled back: witness seq 4, ledger ends at 2"),
    ],
)
def test_deleting_the_last_rows_is_a_named_refusal(
    demo_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,  # type: ignore[no-untyped-def]
    rows: int,
    reason: str,
) -> None:
    data = _copy(demo_dir, tmp_path)
    _delete_last(data, rows)
    rc, out = _verify(data, monkeypatch, capsys)
    assert rc == 2
    assert f"error [ledger_rolled_back]: {reason}" in out


def test_restoring_a_copy_from_before_the_last_record_is_refused(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    data = _copy(demo_dir, tmp_path)
    shutil.copy2(data / "ledger.sqlite", tmp_path / "before.sqlite")
    with _demo_store(data) as store:
        env = store.append("device_event", {"event": "after_the_copy"})
    assert env.record.seq == 5
    shutil.copy2(tmp_path / "before.sqlite", data / "ledger.sqlite")
    rc, out = _verify(data, monkeypatch, capsys)
    assert rc == 2
    assert "error [ledger_rolled_back]: ledger rolled back: witness seq 5, ledger ends at 4" in out


def test_truncating_the_file_to_zero_bytes_is_refused_and_not_recreated(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    data = _copy(demo_dir, tmp_path)
    (data / "ledger.sqlite").write_bytes(b"")
    rc, out = _verify(data, monkeypatch, capsys)
    assert rc == 2
    assert (
        "error [ledger_rolled_back]: ledger rolled back: witness seq 4, ledger holds nothing "
        "(the file is 0 bytes)"
    ) in out
    assert (data / "ledger.sqlite").stat().st_size == 0  # verify created no schema


def test_dropping_the_records_table_is_refused(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    data = _copy(demo_dir, tmp_path)
    with sqlite3.connect(data / "ledger.sqlite") as conn:
        conn.execute("DROP TABLE records")
    rc, out = _verify(data, monkeypatch, capsys)
    assert rc == 2
    assert "ledger holds nothing (its records table is missing)" in out
    with sqlite3.connect(data / "ledger.sqlite") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "records" not in tables


def test_a_rolled_back_ledger_takes_no_record_until_the_loss_is_recorded(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    data = _copy(demo_dir, tmp_path)
    _delete_last(data, 1)
    with _demo_store(data) as store:
        assert isinstance(store.head_problem, LedgerRolledBack)
        with pytest.raises(LedgerRolledBack, match="witness seq 4, ledger ends at 3"):
            store.append("checkin", {"decision": "accepted"})
        env = store.accept_rollback("technician: disk restored from backup")
        assert env.record.seq == 4  # the seq the centre already saw: it raises its incident
        assert env.record.body["event"] == "ledger_rolled_back"
        assert env.record.body["witness_seq"] == 4
        assert env.record.body["ledger_seq"] == 3
        assert store.append("device_event", {"event": "next"}).record.seq == 5
    rc, out = _verify(data, monkeypatch, capsys)
    assert rc == 0, out
    assert "head seq 5; witness seq 5" in out


def test_a_re_serialised_last_envelope_still_chains(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """The chain hash is the canonical envelope's digest everywhere: a row stored with other
    (equivalent) bytes verifies, and the next append still chains onto it."""
    data = _copy(demo_dir, tmp_path)
    with sqlite3.connect(data / "ledger.sqlite") as conn:
        (blob,) = conn.execute("SELECT envelope FROM records WHERE seq = 4").fetchone()
        loose = json.dumps(json.loads(blob), indent=2).encode()
        assert loose != blob
        conn.execute("UPDATE records SET envelope = ? WHERE seq = 4", (loose,))
    with _demo_store(data) as store:
        store.append("device_event", {"event": "after_reserialise"})
        assert store.verify() == 5
    rc, out = _verify(data, monkeypatch, capsys)
    assert rc == 0, out


def test_a_forged_witness_file_is_refused(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    data = _copy(demo_dir, tmp_path)
    head = data / "keys" / HEAD_FILE
    doc = json.loads(head.read_text())
    head.write_text(json.dumps({**doc, "seq": 2}))
    rc, out = _verify(data, monkeypatch, capsys)
    assert rc == 2
    assert "is not signed by this device" in out
