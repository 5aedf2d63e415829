"""Key protection at rest: sealed or keyring-held secrets, fail-closed loading, migration of
plain-text stores, and rotation that keeps the ledger verifiable under every protection."""

from __future__ import annotations

import base64
import json
import logging
import stat
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend

from kiosk.errors import KeyStoreError
from kiosk.ledger import sealed_secret
from kiosk.ledger.keys import DeviceKeys, keys_dir
from kiosk.ledger.keyseal import KeyPolicy, Protection, ProtectionSetting
from kiosk.ledger.store import LedgerStore

PASS = "correct horse battery staple"


def _policy(passphrase: str | None = PASS, protection: str = "auto") -> KeyPolicy:
    env = {"KIOSK_KEY_PASSPHRASE": passphrase} if passphrase else {}
    return KeyPolicy.from_environ(env, protection=protection, interactive=False)


def _secret_forms(keys: DeviceKeys) -> list[bytes]:
    """Every form in which the raw secrets could leak into a file."""
    raw = keys.private_key.private_bytes_raw()
    tkey = keys.template_key()
    return [
        raw,
        base64.b64encode(raw),
        raw.hex().encode(),
        tkey,
        base64.b64encode(tkey),
        tkey.hex().encode(),
        b"PRIVATE KEY",
    ]


def _assert_no_secret_on_disk(data_dir: Path, keys: DeviceKeys) -> None:
    for path in keys_dir(data_dir).iterdir():
        blob = path.read_bytes()
        for form in _secret_forms(keys):
            assert form not in blob, f"{path.name} holds a key in a readable form"


def test_sealed_key_files_are_not_the_raw_keys(tmp_path: Path) -> None:
    keys = DeviceKeys.load_or_create(tmp_path, _policy())
    assert keys.protection() is Protection.PASSPHRASE
    _assert_no_secret_on_disk(tmp_path, keys)
    d = keys_dir(tmp_path)
    for name in ("device_key.pem", "template.key"):
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600
        assert (d / name).read_bytes().startswith(b"-----BEGIN KIOSK SEALED SECRET-----")
    again = DeviceKeys.load(tmp_path, _policy())
    assert again.public_key_b64() == keys.public_key_b64()
    assert again.template_key() == keys.template_key()


def test_wrong_passphrase_is_a_key_store_error(tmp_path: Path) -> None:
    DeviceKeys.load_or_create(tmp_path, _policy())
    with pytest.raises(KeyStoreError, match="wrong key passphrase") as err:
        DeviceKeys.load(tmp_path, _policy("not the passphrase at all"))
    assert err.value.code == "key_passphrase_wrong"


def test_sealed_store_without_a_passphrase_fails_closed(tmp_path: Path) -> None:
    DeviceKeys.load_or_create(tmp_path, _policy())
    with pytest.raises(KeyStoreError, match="KIOSK_KEY_PASSPHRASE") as err:
        DeviceKeys.load(tmp_path, _policy(None))
    assert err.value.code == "key_passphrase_missing"


def test_no_keyring_and_no_passphrase_refuses_to_create_keys(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="refusing to keep device keys in plain text"):
        DeviceKeys.load_or_create(tmp_path, _policy(None))
    assert not (keys_dir(tmp_path) / "device_key.pem").exists()
    assert not (keys_dir(tmp_path) / "template.key").exists()


def test_short_passphrase_is_refused_for_a_new_seal(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="at least 8"):
        DeviceKeys.load_or_create(tmp_path, _policy("short"))


def test_env_policy_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIOSK_KEY_PASSPHRASE")
    with pytest.raises(KeyStoreError, match="plain text"):
        DeviceKeys.load_or_create(tmp_path)
    monkeypatch.setenv("KIOSK_KEYS_PROTECTION", "plaintext-dev")
    assert DeviceKeys.load_or_create(tmp_path).protection() is Protection.PLAINTEXT


