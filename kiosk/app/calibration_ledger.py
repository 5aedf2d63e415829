"""The device ledger as the calibration window needs it: opened the first time a site
calibration is confirmed, not at start, because the device keys may ask for a
passphrase and looking at the camera needs none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.config import KioskConfig

OpenLedger = Callable[[], Any]  # returns an object with append(type, body) (a LedgerStore)


def ledger_on_first_use(cfg: KioskConfig) -> OpenLedger:
    """A function that opens the device ledger on its first call and returns the same
    store on every later one; the store is closed when the process ends."""
    opened: list[Any] = []

    def open_ledger() -> Any:
        if not opened:
            from kiosk.ledger.keys import DeviceKeys
            from kiosk.ledger.store import LedgerStore

            opened.append(LedgerStore(cfg.ledger_path, DeviceKeys.for_config(cfg)))
        return opened[0]

    return open_ledger
