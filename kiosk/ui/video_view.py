"""The live camera picture with the face-guide oval, the liveness hint beside it (an arrow
or a pictogram, `kiosk.ui.prompt_hint`) and optional technician overlays.

Painted directly from the newest numpy frame (no QLabel pixmap churn): the view keeps a
reference to the array it shows, so the QImage that wraps it stays valid.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QResizeEvent, QTransform
from PySide6.QtWidgets import QSizePolicy, QWidget

from kiosk.ui.prompt_hint import PromptHint, hint_box
from kiosk.ui.theme import ADJUST, GOOD, NEUTRAL

# The oval's height as a share of the picture height, and its width/height ratio:
# a face at the quality gate's preferred size fills it.
OVAL_HEIGHT = 0.62
OVAL_ASPECT = 0.75

Overlay = Callable[[QPainter, QTransform], None]


class GuideState:
    NONE = "none"  # no face: white
    ADJUST = "adjust"  # a face, but a quality reason fails: amber
    GOOD = "good"  # quality ok: green


class VideoView(QWidget):
    def __init__(
        self, parent: QWidget | None = None, *, show_guide: bool = True, mirror: bool = False
    ) -> None:
        super().__init__(parent)
        # The applicant's view is a mirror: turn to your left and the picture turns to
        # the screen's left, as in any mirror (unmirrored, people turned the wrong way).
        self.mirror = mirror
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self._frame: np.ndarray | None = None
        self._image: QImage | None = None
        self.show_guide = show_guide
        self.guide_state = GuideState.NONE
        self.overlay: Overlay | None = None
        self.message = ""  # drawn large over a dark picture, e.g. "camera unavailable"
        # What the liveness step asks, beside the oval: a child widget, so a test (and the
        # screenshot script) can ask it what it shows.
        self.hint_view = PromptHint(self)

    def set_frame(self, frame_bgr: np.ndarray | None) -> None:
        before = self._image_size()
        if frame_bgr is None:
            self._frame, self._image = None, None
        else:
            frame = np.ascontiguousarray(frame_bgr)
            h, w = frame.shape[:2]
            self._frame = frame
            self._image = QImage(frame.data, w, h, frame.strides[0], QImage.Format.Format_BGR888)
        if self._image_size() != before:
            self._place_hint()  # the oval moved: a first frame, or another camera size
        self.hint_view.advance()  # the hint moves with the frames
        self.update()

    def _image_size(self) -> tuple[int, int] | None:
        return None if self._image is None else (self._image.width(), self._image.height())

    def set_guide(self, state: str) -> None:
        if state != self.guide_state:
            self.guide_state = state
            self.update()

    @property
    def hint(self) -> str | None:
        """The hint shown beside the oval: an arrow ("left", "right", "up", "down") or a
        pictogram ("blink", "open_mouth", "face"); None for none."""
        return self.hint_view.kind

    def set_hint(self, hint: str | None) -> None:
        """Raises ValueError for a hint `kiosk.ui.prompt_hint.HINTS` does not name."""
        self.hint_view.set_kind(hint)
        self._place_hint()

    def set_message(self, text: str) -> None:
        if text != self.message:
            self.message = text
            self._place_hint()  # a message covers the picture, and the hint with it
            self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_hint()

    def _place_hint(self) -> None:
        """Put the hint by the oval; hide it when there is no picture to guide."""
        hint = self.hint_view
        shown = (
            hint.kind is not None
            and self.show_guide
            and self._image is not None
            and not self.message
        )
        if shown:
            hint.setGeometry(hint_box(hint.kind or "", self.guide_rect()).toAlignedRect())
        hint.setVisible(shown)

    def frame_transform(self) -> QTransform:
        """Frame pixels → widget pixels (aspect kept, letterboxed, centred)."""
        if self._image is None:
            return QTransform()
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        dx, dy = (self.width() - iw * scale) / 2, (self.height() - ih * scale) / 2
        if self.mirror:
            return QTransform(-scale, 0, 0, scale, dx + iw * scale, dy)
        return QTransform(scale, 0, 0, scale, dx, dy)

    def guide_rect(self) -> QRectF:
        """The oval, in widget coordinates, centred on the picture."""
        t = self.frame_transform()
        picture = (
            t.mapRect(QRectF(0, 0, self._image.width(), self._image.height()))
            if self._image is not None
            else QRectF(self.rect())
        )
        h = picture.height() * OVAL_HEIGHT
        w = h * OVAL_ASPECT
        c = picture.center()
        return QRectF(c.x() - w / 2, c.y() - h / 2, w, h)

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        if self._image is not None:
            t = self.frame_transform()
            p.setTransform(t)
            p.drawImage(0, 0, self._image)
            if self.overlay is not None:
                self.overlay(p, t)
            p.resetTransform()
        if self.show_guide and self._image is not None:
            colour = {GuideState.GOOD: GOOD, GuideState.ADJUST: ADJUST}.get(
                self.guide_state, NEUTRAL
            )
            p.setPen(QPen(QColor(colour), 8))
            p.drawEllipse(self.guide_rect())
        if self.message:
            p.fillRect(self.rect(), QColor(0, 0, 0, 170))
            font = p.font()
            font.setPixelSize(max(24, self.height() // 12))
            font.setBold(True)
            p.setFont(font)
            p.setPen(QColor(ADJUST))
            p.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message
            )
        p.end()