def test_plaintext_dev_mode_is_explicit_and_loud(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # import-linter (tests/test_architecture.py) configures logging in this process with
    # disable_existing_loggers; the kiosk service never does, so undo that here.
    monkeypatch.setattr(logging.getLogger("kiosk.ledger.keyseal"), "disabled", False)
    with caplog.at_level(logging.WARNING, logger="kiosk.ledger.keyseal"):
        keys = DeviceKeys.load_or_create(tmp_path, KeyPolicy.plaintext_for_demo())
    assert keys.protection() is Protection.PLAINTEXT
    assert b"PRIVATE KEY" in (keys_dir(tmp_path) / "device_key.pem").read_bytes()
    assert any("INSECURE" in r.getMessage() for r in caplog.records)


def test_legacy_plaintext_store_is_migrated_on_first_load(tmp_path: Path) -> None:
    legacy = DeviceKeys.load_or_create(tmp_path, KeyPolicy.plaintext_for_demo())
    with LedgerStore(tmp_path / "l.sqlite", legacy) as store:
        store.append("checkin", {"i": 1})
    pub, tkey = legacy.public_key_b64(), legacy.template_key()

    migrated = DeviceKeys.load(tmp_path, _policy())
    assert migrated.protection() is Protection.PASSPHRASE
    assert (migrated.public_key_b64(), migrated.template_key()) == (pub, tkey)
    _assert_no_secret_on_disk(tmp_path, migrated)
    with LedgerStore(tmp_path / "l.sqlite", migrated) as store:
        store.append("checkin", {"i": 2})
        assert store.verify() == 2


def test_legacy_plaintext_store_fails_closed_when_it_cannot_be_protected(tmp_path: Path) -> None:
    DeviceKeys.load_or_create(tmp_path, KeyPolicy.plaintext_for_demo())
    with pytest.raises(KeyStoreError, match="plain text"):
        DeviceKeys.load(tmp_path, _policy(None))


def test_a_sealed_store_is_never_downgraded_by_a_demo_policy(tmp_path: Path) -> None:
    DeviceKeys.load_or_create(tmp_path, _policy())
    with pytest.raises(KeyStoreError, match="sealed with a passphrase"):
        DeviceKeys.load(tmp_path, KeyPolicy.plaintext_for_demo())


def test_sealed_files_cannot_be_swapped_or_weakened(tmp_path: Path) -> None:
    DeviceKeys.load_or_create(tmp_path, _policy())
    d = keys_dir(tmp_path)
    sealed_template = (d / "template.key").read_bytes()
    original = (d / "device_key.pem").read_bytes()
    (d / "device_key.pem").write_bytes(sealed_template)  # a template key is no signing key
    with pytest.raises(KeyStoreError, match="not a device-signing-key"):
        DeviceKeys.load(tmp_path, _policy())
    with pytest.raises(KeyStoreError, match="unacceptable scrypt"):  # nor can one be made
        sealed_secret.seal_with_passphrase(b"x" * 32, "device-signing-key", PASS, n=2**10)
    doc = sealed_secret.unarmour(original, "KIOSK SEALED SECRET")
    (d / "device_key.pem").write_bytes(
        sealed_secret.armour("KIOSK SEALED SECRET", {**doc, "n": 2**10})
    )
    with pytest.raises(KeyStoreError, match="unacceptable scrypt"):
        DeviceKeys.load(tmp_path, _policy())
    (d / "device_key.pem").write_bytes(original.replace(b"A", b"B", 1))
    with pytest.raises(KeyStoreError):
        DeviceKeys.load(tmp_path, _policy())


def test_rotation_under_a_seal_keeps_old_records_verifiable(tmp_path: Path) -> None:
    keys = DeviceKeys.load_or_create(tmp_path, _policy())
    with LedgerStore(tmp_path / "l.sqlite", keys) as store:
        store.append("checkin", {})
        store.rotate_key()
        store.append("checkin", {})
        assert store.verify() == 3
    reloaded = DeviceKeys.load(tmp_path, _policy())
    assert [e.from_seq for e in reloaded.history] == [1, 3]
    assert reloaded.protection() is Protection.PASSPHRASE
    _assert_no_secret_on_disk(tmp_path, reloaded)


class MemoryKeyring(KeyringBackend):
    """A real keyring backend kept in memory: what Secret Service does, without D-Bus."""

    priority = 10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def memory_keyring():  # type: ignore[no-untyped-def]
    import keyring
    from keyring.backends import fail

    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(fail.Keyring())


def test_keyring_is_preferred_and_files_only_reference_it(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    keys = DeviceKeys.load_or_create(tmp_path, _policy(None))
    assert keys.protection() is Protection.KEYRING
    _assert_no_secret_on_disk(tmp_path, keys)
    assert len(memory_keyring.entries) == 2  # device key + template key, nothing else
    with LedgerStore(tmp_path / "l.sqlite", keys) as store:
        store.append("checkin", {})
        store.rotate_key()
        assert store.verify() == 1 + 1
    # the retired private key left the keyring; the new one is there, and the ledger's
    # signed head is witnessed there too (kiosk/ledger/witness.py)
    secrets = [k for k in memory_keyring.entries if k[0] == "exam-door-kiosk"]
    assert len(secrets) == 2
    (head,) = [v for k, v in memory_keyring.entries.items() if k[0] != "exam-door-kiosk"]
    assert json.loads(head)["seq"] == 2
    assert DeviceKeys.load(tmp_path, _policy(None)).public_key_b64() == keys.public_key_b64()


def test_keyring_entry_missing_or_swapped_is_refused(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    DeviceKeys.load_or_create(tmp_path, _policy(None))
    (entry,) = [k for k in memory_keyring.entries if True][:1]
    original = memory_keyring.entries[entry]
    memory_keyring.entries[entry] = base64.b64encode(b"\x01" * 32).decode()
    with pytest.raises(KeyStoreError, match="replaced"):
        DeviceKeys.load(tmp_path, _policy(None))
    memory_keyring.entries.clear()
    with pytest.raises(KeyStoreError, match="missing"):
        DeviceKeys.load(tmp_path, _policy(None))
    assert original


def test_keyring_setting_without_a_keyring_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="no usable OS keyring"):
        DeviceKeys.load_or_create(tmp_path, _policy(PASS, protection="keyring"))


def test_passphrase_setting_skips_an_available_keyring(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    keys = DeviceKeys.load_or_create(tmp_path, _policy(PASS, protection="passphrase"))
    assert keys.protection() is Protection.PASSPHRASE
    assert not memory_keyring.entries


def test_prompted_passphrase_is_asked_once(tmp_path: Path) -> None:
    asked: list[bool] = []

    def ask(confirm: bool) -> str:
        asked.append(confirm)
        return PASS

    policy = KeyPolicy(protection=ProtectionSetting.AUTO, passphrase=ask)
    keys = DeviceKeys.load_or_create(tmp_path, policy)
    keys.template_key()
    assert asked == [True]  # a new seal confirms; the answer is kept for the process


def test_unknown_protection_setting_is_refused() -> None:
    with pytest.raises(KeyStoreError, match="not one of"):
        KeyPolicy.from_environ({"KIOSK_KEYS_PROTECTION": "rot13"})


def test_reseal_moves_a_sealed_store_into_the_keyring(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    keys = DeviceKeys.load_or_create(tmp_path, _policy(protection="passphrase"))
    pub, tkey = keys.public_key_b64(), keys.template_key()
    keys.reseal(Protection.KEYRING, _policy(None))
    again = DeviceKeys.load(tmp_path, _policy(None))
    assert again.protection() is Protection.KEYRING
    assert (again.public_key_b64(), again.template_key()) == (pub, tkey)
    assert len(memory_keyring.entries) == 2
    with pytest.raises(KeyStoreError, match="never unsealed"):
        again.reseal(Protection.PLAINTEXT, KeyPolicy.plaintext_for_demo())
