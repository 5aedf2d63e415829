"""Centre settings, derived from the one kiosk TOML config plus `KIOSK_CENTRE_DB`.

The centre shares `kiosk/config.py` with the kiosk so an operator has one file and one set
of `KIOSK_*` variables to learn; the few knobs that only make sense for the service (clock
skew tolerance, body size cap) are fields here with safe defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from kiosk.config import KioskConfig, load_config


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
    def from_config(cls, cfg: KioskConfig | None = None) -> CentreSettings:
        """Settings from the kiosk config (defaults → TOML → `KIOSK_*` env)."""
        cfg = cfg or load_config()
        return cls(
            data_dir=cfg.data_dir,
            db_url=cfg.centre.db_url,
            host=cfg.centre.host,
            port=cfg.centre.port,
            max_batch=cfg.centre.max_batch,
            override_rate_alert=cfg.centre.override_rate_alert,
            roster_retention_days=cfg.ledger.retention_days,
        )

    def with_(self, **changes: object) -> CentreSettings:
        return replace(self, **changes)  # type: ignore[arg-type]
