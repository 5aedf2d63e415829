"""The booking photo on the wire: a small JPEG, checked from its header before any decoding.

Why here and stdlib-only: the centre signs rosters without numpy or OpenCV, and the
protocol package may not import `kiosk.vision` (where `image_header` lives), so the few
lines that read a JPEG's frame size are repeated rather than shared. The limits keep a
roster from carrying a large image into the kiosk's memory or its decoder: a
passport-style portrait at 320x400 is plenty to compare with the person at the door.
"""

from __future__ import annotations

import base64
import binascii
import struct

from kiosk.protocol.errors import RosterError

PHOTO_MAX_BYTES = 64 * 1024
PHOTO_MAX_SIZE = (320, 400)  # width, height in pixels
# JPEG start-of-frame markers: SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM, RST0..RST7, SOI.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame segment; None if it is not a JPEG."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # a fill byte before the marker
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF_MARKERS:
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if marker in (0xD9, 0xDA) or length < 2:  # image or scan ends before any frame
            return None
        i += 2 + length
    return None


def check_photo(text: object, where: str) -> bytes:
    """The JPEG bytes of a base64 booking photo, within PHOTO_MAX_BYTES and PHOTO_MAX_SIZE."""
    if not isinstance(text, str):
        raise RosterError(f"{where}: photo must be a base64 string")
    too_big = f"{where}: photo is larger than {PHOTO_MAX_BYTES // 1024} KB"
    if len(text) > (PHOTO_MAX_BYTES + 2) // 3 * 4:  # refuse before decoding a huge string
        raise RosterError(too_big)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RosterError(f"{where}: photo is not valid base64") from None
    if len(raw) > PHOTO_MAX_BYTES:
        raise RosterError(too_big)
    size = jpeg_size(raw)
    if size is None:
        raise RosterError(f"{where}: photo is not a JPEG image")
    (w, h), (max_w, max_h) = size, PHOTO_MAX_SIZE
    if not (0 < w <= max_w and 0 < h <= max_h):
        raise RosterError(f"{where}: photo is {w}x{h} px; at most {max_w}x{max_h} px is allowed")
    return raw


__all__ = ["PHOTO_MAX_BYTES", "PHOTO_MAX_SIZE", "check_photo", "jpeg_size"]
