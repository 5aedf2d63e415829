"""Image dimensions from the file header, read before anything is decoded.

A 30000×30000 PNG of one colour is 875 KB on disk and 2.7 GB once decoded: checking the
size after `cv2.imdecode` is too late (the kiosk reached 5.5 GB and 55 s before refusing
it). The header says the size in a few bytes, so the decoder is never asked.

Stdlib only. Formats: JPEG (SOFn marker), PNG (IHDR, plus the APNG frame count), BMP,
WebP (VP8, VP8L, VP8X) and GIF; anything else is refused, since a format whose size we
cannot read first is one we cannot protect the decoder from.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from kiosk.errors import ImageDecodeError

MIN_SIDE = 32
MAX_PIXELS = 50_000_000  # refuse decompression bombs before they eat the kiosk's memory
# An ID photo or a camera still is a few MB; a bigger file is not one we should read whole.
MAX_FILE_BYTES = 64 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers: SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM, RST0..RST7, SOI.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


@dataclass(frozen=True)
class ImageHeader:
    """What the file says about itself: format, size and number of frames."""

    format: str
    width: int
    height: int
    frames: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height * self.frames


def read_header(data: bytes, name: str = "image") -> ImageHeader:
    """The header of an encoded image; `ImageDecodeError` when it is missing or unreadable."""
    try:
        header = _parse(data)
    except (struct.error, IndexError):
        header = None
    if header is None:
        if _format_of(data) is None:
            raise ImageDecodeError(
                f"{name}: not a JPEG, PNG, BMP, WebP or GIF image (unknown or unsupported format)"
            )
        raise ImageDecodeError(f"{name}: the image header is truncated or corrupt")
    if header.width <= 0 or header.height <= 0 or header.frames <= 0:
        raise ImageDecodeError(
            f"{name}: the image header says {header.width}×{header.height}, which is not an image"
        )
    return header


def check_size(header: ImageHeader, name: str = "image") -> None:
    """`ImageDecodeError` unless the image is between `MIN_SIDE` and `MAX_PIXELS`."""
    w, h = header.width, header.height
    if min(w, h) < MIN_SIDE:
        raise ImageDecodeError(f"{name}: image is too small ({w}×{h}); need at least {MIN_SIDE} px")
    if header.pixels > MAX_PIXELS:
        frames = f" in {header.frames} frames" if header.frames > 1 else ""
        raise ImageDecodeError(
            f"{name}: image is too large ({w}×{h}{frames}); the limit is "
            f"{MAX_PIXELS // 1_000_000} megapixels"
        )


def read_file(path: Path | str) -> bytes:
    """The bytes of an image file, refusing folders and files over `MAX_FILE_BYTES`."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ImageDecodeError(f"{path}: is a folder, not an image")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageDecodeError(
                f"{path}: file is {size // (1024 * 1024)} MB; an image must be under "
                f"{MAX_FILE_BYTES // (1024 * 1024)} MB"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageDecodeError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageDecodeError(f"{path}: cannot read: {exc.strerror}") from None


def probe_image(path: Path | str) -> ImageHeader:
    """Check an image file's header and size without decoding it (nor importing a decoder):
    a command can refuse a bomb before it loads models."""
    path = Path(path)
    data = read_file(path)
    if not data:
        raise ImageDecodeError(f"{path.name}: empty file")
    header = read_header(data, path.name)
    check_size(header, path.name)
    return header


def _format_of(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(b"BM"):
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def _parse(data: bytes) -> ImageHeader | None:
    kind = _format_of(data)
    if kind == "jpeg":
        return _jpeg(data)
    if kind == "png":
        return _png(data)
    if kind == "bmp":
        (dib_size,) = struct.unpack_from("<I", data, 14)
        if dib_size == 12:  # OS/2 BITMAPCOREHEADER
            w, h = struct.unpack_from("<HH", data, 18)
        else:
            w, h = struct.unpack_from("<ii", data, 18)
        return ImageHeader("bmp", w, abs(h))  # a negative height means top-down rows
    if kind == "webp":
        return _webp(data)
    if kind == "gif":
        w, h = struct.unpack_from("<HH", data, 6)
        return ImageHeader("gif", w, h)
    return None


def _jpeg(data: bytes) -> ImageHeader | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None  # markers must follow each other until the scan
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        (length,) = struct.unpack_from(">H", data, i + 2)
        if marker in _SOF_MARKERS:
            h, w = struct.unpack_from(">HH", data, i + 5)
            return ImageHeader("jpeg", w, h)
        if marker == 0xDA or length < 2:  # a scan before any frame header: corrupt
            return None
        i += 2 + length
    return None


def _png(data: bytes) -> ImageHeader | None:
    i = len(PNG_SIGNATURE)
    length, kind = struct.unpack_from(">I4s", data, i)
    if kind != b"IHDR" or length < 8:
        return None
    w, h = struct.unpack_from(">II", data, i + 8)
    frames = 1
    # An animated PNG declares its frame count (acTL) before the first image data.
    i += 12 + length
    while i + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, i)
        if kind == b"acTL":
            (frames,) = struct.unpack_from(">I", data, i + 8)
            break
        if kind in (b"IDAT", b"IEND"):
            break
        i += 12 + length
    return ImageHeader("png", w, h, frames)


def _webp(data: bytes) -> ImageHeader | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        w, h = struct.unpack_from("<HH", data, 26)
        return ImageHeader("webp", w & 0x3FFF, h & 0x3FFF)
    if chunk == b"VP8L":
        (bits,) = struct.unpack_from("<I", data, 21)
        return ImageHeader("webp", 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF))
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        if len(data) < 30:
            return None
        return ImageHeader("webp", w, h)
    return None


__all__ = [
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "MIN_SIDE",
    "ImageHeader",
    "check_size",
    "probe_image",
    "read_file",
    "read_header",
]
