"""Booking QRs read from camera frames, and the rule that a QR still in view after its
decision is not a new claim.

Why the repeat rule: an applicant holds the printout up, is decided on, and is often
still holding it when the result screen clears. Without the rule the door would claim
the same booking again at once, writing an "already checked in" refusal for a person
who was just admitted (or burning another attempt for one who was just refused). So the
same booking, seen again within ``[checkin] qr_repeat_ignore_s`` of the decision leaving
the screen, is ignored without any record; another booking, or the same one later, is
an ordinary claim. No Qt here; the clock is the flow's monotonic clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import cv2
import numpy as np

from kiosk.checkin.claims import parse_qr_payload
from kiosk.checkin.roster import normalise_booking_code

log = logging.getLogger(__name__)


def booking_of(payload: str) -> str:
    """The booking a QR names, in the form claims compare (``BOOKING:bk-1`` = ``BK1``)."""
    return normalise_booking_code(parse_qr_payload(payload))


class BookingQrReader:
    """Decodes booking QRs and remembers the last decided one to drop its repeats.

    The flow tells it when a QR claim was decided (`decided`) and when that decision left
    the screen (`decision_cleared`); `is_repeat` then answers for a QR read afterwards.
    """

    def __init__(self, ignore_s: float, clock: Callable[[], float]) -> None:
        """`ignore_s` 0 turns the repeat rule off."""
        self.ignore_s = ignore_s
        self._clock = clock
        self._detector = cv2.QRCodeDetector()
        self._booking: str | None = None  # the booking of the decision on screen / just shown
        self._cleared_at: float | None = None  # None while that decision is still on screen

    def read(self, frame_bgr: np.ndarray) -> str | None:
        """The text of a QR in the frame, or None (no QR, or one OpenCV cannot decode)."""
        try:
            text, _points, _ = self._detector.detectAndDecode(frame_bgr)
        except cv2.error as exc:
            log.debug("QR detector failed: %s", exc)
            return None
        return text or None

    def decided(self, payload: str | None) -> None:
        """A decision about the claim `payload` is now on screen (None: not a QR claim,
        which ends any earlier QR's window, since the door has moved on)."""
        self._booking = booking_of(payload) if payload else None
        self._cleared_at = None

    def decision_cleared(self) -> None:
        """The decision left the screen: the ignore window starts now."""
        if self._booking is not None and self._cleared_at is None:
            self._cleared_at = self._clock()

    def is_repeat(self, payload: str) -> bool:
        """Whether `payload` is the just-decided booking still being held up."""
        if self.ignore_s <= 0 or self._booking is None or booking_of(payload) != self._booking:
            return False
        if self._cleared_at is None:  # its decision is still on screen
            return True
        if self._clock() - self._cleared_at < self.ignore_s:
            return True
        self._booking = self._cleared_at = None  # window over: forget it
        return False


__all__ = ["BookingQrReader", "booking_of"]
