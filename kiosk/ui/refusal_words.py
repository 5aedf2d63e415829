"""Which catalogue sentence says why the core refused a proctor's action.

The core's `PolicyViolation` messages are English sentences written for logs and the
CLI; shown inside a Kazakh or Russian panel they were half English ("Действие не
разрешено: say why the door is unlocked ..."). The panel shows the sentence for the
refusal's kind instead; the English one still goes to the log. Matched on stable words
of the message, as the core gives these refusals no codes of their own. Qt-free.
"""

from __future__ import annotations

from kiosk.errors import KioskError, ProctorAuthError

# (words in the core's message, catalogue key), first match wins
_KINDS: tuple[tuple[str, str], ...] = (
    ("note must be at least", "proctor.why.note_too_short"),
    ("note must be at most", "proctor.why.note_too_long"),
    ("say why the door is unlocked", "proctor.why.unlock_note"),
    ("is already open", "proctor.why.session_already_open"),
    ("is not open", "proctor.why.session_not_open"),
    ("this action needs", "proctor.why.role"),
    ("signed-in proctor", "proctor.why.role"),
    ("already overridden", "proctor.why.already_overridden"),
    ("already checked in", "proctor.why.already_checked_in"),
    ("unknown booking cannot", "proctor.why.unknown_booking"),
    ("proctor.why.no_refusal", "proctor.why.no_refusal"),
)
WHY_KEYS = tuple(sorted({key for _words, key in _KINDS} | {"proctor.why.other"}))


def why_key(exc: KioskError) -> str:
    """The catalogue key that says, in the panel's language, why `exc` refused."""
    if isinstance(exc, ProctorAuthError):
        return "proctor.why.role"
    text = str(exc)
    for words, key in _KINDS:
        if words in text:
            return key
    return "proctor.why.other"


__all__ = ["WHY_KEYS", "why_key"]
