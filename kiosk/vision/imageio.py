"""Decoding still images with errors a person can act on (never a crash in cv2)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from kiosk.errors import ImageDecodeError

MIN_SIDE = 32
MAX_PIXELS = 50_000_000  # refuse decompression bombs before they eat the kiosk's memory


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """BGR uint8 image from encoded bytes (JPEG, PNG, BMP, WebP, ...)."""
    if not data:
        raise ImageDecodeError(f"{name}: empty file")
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        # libjpeg decodes a truncated file into a grey-padded image with only a warning.
        raise ImageDecodeError(f"{name}: JPEG data is truncated")
    buf = np.frombuffer(data, np.uint8)
    try:
        image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageDecodeError(f"{name}: cannot decode image: {exc.msg}") from None
    if image is None:
        raise ImageDecodeError(f"{name}: not an image, or corrupt")
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageDecodeError(f"{name}: image is too small ({w}×{h}); need at least {MIN_SIDE} px")
    if h * w > MAX_PIXELS:
        raise ImageDecodeError(f"{name}: image is too large ({w}×{h})")
    return image


def read_image(path: Path | str) -> np.ndarray:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageDecodeError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageDecodeError(f"{path}: is a folder, not an image") from None
    except OSError as exc:
        raise ImageDecodeError(f"{path}: cannot read: {exc.strerror}") from None
    return decode_image(data, path.name)
