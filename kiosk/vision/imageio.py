"""Decoding still images with errors a person can act on (never a crash in cv2).

Order matters: the header is read first and an image too large (a decompression bomb) or
too small is refused before the decoder allocates anything; then the data is decoded, and
for JPEG the decoder's own warnings decide whether the data was whole.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from kiosk.errors import ImageDecodeError
from kiosk.vision.image_header import MAX_PIXELS, MIN_SIDE, check_size, read_file, read_header

# libjpeg's warnings for data that ended early or is damaged: the decoder carries on and
# fills the rest of the image with grey, so only the warning tells a cut-off photo (with an
# end marker appended, as an attacker might) from a whole one.
_JPEG_DAMAGE = (b"Corrupt JPEG data", b"Premature end of JPEG file")
_stderr_lock = threading.Lock()


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """BGR uint8 image from encoded bytes (JPEG, PNG, BMP, WebP, GIF)."""
    if not data:
        raise ImageDecodeError(f"{name}: empty file")
    header = read_header(data, name)
    check_size(header, name)
    w, h = header.width, header.height
    if header.format == "jpeg" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        # libjpeg decodes a truncated file into a grey-padded image with only a warning.
        raise ImageDecodeError(f"{name}: JPEG data is truncated")
    buf = np.frombuffer(data, np.uint8)
    try:
        if header.format == "jpeg":
            with _libjpeg_messages() as messages:
                image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            if any(m in messages[0] for m in _JPEG_DAMAGE):
                raise ImageDecodeError(f"{name}: JPEG data is truncated or corrupt")
        else:
            image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageDecodeError(f"{name}: cannot decode image: {exc.msg}") from None
    if image is None:
        raise ImageDecodeError(f"{name}: not an image, or corrupt")
    if image.shape[:2] != (h, w):  # the header lied about the size the data has
        raise ImageDecodeError(f"{name}: image data does not match its header")
    return image


@contextlib.contextmanager
def _libjpeg_messages() -> Iterator[list[bytes]]:
    """Collect what native code writes to stderr meanwhile (libjpeg prints its warnings
    there; OpenCV offers no other way to see them). Yields a list that holds the text
    after the block; anything that is not libjpeg's is written back to stderr."""
    out: list[bytes] = [b""]
    with _stderr_lock, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield out
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            out[0] = sink.read()
    other = [
        line
        for line in out[0].splitlines(keepends=True)
        if not line.startswith((*_JPEG_DAMAGE, b"Warning:"))
    ]
    if other:
        with contextlib.suppress(OSError):
            os.write(2, b"".join(other))


def read_image(path: Path | str) -> np.ndarray:
    path = Path(path)
    return decode_image(read_file(path), path.name)


__all__ = ["MAX_PIXELS", "MIN_SIDE", "decode_image", "read_image"]
