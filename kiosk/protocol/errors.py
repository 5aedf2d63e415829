"""Error types of the wire contract, shared by the kiosk and the centre.

`CodedError` is the one base of every error that becomes a sentence for a person: a stable
`code` (for logs, ledger `device_event`s, API answers and translations) and a message.
It lives here, not in `kiosk.errors`, because the centre takes only this package from the
kiosk yet must raise and catch the same types; `kiosk.errors.KioskError` *is* this class,
so a protocol error reaching the kiosk CLI or UI still prints as one clear line.
"""

from __future__ import annotations


class CodedError(Exception):
    """Base for every error a user, operator or bad input can cause."""

    code = "kiosk_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class ProtocolError(CodedError):
    """Something on the wire (record, roster, key, request) breaks the contract."""

    code = "protocol_error"


class RecordFormatError(ProtocolError):
    """A ledger record or envelope does not match record format v1 (missing, extra or
    wrongly typed field, unknown type, bad id or timestamp)."""

    code = "record_format"


class BodyFormatError(RecordFormatError):
    """A record body does not match the typed model of its record type."""

    code = "body_format"


class SignatureInvalid(ProtocolError):
    code = "signature_invalid"


class LedgerTampered(ProtocolError):
    """Verification found an edited, deleted, reordered or foreign record."""

    code = "ledger_tampered"


class KeyFormatError(ProtocolError):
    """A public key is not base64 of 32 raw Ed25519 bytes."""

    code = "key_format"


class RequestAuthError(SignatureInvalid):
    """A device request is unsigned, stale, or its signature does not verify."""

    code = "request_auth"


class RosterError(ProtocolError):
    code = "roster_invalid"


class RosterSignatureInvalid(RosterError):
    code = "roster_signature_invalid"


class RosterRollback(RosterError):
    code = "roster_rollback"


class RosterExpired(RosterError):
    code = "roster_expired"


__all__ = [
    "BodyFormatError",
    "CodedError",
    "KeyFormatError",
    "LedgerTampered",
    "ProtocolError",
    "RecordFormatError",
    "RequestAuthError",
    "RosterError",
    "RosterExpired",
    "RosterRollback",
    "RosterSignatureInvalid",
    "SignatureInvalid",
]
