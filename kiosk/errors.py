"""Error types the UI and CLI turn into a sentence for the person in front of them.

Each error carries a stable `code` (for logs, ledger `device_event`s and translations)
and a human message. Raise the most specific type; catch `KioskError` at the edge.

`KioskError` is `kiosk.protocol.errors.CodedError`, the base the wire contract's errors
(record format, signatures, tampering, rosters) also derive from, so `except KioskError`
still catches them; they are re-exported here under their old names.
"""

from __future__ import annotations

from kiosk.protocol.errors import (
    BodyFormatError,
    KeyFormatError,
    LedgerTampered,
    ProtocolError,
    RecordFormatError,
    RosterError,
    RosterExpired,
    RosterRollback,
    RosterSignatureInvalid,
    SignatureInvalid,
)
from kiosk.protocol.errors import CodedError as KioskError


class ConfigError(KioskError):
    code = "config_invalid"


class ModelIntegrityError(KioskError):
    """A model file is missing, truncated, modified or not a valid ONNX graph."""

    code = "model_integrity"


class ModelPackError(KioskError):
    """A model pack cannot be installed or used (bad manifest, unknown role, ...)."""

    code = "model_pack"


class MissingDependency(KioskError):
    """An optional part of the kiosk is needed but its extra is not installed
    (e.g. an InsightFace pack without `pip install -e ".[insightface]"`)."""

    code = "missing_dependency"


class ImageDecodeError(KioskError):
    """An input is empty, corrupt or not an image."""

    code = "image_decode"


class NoFaceError(KioskError):
    code = "no_face"


class CameraUnavailable(KioskError):
    code = "camera_unavailable"


class LedgerError(KioskError):
    code = "ledger_error"


class LedgerRolledBack(LedgerTampered):
    """The ledger ends before, or differs from, the signed head its witness saw (a cut-off
    tail, a restored older copy, an emptied or recreated file)."""

    code = "ledger_rolled_back"


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


__all__ = [
    "BodyFormatError",
    "CameraUnavailable",
    "CentreProtocolError",
    "CentreUnavailable",
    "ConfigError",
    "ImageDecodeError",
    "KeyFormatError",
    "KeyStoreError",
    "KioskError",
    "LedgerError",
    "LedgerTampered",
    "ModelIntegrityError",
    "ModelPackError",
    "NoFaceError",
    "PolicyViolation",
    "ProctorAuthError",
    "ProctorLockedOut",
    "ProtocolError",
    "RecordFormatError",
    "RosterError",
    "RosterExpired",
    "RosterRollback",
    "RosterSignatureInvalid",
    "SignatureInvalid",
    "StorageFull",
    "TemplateVaultError",
    "UnknownApplicant",
]
