"""Moved to `kiosk.protocol.requests`; this name stays only for `kiosk/sync/client.py`,
whose owner updates its import after the merge (then delete this file)."""

from kiosk.protocol.requests import sign_request

__all__ = ["sign_request"]
