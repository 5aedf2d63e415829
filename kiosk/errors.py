"""Error types the UI and CLI turn into a sentence for the person in front of them.

Each error carries a stable `code` (for logs, ledger `device_event`s and translations)
and a human message. Raise the most specific type; catch `KioskError` at the edge.
"""

from __future__ import annotations


class KioskError(Exception):
    """Base for every error a user, operator or bad input can cause."""

    code = "kiosk_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(KioskError):
    code = "config_invalid"


class ModelIntegrityError(KioskError):
    """A model file is missing, truncated, modified or not a valid ONNX graph."""

    code = "model_integrity"


class ModelPackError(KioskError):
    """A model pack cannot be installed or used (bad manifest, unknown role, ...)."""

    code = "model_pack"


class ImageDecodeError(KioskError):
    """An input is empty, corrupt or not an image."""

    code = "image_decode"


class NoFaceError(KioskError):
    code = "no_face"


class CameraUnavailable(KioskError):
    code = "camera_unavailable"


class LedgerError(KioskError):
    code = "ledger_error"


class LedgerTampered(LedgerError):
    """Verification found an edited, deleted, reordered or foreign record."""

    code = "ledger_tampered"


class LedgerRolledBack(LedgerTampered):
    """The ledger ends before, or differs from, the signed head its witness saw (a cut-off
    tail, a restored older copy, an emptied or recreated file)."""

    code = "ledger_rolled_back"


class RecordFormatError(LedgerError):
    """A ledger record or envelope does not match record format v1 (missing, extra or
    wrongly typed field, unknown type, bad id or timestamp)."""

    code = "record_format"


class SignatureInvalid(KioskError):
    code = "signature_invalid"


class RosterError(KioskError):
    code = "roster_invalid"


class RosterSignatureInvalid(RosterError):
    code = "roster_signature_invalid"


class RosterRollback(RosterError):
    code = "roster_rollback"


class RosterExpired(RosterError):
    code = "roster_expired"


class UnknownApplicant(KioskError):
    code = "unknown_applicant"


class ProctorAuthError(KioskError):
    code = "proctor_auth"


class ProctorLockedOut(ProctorAuthError):
    code = "proctor_locked_out"


class PolicyViolation(KioskError):
    """An action is not allowed in the current state or for this role."""

    code = "policy_violation"


class KeyStoreError(KioskError):
    code = "key_store"


class FilePermissionsLoose(KioskError):
    """A file or folder holding secrets or personal data is readable by other accounts."""

    code = "file_permissions_loose"


class CalibrationNotDemonstrable(ConfigError):
    """A calibration cannot show its target false-match rate (too few impostor pairs or
    people), or lowers the threshold without a centre-signed policy."""

    code = "calibration_not_demonstrable"


class TemplateVaultError(KioskError):
    """Encrypted templates cannot be read: wrong template key, or a row was edited or swapped."""

    code = "template_vault"


class CentreUnavailable(KioskError):
    code = "centre_unavailable"


class CentreProtocolError(KioskError):
    """The centre answered, but with something the kiosk cannot trust or parse."""

    code = "centre_protocol"


class StorageFull(KioskError):
    code = "storage_full"
