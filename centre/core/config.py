"""Centre settings: the centre's own, with no import of the kiosk's config.

Precedence, lowest first:

1. the defaults below;
2. a TOML file: ``--config``, else ``CENTRE_CONFIG``, else ``KIOSK_CONFIG``, else
   ``<data_dir>/kiosk.toml`` if it exists. The centre reads its ``[centre]`` table and
   ``[paths] data_dir``, so the one file an operator already keeps for a kiosk-and-centre
   install goes on working; a centre-only file can hold just those tables;
3. the kiosk's variables the centre has always honoured: ``KIOSK_PATHS_DATA_DIR``,
   ``KIOSK_CENTRE_DB`` and ``KIOSK_CENTRE_<KEY>``;
4. ``CENTRE_<KEY>`` variables (``CENTRE_DATA_DIR``, ``CENTRE_DB_URL``, ``CENTRE_PORT``, …),
   the centre's own names, which win.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from centre.errors import CentreConfigError

# The kiosk's default data dir, so an install that never set one finds the same files.
_APP_DIR_NAME = "exam-door-kiosk"


def _default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(_APP_DIR_NAME, appauthor=False))


@dataclass(frozen=True)
class CentreSettings:
    data_dir: Path
    db_url: str = ""  # empty: sqlite:///<data_dir>/centre.sqlite
    host: str = "127.0.0.1"
    port: int = 8800
    max_batch: int = 2000
    # Bytes, checked before JSON parsing; a full batch of checkin envelopes is ~1 KB each.
    max_body_bytes: int = 8 * 1024 * 1024
    override_rate_alert: float = 0.05
    # A record stamped further ahead than this of the centre clock is refused ("from the future").
    max_future_skew_s: float = 300.0
    # Signed requests older/newer than this are refused as stale (replay window).
    request_window_s: float = 300.0
    enrolment_token_ttl_s: float = 24 * 3600.0
    # Stored rosters (with enrolment templates) are purged this long after their session
    # ends: the kiosk's template retention ([ledger] retention_days).
    roster_retention_days: int = 30
    # Unlocks the sealed centre keys; None: from KIOSK_CENTRE_KEY_PASSPHRASE at start-up.
    key_passphrase: str | None = field(default=None, repr=False)
    migrate_on_start: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.data_dir / 'centre.sqlite'}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def load(
        cls, path: Path | str | None = None, *, environ: Mapping[str, str] | None = None
    ) -> CentreSettings:
        """Settings from defaults, the TOML file and the environment (see the module doc)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        data_dir = environ.get("KIOSK_PATHS_DATA_DIR") or environ.get("CENTRE_DATA_DIR") or ""
        file = _config_file(path, environ, data_dir)
        if file is not None:
            table, file_data_dir = _read_toml(file)
            values.update(table)
            data_dir = data_dir or file_data_dir
        for prefix in ("KIOSK_CENTRE_", "CENTRE_"):
            values.update(_env_values(environ, prefix))
        if "KIOSK_CENTRE_DB" in environ and "CENTRE_DB_URL" not in environ:
            values["db_url"] = environ["KIOSK_CENTRE_DB"]
        data_dir = environ.get("CENTRE_DATA_DIR") or data_dir
        values.pop("data_dir", None)
        settings = cls(
            data_dir=Path(data_dir).expanduser() if data_dir else _default_data_dir(),
            **{k: _coerce(k, v) for k, v in values.items()},
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 1 <= self.port <= 65535:
            raise CentreConfigError("[centre] port must be 1..65535")
        for name, (lo, hi) in _RANGES.items():
            value = getattr(self, name)
            if not lo <= value <= hi:  # also refuses nan and inf from the environment
                raise CentreConfigError(f"[centre] {name} must be between {lo:g} and {hi:g}")
        if not 0.0 <= self.override_rate_alert <= 1.0:
            raise CentreConfigError("[centre] override_rate_alert must be between 0 and 1")

    def with_(self, **changes: object) -> CentreSettings:
        return replace(self, **changes)  # type: ignore[arg-type]


# Documented ranges of the numeric settings (the kiosk's own are in kiosk/config_ranges.py).
_RANGES: dict[str, tuple[float, float]] = {
    "max_batch": (1, 100_000),
    "max_body_bytes": (1024, 256 * 1024 * 1024),
    "max_future_skew_s": (0, 86_400),
    "request_window_s": (1, 86_400),
    "enrolment_token_ttl_s": (60, 30 * 86_400),
}
# Not from a file or CENTRE_* variables: the passphrase is read by centre.core.sealing from
# KIOSK_CENTRE_KEY_PASSPHRASE, never kept in a config file.
_FIELDS = {
    f.name: f
    for f in dataclasses.fields(CentreSettings)
    if f.name not in ("extra", "key_passphrase")
}
_TYPES = typing.get_type_hints(CentreSettings)


def _config_file(path: Path | str | None, environ: Mapping[str, str], data_dir: str) -> Path | None:
    for explicit in (path, environ.get("CENTRE_CONFIG"), environ.get("KIOSK_CONFIG")):
        if explicit:
            file = Path(explicit)
            if not file.exists():
                raise CentreConfigError(f"config file {file} does not exist")
            return file
    default = Path(data_dir).expanduser() if data_dir else _default_data_dir()
    file = default / "kiosk.toml"
    return file if file.exists() else None


def _read_toml(file: Path) -> tuple[dict[str, Any], str]:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CentreConfigError(f"{file}: not valid TOML: {exc}") from None
    table = data.get("centre", {})
    if not isinstance(table, dict):
        raise CentreConfigError(f"{file}: [centre] must be a table")
    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise CentreConfigError(f"{file}: unknown [centre] key(s): {', '.join(unknown)}")
    paths = data.get("paths", {})
    data_dir = paths.get("data_dir", "") if isinstance(paths, dict) else ""
    return dict(table), str(data_dir or "")


def _env_values(environ: Mapping[str, str], prefix: str) -> dict[str, str]:
    out = {}
    for name, value in environ.items():
        if name.startswith(prefix):
            key = name[len(prefix) :].lower()
            if key in _FIELDS and key != "data_dir":
                out[key] = value
    return out


def _coerce(key: str, value: object) -> object:
    """A TOML value or an environment string as the field's type; CentreConfigError if not."""
    kind = _TYPES[key]
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool:
                if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(text)
                return text.lower() in ("1", "true", "yes")
            return kind(text)
        except ValueError:
            raise CentreConfigError(
                f"[centre] {key}: {value!r} is not a valid {kind.__name__}"
            ) from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CentreConfigError(f"[centre] {key} must be a {kind.__name__}, got {value!r}")
    return value


__all__ = ["CentreSettings"]
