"""The Kazakhstan individual identification number (IIN): validation, masking, demo values.

Kept apart from the roster because the IIN is a claim method of its own (typed on the
keypad, looked up in the roster) and personal data: everything that shows one should
mask it, and everything that accepts one should validate it the same way.

Structure: YYMMDD birth date, a 7th digit for century and sex (1–6), a 4-digit serial,
and a check digit (weighted mod 11, a second weighting when the first gives 10).
"""

from __future__ import annotations

import re
from datetime import date

from kiosk.protocol.errors import RosterError

_IIN_W1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_IIN_W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_CENTURY = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}


def mask_iin(iin: str) -> str:
    """Show only the last 4 digits: IINs are personal data and messages end up in logs."""
    return "*" * max(0, len(iin) - 4) + iin[-4:]


def iin_check_digit(first11: str) -> int | None:
    """The 12th digit for 11 leading digits, or None when no valid check digit exists."""
    digits = [int(c) for c in first11]
    check = sum(w * d for w, d in zip(_IIN_W1, digits, strict=True)) % 11
    if check == 10:
        check = sum(w * d for w, d in zip(_IIN_W2, digits, strict=True)) % 11
    return None if check == 10 else check


def validate_iin(iin: str) -> None:
    """Raise RosterError unless `iin` is a well-formed IIN: 12 digits, YYMMDD birth date,
    a 7th digit 1–6 (century and sex), and a correct check digit."""
    if not isinstance(iin, str) or not re.fullmatch(r"[0-9]{12}", iin):
        raise RosterError("IIN must be exactly 12 digits")
    shown = mask_iin(iin)
    c = int(iin[6])
    if c not in _CENTURY:
        raise RosterError(f"IIN {shown}: 7th digit must be 1–6 (century and sex), got {c}")
    try:
        date(_CENTURY[c] + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        raise RosterError(f"IIN {shown}: digits 1–6 are not a valid birth date") from None
    if iin_check_digit(iin[:11]) != int(iin[11]):
        raise RosterError(f"IIN {shown}: bad checksum")


def make_iin(birth: date, century_sex_digit: int, serial: int) -> str:
    """A valid IIN for demo data. Raises ValueError if the digit does not fit the birth
    year's century, or if this serial has no valid check digit (use another serial)."""
    if _CENTURY.get(century_sex_digit) != birth.year // 100 * 100:
        raise ValueError(f"century/sex digit {century_sex_digit} does not fit year {birth.year}")
    if not 0 <= serial <= 9999:
        raise ValueError("serial must be 0..9999")
    first11 = f"{birth:%y%m%d}{century_sex_digit}{serial:04d}"
    check = iin_check_digit(first11)
    if check is None:
        raise ValueError(f"serial {serial} gives no valid check digit for this date")
    return first11 + str(check)


__all__ = ["iin_check_digit", "make_iin", "mask_iin", "validate_iin"]
