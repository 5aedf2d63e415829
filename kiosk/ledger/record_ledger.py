"""The ledger as its users need it: something that appends a signed record and lists them.

Why a Protocol: the camera pin, the clock guard and calibration write records but must not
depend on how the ledger stores them (`kiosk.ledger.store.LedgerStore` is the one real
implementation); tests pass the real store, and this keeps the modules that write
records importable without the store's SQLite and key machinery.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol


class RecordLedger(Protocol):
    """Appends signed records (`type`, `body`) and iterates the stored envelopes in order."""

    def append(self, type: str, body: dict[str, Any]) -> Any: ...

    def iter_envelopes(self) -> Iterable[Any]: ...


__all__ = ["RecordLedger"]
