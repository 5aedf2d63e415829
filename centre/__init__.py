"""The centre service: device registry, verified record ingest, signed rosters, reports.

Kiosks push their signed, hash-chained ledger records here and pull rosters the centre has
signed. The app factory is `centre.app.create_app(settings)`; `python -m centre` or
`kiosk centre serve` runs it under uvicorn.
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Lazy re-export so importing `centre` stays cheap (no FastAPI import)."""
    from centre.app import create_app as _create_app

    return _create_app(*args, **kwargs)
