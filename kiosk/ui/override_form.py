"""The override form: which refusal, why (a fixed reason code), and a note.

The note is required (see `OverrideRequest`) and the kiosk has no keyboard, so the
common notes are buttons that add a sentence in the proctor's language
(`kiosk.ui.note_chips`); a USB keyboard can still type anything. Entries name the
person, the reason and the reference code the applicant's screen shows, so the proctor
picks the case in front of them.

Beside the form is the chosen refusal's booking photo from the signed roster: the proctor
compares it with the person at the door before overriding. It is decoded in memory from
the roster (the vault keeps it encrypted on disk) and never written anywhere.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from kiosk.checkin.next_step import reference_code
from kiosk.checkin.overrides import OverrideReason
from kiosk.checkin.session_book import Refusal
from kiosk.ui.i18n import Translator
from kiosk.ui.note_chips import NoteChips

QUICK_NOTES = ("id_checked", "photo_old", "head_covering", "glasses_removed", "camera_light")
# Room for the booking photo: a 320x400 roster photo at 3/8 scale, big enough to compare a
# face, small enough that the three proctor columns still fit a 1024x600 panel.
PHOTO_BOX = QSize(120, 150)


class OverrideForm(QGroupBox):
    submit_requested = Signal()

    def __init__(self, tr: Translator, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.refusal_combo = QComboBox(objectName="override_refusal")
        self.reason_combo = QComboBox(objectName="override_reason")
        for reason in OverrideReason:
            self.reason_combo.addItem("", reason)
        for combo in (self.refusal_combo, self.reason_combo):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(12)
        self.note_edit = QPlainTextEdit(objectName="override_note")
        self.note_edit.setFixedHeight(64)
        self.chips = NoteChips(tr, "override_note", QUICK_NOTES, self.note_edit)
        self.quick, self.clear_note_btn = self.chips.buttons, self.chips.clear_btn
        self.submit_btn = QPushButton(
            objectName="override_submit", clicked=lambda: self.submit_requested.emit()
        )
        self.reason_label = self._wrapping_label()
        self.note_label = self._wrapping_label()
        self.photo_label = QLabel(objectName="booking_photo")
        self.photo_label.setFixedSize(PHOTO_BOX)
        self.photo_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.photo_label.setWordWrap(True)
        self._photos: dict[str, bytes | None] = {}
        self.refusal_combo.currentIndexChanged.connect(lambda _i: self._show_photo())
        outer = QHBoxLayout(self)
        outer.addWidget(self.photo_label, 0, Qt.AlignmentFlag.AlignTop)
        form = QFormLayout()
        outer.addLayout(form, 1)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        form.addRow(self.refusal_combo)
        form.addRow(self.reason_label, self.reason_combo)
        form.addRow(self.note_label, self.note_edit)
        form.addRow(self.chips)
        form.addRow(self.submit_btn)
        tr.on_change(lambda _lang: self.retranslate())
        self.retranslate()

    @staticmethod
    def _wrapping_label() -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        return label

    def set_refusals(
        self,
        refusals: list[Refusal],
        names: dict[str, str],
        photos: dict[str, bytes | None] | None = None,
    ) -> None:
        """Fill the refusal list, keeping the selection when it is still there; `photos`
        are the booking photos (JPEG bytes) by applicant id."""
        t = self.tr_.t
        self._photos = dict(photos or {})
        current = self.refusal_combo.currentData()
        self.refusal_combo.clear()
        for r in refusals:
            label = t(
                "proctor.override_target",
                name=names.get(r.applicant_id or "", r.applicant_id),
                reason=self.tr_.t_opt("refusal", r.reason.value),
                ref=reference_code(r.record_id),
            )
            self.refusal_combo.addItem(label, r)
            if current is not None and r.record_id == current.record_id:
                self.refusal_combo.setCurrentIndex(self.refusal_combo.count() - 1)
        if self.refusal_combo.count() == 0:
            self.refusal_combo.addItem(t("proctor.no_refusal"), None)
        self.submit_btn.setEnabled(self.refusal_combo.currentData() is not None)
        self._show_photo()

    def _show_photo(self) -> None:
        """The chosen refusal's booking photo, or a sentence saying there is none."""
        refusal = self.refusal_combo.currentData()
        jpeg = self._photos.get(refusal.applicant_id or "") if refusal is not None else None
        pixmap = QPixmap()
        if jpeg and pixmap.loadFromData(jpeg, "JPEG"):
            self.photo_label.setPixmap(
                pixmap.scaled(
                    PHOTO_BOX,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        else:  # no photo booked, or none chosen: say so rather than leave a blank box
            self.photo_label.setPixmap(QPixmap())
            self.photo_label.setText(self.tr_.t("proctor.no_photo"))

    def select_reference(self, reference: str) -> None:
        """Pre-select the refusal the applicant's screen shows (by its reference code)."""
        for i in range(self.refusal_combo.count()):
            r = self.refusal_combo.itemData(i)
            if r is not None and reference_code(r.record_id) == reference:
                self.refusal_combo.setCurrentIndex(i)

    def retranslate(self) -> None:
        t = self.tr_.t
        self.setTitle(t("proctor.override"))
        self.submit_btn.setText(t("proctor.override_submit"))
        self.reason_label.setText(t("proctor.override_reason"))
        self.note_label.setText(t("proctor.override_note"))
        if self.photo_label.pixmap().isNull():
            self.photo_label.setText(t("proctor.no_photo"))
        for i in range(self.reason_combo.count()):
            self.reason_combo.setItemText(i, t(f"override_reason.{self.reason_combo.itemData(i)}"))
