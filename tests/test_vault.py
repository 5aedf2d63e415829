"""Template vault: encrypted at rest, bound to its row, purged on schedule."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from kiosk.errors import TemplateVaultError
from kiosk.ledger.vault import TemplateVault

NOW = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


def _vec(seed: int, n: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 128) if n else 128).astype(np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


def test_round_trip_keeps_values_and_shape(tmp_path: Path, key: bytes) -> None:
    with TemplateVault(tmp_path / "v.sqlite", key) as vault:
        one, many = _vec(1), _vec(2, 3)
        vault.put("S1", "A1", "sface", one, expires_at=NOW + timedelta(days=1))
        vault.put("S1", "A2", "sface", many, expires_at=NOW + timedelta(days=1))
        got1, got2 = vault.get("S1", "A1", "sface"), vault.get("S1", "A2", "sface")
    assert got1.dtype == np.float32 and got1.shape == (128,)
    np.testing.assert_array_equal(got1, one)
    np.testing.assert_array_equal(got2, many)


def test_ciphertext_on_disk_does_not_contain_the_floats(tmp_path: Path, key: bytes) -> None:
    vec = _vec(3)
    path = tmp_path / "v.sqlite"
    with TemplateVault(path, key) as vault:
        vault.put("S1", "A1", "sface", vec, expires_at=NOW + timedelta(days=1))
    disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    raw = vec.astype("<f4").tobytes()
    assert raw not in disk
    # not even a 16-byte window of the template survives
    assert not any(raw[i : i + 16] in disk for i in range(0, len(raw) - 16, 16))


def test_wrong_key_is_refused_at_open(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.sqlite"
    with TemplateVault(path, key) as vault:
        vault.put("S1", "A1", "sface", _vec(1), expires_at=NOW)
    with pytest.raises(TemplateVaultError, match="different template key"):
        TemplateVault(path, os.urandom(32))


def test_swapped_or_edited_rows_fail_to_decrypt(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.sqlite"
    with TemplateVault(path, key) as vault:
        vault.put("S1", "A1", "sface", _vec(1), expires_at=NOW + timedelta(days=1))
        vault.put("S1", "A2", "sface", _vec(2), expires_at=NOW + timedelta(days=1))
    conn = sqlite3.connect(path)
    rows = {
        applicant: (nonce, ct)
        for applicant, nonce, ct in conn.execute(
            "SELECT applicant_id, nonce, ciphertext FROM templates"
        )
    }
    # make A1's row carry A2's template (a stand-in attack)
    conn.execute(
        "UPDATE templates SET nonce = ?, ciphertext = ? WHERE applicant_id = 'A1'", rows["A2"]
    )
    conn.execute(
        "UPDATE templates SET ciphertext = CAST(zeroblob(length(ciphertext)) AS BLOB) "
        "WHERE applicant_id = 'A2'"
    )
    conn.commit()
    conn.close()
    with TemplateVault(path, key) as vault:
        with pytest.raises(TemplateVaultError, match=r"A1 .*fails to decrypt"):
            vault.get("S1", "A1", "sface")
        with pytest.raises(TemplateVaultError, match=r"A2 .*fails to decrypt"):
            vault.get("S1", "A2", "sface")


def test_purge_removes_only_expired(tmp_path: Path, key: bytes) -> None:
    with TemplateVault(tmp_path / "v.sqlite", key) as vault:
        vault.put("S1", "A1", "sface", _vec(1), expires_at=NOW - timedelta(seconds=1))
        vault.put("S1", "A2", "sface", _vec(2), expires_at=NOW)
        vault.put("S2", "A3", "sface", _vec(3), expires_at=NOW + timedelta(days=30))
        assert vault.purge(NOW) == 2
        assert vault.count() == 1
        with pytest.raises(TemplateVaultError, match="purged"):
            vault.get("S1", "A1", "sface")
        np.testing.assert_array_equal(vault.get("S2", "A3", "sface"), _vec(3))
        assert vault.purge_session("S2") == 1
        assert vault.count() == 0


def test_cli_purge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk import cli
    from kiosk.config import load_config
    from kiosk.ledger.keys import DeviceKeys
    from kiosk.ledger.vault import default_vault_path

    cfg = load_config()
    keys = DeviceKeys.load_or_create(cfg.data_dir)
    with TemplateVault(default_vault_path(cfg.data_dir), keys.template_key()) as vault:
        vault.put("S1", "A1", "sface", _vec(1), expires_at=datetime.now(UTC) - timedelta(1))
        vault.put("S1", "A2", "sface", _vec(2), expires_at=datetime.now(UTC) + timedelta(1))
        jpeg = b"\xff\xd8\xff\xe0 stand-in bytes: the vault stores any photo it is given"
        vault.put_photo("S1", "A1", jpeg, expires_at=datetime.now(UTC) - timedelta(1))
        vault.put_photo("S1", "A2", jpeg, expires_at=datetime.now(UTC) + timedelta(1))
        vault.put_photo("S1", "A3", jpeg, expires_at=datetime.now(UTC) + timedelta(1))
    mp = pytest.MonkeyPatch()
    mp.setattr(cli, "COMMAND_MODULES", ("kiosk.commands.ledger_cmd",))
    try:
        assert cli.main(["purge"]) == 0
    finally:
        mp.undo()
    out = capsys.readouterr().out
    assert (
        "purged 1 expired template rows and 1 booking photos; 1 template rows and 2 photos remain"
        in out
    )
