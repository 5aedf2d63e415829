"""Pictograms for the result screen (check, cross, hand, retry), painted rather than taken
from a font: a font without the glyph would show a box, and the icon is what tells the
decision apart for a person who cannot tell the colours apart."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

ICONS = ("check", "cross", "hand", "retry", "none")


class ResultIcon(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = "none"
        self.colour = QColor("#ffffff")
        self.setMinimumSize(72, 72)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:
        return QSize(120, 120)

    def set_icon(self, kind: str, colour: str) -> None:
        if kind not in ICONS:
            raise ValueError(f"unknown icon {kind!r}")
        self.kind, self.colour = kind, QColor(colour)
        self.update()

    def paintEvent(self, _event: object) -> None:
        if self.kind == "none":
            return
        side = min(self.width(), self.height())
        box = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(self.colour, max(4.0, side / 10))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        inner = box.adjusted(side * 0.08, side * 0.08, -side * 0.08, -side * 0.08)
        p.drawEllipse(inner)

        def at(x: float, y: float) -> QPointF:
            return QPointF(box.left() + x * side, box.top() + y * side)

        if self.kind == "check":
            path = QPainterPath(at(0.28, 0.52))
            path.lineTo(at(0.44, 0.68))
            path.lineTo(at(0.72, 0.36))
            p.drawPath(path)
        elif self.kind == "cross":
            p.drawLine(at(0.34, 0.34), at(0.66, 0.66))
            p.drawLine(at(0.66, 0.34), at(0.34, 0.66))
        elif self.kind == "hand":
            # A raised palm: four fingers and a thumb over a palm, "stop and wait".
            p.setBrush(self.colour)
            p.setPen(Qt.PenStyle.NoPen)
            w = side * 0.07
            for i, top in enumerate((0.30, 0.25, 0.27, 0.33)):
                x = 0.33 + i * 0.095
                p.drawRoundedRect(QRectF(at(x, top), at(x + 0.07, 0.55)), w / 2, w / 2)
            p.drawRoundedRect(QRectF(at(0.33, 0.48), at(0.68, 0.74)), w, w)
            thumb = QPainterPath(at(0.30, 0.62))
            thumb.lineTo(at(0.22, 0.48))
            thumb.lineTo(at(0.28, 0.45))
            thumb.lineTo(at(0.36, 0.55))
            p.drawPath(thumb)
        elif self.kind == "retry":
            arc = QRectF(at(0.30, 0.30), at(0.70, 0.70))
            p.drawArc(arc, 60 * 16, 280 * 16)
            head = QPainterPath(at(0.60, 0.22))
            head.lineTo(at(0.62, 0.36))
            head.lineTo(at(0.48, 0.34))
            p.drawPath(head)
        p.end()
