"""The centre's error types. Each has a stable `code` and a message that is one clear
sentence; they share `CodedError` with the wire contract's errors (`kiosk.protocol`), so
one `except CodedError` at an edge (the CLI, an API route) covers both."""

from __future__ import annotations

from kiosk.protocol.errors import CodedError


class CentreError(CodedError):
    """Base for errors an operator, a kiosk or bad input can cause at the centre."""

    code = "centre_error"


class CentreConfigError(CentreError):
    code = "config_invalid"


class CentreKeyError(CentreError):
    """The centre's signing key file is unreadable or not an Ed25519 key."""

    code = "key_store"


__all__ = ["CentreConfigError", "CentreError", "CentreKeyError", "CodedError"]
