"""The picture beside the face guide that shows what a liveness step asks for: an arrow
for each head movement, an eye that closes for "blink", a face whose mouth opens for
"open mouth", and a face looking straight ahead for "look at the camera" / "hold still".

Why a picture as well as the sentence: applicants read Kazakh or Russian, some cannot
read well, and the step has a few seconds. Painted with QPainter, like the result icons,
so no font or file can be missing on the door.

The animation follows the shown camera frames (`PromptHint.advance`), not a timer: the
picture moves while the live view moves, and a test steps it frame by frame.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from kiosk.ui.theme import ADJUST, BACKGROUND
from kiosk.vision.liveness_prompts import Prompt

ARROWS = ("left", "right", "up", "down")
PICTOGRAMS = ("blink", "open_mouth", "face")
HINTS = (*ARROWS, *PICTOGRAMS)

# Every prompt the challenge can send has a picture (tests check the list is complete).
# The preview is mirrored, so the applicant's left is the screen's left.
HINT_FOR_PROMPT: dict[str, str] = {
    Prompt.TURN_LEFT: "left",
    Prompt.TURN_RIGHT: "right",
    Prompt.LOOK_UP: "up",
    Prompt.LOOK_DOWN: "down",
    Prompt.BLINK: "blink",
    Prompt.OPEN_MOUTH: "open_mouth",
    Prompt.FACE_CAMERA: "face",
    Prompt.HOLD_STILL: "face",
}

# Amber ink, as the arrows and the prompt text; the pictograms lie on a near-black disc
# because their thin details (lids, lashes, a mouth) would vanish on a busy camera picture.
INK = ADJUST
BACKDROP = BACKGROUND

# Frames per animation cycle: 1-2 s at the camera's 15-30 fps; the eye blinks twice in it.
CYCLE = 30
BLINK_FRAMES = CYCLE // 2
# The arrow's size (head width) as a share of the oval's height, and the hint's square box
# in arrow sizes: the arrow (1.2), its outward nudge (0.25) and the pen's square cap.
ARROW_SIZE = 0.22
BOX_IN_ARROWS = 1.6


def hint_pose(kind: str, phase: int) -> str:
    """What the picture shows at animation `phase` (0..CYCLE-1). The eye blinks twice a
    cycle, shut on frames 4-9 of every 15: soon after the step starts, because people
    blink at once and the step may be over in half a second (7 frames in the demo). The
    mouth is open but for the last third of the cycle, so a step opens on the asked-for
    face. Arrows and the plain face do not change shape (the arrows only nudge)."""
    if kind == "blink":
        return "eye_closed" if 4 <= phase % BLINK_FRAMES < 10 else "eye_open"
    if kind == "open_mouth":
        return "mouth_closed" if phase >= 2 * CYCLE // 3 else "mouth_open"
    return kind


def hint_box(kind: str, oval: QRectF) -> QRectF:
    """Where the hint goes, in the video's coordinates: an arrow on the side to move to,
    overlapping the oval a little as before; a pictogram just right of the oval, at the
    height of its centre, where a turned head does not cover it."""
    side = oval.height() * ARROW_SIZE * BOX_IN_ARROWS
    size = side / BOX_IN_ARROWS
    c = oval.center()
    if kind == "left":
        return QRectF(oval.left() - 0.55 * size, c.y() - side / 2, side, side)
    if kind == "right":
        return QRectF(oval.right() + 0.55 * size - side, c.y() - side / 2, side, side)
    if kind == "up":
        return QRectF(c.x() - side / 2, oval.top() - 0.4 * size, side, side)
    if kind == "down":
        return QRectF(c.x() - side / 2, oval.bottom() + 0.4 * size - side, side, side)
    return QRectF(oval.right() + 0.1 * side, c.y() - side / 2, side, side)


class PromptHint(QWidget):
    """One hint over the live view; the view places it (`hint_box`) and shows it only
    over a camera picture. Touches go through to the view below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.kind: str | None = None
        self.phase = 0
        self.hide()

    @property
    def pose(self) -> str | None:
        return None if self.kind is None else hint_pose(self.kind, self.phase)

    def set_kind(self, kind: str | None) -> None:
        if kind is not None and kind not in HINTS:
            raise ValueError(f"unknown hint {kind!r}")
        if kind != self.kind:
            self.kind, self.phase = kind, 0  # a new step starts with an open eye
            self.update()

    def advance(self) -> None:
        """One camera frame later."""
        self.phase = (self.phase + 1) % CYCLE
        if self.kind is not None:
            self.update()

    def paintEvent(self, _event: object) -> None:
        if self.kind is None:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = float(min(self.width(), self.height()))
        if self.kind in ARROWS:
            self._paint_arrow(p, side)
        else:
            self._paint_pictogram(p, side)
        p.end()

    def _paint_arrow(self, p: QPainter, side: float) -> None:
        """A thick arrow pointing the way to move, nudging outwards with the frames."""
        size = side / BOX_IN_ARROWS
        shift = size * 0.25 * abs(CYCLE // 2 - self.phase) / (CYCLE // 2)
        # d points from the box's outer edge back towards the oval; `outer` is that edge.
        d, outer = {
            "left": (QPointF(1, 0), QPointF(0, side / 2)),
            "right": (QPointF(-1, 0), QPointF(side, side / 2)),
            "up": (QPointF(0, 1), QPointF(side / 2, 0)),
            "down": (QPointF(0, -1), QPointF(side / 2, side)),
        }[self.kind or "left"]
        tip = outer + d * (size * 0.25 - shift)
        n = QPointF(-d.y(), d.x())
        head = QPolygonF(
            [tip, tip + d * size * 0.6 + n * size * 0.5, tip + d * size * 0.6 - n * size * 0.5]
        )
        p.setPen(QPen(QColor(INK), size * 0.22))
        p.drawLine(tip + d * size * 0.5, tip + d * size * 1.2)
        p.setBrush(QColor(INK))
        p.setPen(Qt.PenStyle.NoPen)
        p.drawPolygon(head)

    def _paint_pictogram(self, p: QPainter, side: float) -> None:
        ox, oy = (self.width() - side) / 2, (self.height() - side) / 2

        def at(x: float, y: float) -> QPointF:
            return QPointF(ox + x * side, oy + y * side)

        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(BACKDROP))
        p.drawEllipse(QRectF(ox, oy, side, side))
        pen = QPen(QColor(INK), max(3.0, side * 0.07))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        pose = self.pose
        if pose == "eye_open":
            eye = QPainterPath(at(0.14, 0.5))
            eye.quadTo(at(0.5, 0.14), at(0.86, 0.5))
            eye.quadTo(at(0.5, 0.86), at(0.14, 0.5))
            p.drawPath(eye)
            p.setBrush(QColor(INK))
            p.drawEllipse(at(0.5, 0.5), side * 0.11, side * 0.11)
        elif pose == "eye_closed":
            # The shut lid: a curve bowed downwards, lashes hanging from it.
            lid = QPainterPath(at(0.14, 0.46))
            lid.quadTo(at(0.5, 0.76), at(0.86, 0.46))
            p.drawPath(lid)
            for x, y, dx in ((0.3, 0.56, -0.05), (0.5, 0.61, 0.0), (0.7, 0.56, 0.05)):
                p.drawLine(at(x, y), at(x + dx, y + 0.13))
        else:  # a face from the front: outline, two eyes, and the mouth
            p.drawEllipse(QRectF(at(0.24, 0.12), at(0.76, 0.88)))
            p.setBrush(QColor(INK))
            for x in (0.4, 0.6):
                p.drawEllipse(at(x, 0.4), side * 0.05, side * 0.05)
            if pose == "mouth_open":
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawEllipse(at(0.5, 0.66), side * 0.08, side * 0.11)
            else:
                p.drawLine(at(0.42, 0.67), at(0.58, 0.67))
