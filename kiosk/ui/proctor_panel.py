"""The proctor's panel: sign in with ID + PIN, then open/close the session, see who has
checked in, unlock the door, override a refusal, and see what still waits to sync.

Every action is a call into the core (`CheckinFlow`, `DoorLock`), which checks the
role and writes the signed record; a `KioskError` it raises is shown in words here. The
panel signs the proctor out whenever it is hidden, so a walk-away leaves nothing open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.app.door_status import CentreState, applicant_status, overridable_refusals
from kiosk.checkin.flow import CheckinFlow
from kiosk.checkin.proctor import OverrideReason, OverrideRequest, ProctorAccount, ProctorDirectory
from kiosk.errors import KioskError, ProctorAuthError, ProctorLockedOut
from kiosk.ui.i18n import Translator

log = logging.getLogger(__name__)


class ProctorPanel(QWidget):
    closed = Signal()  # back to the applicant screen
    exit_requested = Signal()  # a signed-in proctor asked to leave the kiosk

    def __init__(
        self,
        tr: Translator,
        flow: CheckinFlow,
        directory: ProctorDirectory,
        *,
        centre_state: CentreState = lambda: "not_configured",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("proctor_panel")
        self.tr_ = tr
        self.flow = flow
        self.directory = directory
        self.centre_state = centre_state
        self.account: ProctorAccount | None = None

        # --- sign-in page
        self.login_title = QLabel(objectName="title", alignment=Qt.AlignmentFlag.AlignCenter)
        self.id_edit = QLineEdit(objectName="proctor_id")
        self.pin_edit = QLineEdit(objectName="proctor_pin", echoMode=QLineEdit.EchoMode.Password)
        self.login_btn = QPushButton(objectName="proctor_login", clicked=self.sign_in)
        self.pin_edit.returnPressed.connect(self.sign_in)
        self.login_cancel = QPushButton(clicked=self._close)
        self.login_error = QLabel(objectName="prompt", wordWrap=True)
        self.id_label, self.pin_label = QLabel(), QLabel()
        form = QFormLayout()
        form.addRow(self.id_label, self.id_edit)
        form.addRow(self.pin_label, self.pin_edit)
        login_buttons = QHBoxLayout()
        login_buttons.addWidget(self.login_cancel)
        login_buttons.addWidget(self.login_btn)
        login = QWidget()
        ll = QVBoxLayout(login)
        ll.addStretch(1)
        ll.addWidget(self.login_title)
        ll.addLayout(form)
        ll.addWidget(self.login_error)
        ll.addLayout(login_buttons)
        ll.addStretch(1)

        # --- signed-in page
        self.who = QLabel()
        self.sign_out_btn = QPushButton(clicked=self.sign_out)
        self.back_btn = QPushButton(objectName="proctor_back", clicked=self._close)
        self.exit_btn = QPushButton(
            objectName="proctor_exit", clicked=lambda: self.exit_requested.emit()
        )
        header = QHBoxLayout()
        header.addWidget(self.who, 1)
        for b in (self.back_btn, self.sign_out_btn, self.exit_btn):
            header.addWidget(b)

        self.session_label = QLabel(objectName="detail")
        self.session_state = QLabel()
        self.open_btn = QPushButton(objectName="session_open", clicked=self._open_session)
        self.close_btn = QPushButton(objectName="session_close", clicked=self._close_session)
        self.cancel_btn = QPushButton(clicked=self._cancel_checkin)
        self.unlock_note = QLineEdit(objectName="unlock_note")
        self.unlock_btn = QPushButton(objectName="unlock_door", clicked=self._unlock)
        session_box = QGroupBox()
        self.session_box = session_box
        sl = QVBoxLayout(session_box)
        sl.addWidget(self.session_label)
        sl.addWidget(self.session_state)
        # Two rows, not one: three long (translated) buttons side by side made this
        # column so wide that the applicants table beside it had to cut names.
        row = QHBoxLayout()
        for b in (self.open_btn, self.close_btn):
            row.addWidget(b)
        sl.addLayout(row)
        sl.addWidget(self.cancel_btn)
        door = QHBoxLayout()
        door.addWidget(self.unlock_note, 1)
        door.addWidget(self.unlock_btn)
        sl.addLayout(door)
        self.pending_label = QLabel(objectName="pending_sync")
        self.centre_label = QLabel(objectName="centre_state")
        sl.addWidget(self.pending_label)
        sl.addWidget(self.centre_label)
        for label in (
            self.session_label,
            self.session_state,
            self.pending_label,
            self.centre_label,
        ):
            label.setWordWrap(True)  # long translations wrap instead of widening the column

        self.table = QTableWidget(0, 4, objectName="applicants")
        self.table.verticalHeader().setVisible(False)
        header_view = self.table.horizontalHeader()
        header_view.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header_view.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.applicants_box = QGroupBox()
        QVBoxLayout(self.applicants_box).addWidget(self.table)

        self.override_box = QGroupBox()
        self.refusal_combo = QComboBox(objectName="override_refusal")
        self.reason_combo = QComboBox(objectName="override_reason")
        for reason in OverrideReason:
            self.reason_combo.addItem("", reason)
        # The closed combo may be narrower than its longest reason (the open list shows
        # it whole), so the form does not squeeze the applicants table.
        for combo in (self.refusal_combo, self.reason_combo):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(12)
        self.note_edit = QPlainTextEdit(objectName="override_note")
        self.note_edit.setFixedHeight(90)
        self.override_btn = QPushButton(objectName="override_submit", clicked=self._override)
        self.reason_label, self.note_label = QLabel(), QLabel()
        of = QFormLayout(self.override_box)
        of.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        of.addRow(self.refusal_combo)
        of.addRow(self.reason_label, self.reason_combo)
        of.addRow(self.note_label, self.note_edit)
        of.addRow(self.override_btn)

        self.status = QLabel(objectName="proctor_status", wordWrap=True)
        main = QWidget()
        ml = QVBoxLayout(main)
        ml.addLayout(header)
        cols = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(session_box)
        left.addWidget(self.override_box)
        # The table takes the width its names need (see `_fit_table`); the form the rest.
        cols.addLayout(left, 1)
        cols.addWidget(self.applicants_box, 0)
        ml.addLayout(cols, 1)
        ml.addWidget(self.status)

        self.pages = QStackedWidget()
        self.pages.addWidget(login)
        self.pages.addWidget(main)
        QVBoxLayout(self).addWidget(self.pages)
        tr.on_change(lambda _lang: self.retranslate())
        self.retranslate()

    # --- sign-in ---------------------------------------------------------------------
    def start(self) -> None:
        """Show the sign-in form (the app calls this when the hidden key is pressed)."""
        self.sign_out()
        self.id_edit.setFocus()

    def sign_in(self) -> bool:
        proctor_id, pin = self.id_edit.text().strip(), self.pin_edit.text()
        self.pin_edit.clear()
        try:
            self.account = self.flow.authenticate(self.directory, proctor_id, pin)
        except ProctorLockedOut:
            self.login_error.setText(self.tr_.t("proctor.locked_out"))
            return False
        except ProctorAuthError:
            log.info("proctor sign-in failed for %r", proctor_id)
            self.login_error.setText(self.tr_.t("proctor.auth_failed"))
            return False
        log.info("proctor %s signed in", self.account.proctor_id)
        self.login_error.clear()
        self.status.clear()
        self.pages.setCurrentIndex(1)
        self.retranslate()  # names the proctor in the header, then refreshes
        return True

    def sign_out(self) -> None:
        if self.account is not None:
            log.info("proctor %s signed out", self.account.proctor_id)
        self.account = None
        self.pin_edit.clear()
        self.login_error.clear()
        self.pages.setCurrentIndex(0)
        self.retranslate()

    def _close(self) -> None:
        self.sign_out()
        self.closed.emit()

    # --- actions ---------------------------------------------------------------------
    def _act(self, action: Callable[[ProctorAccount], object], done_key: str | None) -> bool:
        """Run one proctor action; show the core's refusal in words instead of raising."""
        if self.account is None:
            return False
        try:
            action(self.account)
        except KioskError as exc:
            log.info("proctor action refused: %s", exc)
            self.status.setText(self.tr_.t("proctor.not_allowed", message=str(exc)))
            self.refresh()
            return False
        self.status.setText(self.tr_.t(done_key) if done_key else "")
        self.refresh()
        return True

    def _open_session(self) -> None:
        self._act(self.flow.open_session, None)

    def _close_session(self) -> None:
        self._act(self.flow.close_session, None)

    def _cancel_checkin(self) -> None:
        self._act(lambda _acc: self.flow.cancel(), None)

    def _unlock(self) -> None:
        note = self.unlock_note.text()
        session_id = self.flow.roster.session.session_id

        def unlock(acc: ProctorAccount) -> None:
            self.flow.door_lock.unlock_manually(acc, note, session_id=session_id)

        if self._act(unlock, "proctor.door_unlocked"):
            self.unlock_note.clear()

    def _override(self) -> None:
        refusal = self.refusal_combo.currentData()
        reason = self.reason_combo.currentData()
        note = self.note_edit.toPlainText()

        def override(acc: ProctorAccount) -> None:
            if refusal is None:
                raise KioskError(self.tr_.t("proctor.no_refusal"))
            request = OverrideRequest(acc.proctor_id, reason, note, refusal.record_id)
            self.flow.override(acc, request)

        if self._act(override, "proctor.override_done"):
            self.note_edit.clear()

    # --- display ---------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read session, applicants, refusals and sync state from the core."""
        t = self.tr_.t
        flow = self.flow
        session = flow.roster.session
        self.session_label.setText(t("proctor.session", session=session.session_id, room=flow.room))
        is_open = flow.book.is_open
        self.session_state.setText(t(f"proctor.session_state.{'open' if is_open else 'closed'}"))
        self.open_btn.setEnabled(not is_open)
        self.close_btn.setEnabled(is_open)
        try:
            pending = flow.ledger.counts().get("pending", 0)
        except KioskError as exc:
            log.warning("cannot count pending records: %s", exc)
            pending = "?"
        self.pending_label.setText(t("proctor.pending_sync", count=pending))
        self.centre_label.setText(t(f"proctor.centre.{self.centre_state()}"))

        applicants = flow.roster.applicants
        self.table.setRowCount(len(applicants))
        names = {}
        for row, a in enumerate(applicants):
            names[a.applicant_id] = a.name
            status = applicant_status(flow, a.applicant_id)
            for col, text in enumerate(
                (a.name, a.seat, a.booking_code, t(f"applicant_status.{status}"))
            ):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self._fit_table()

        current = self.refusal_combo.currentData()
        self.refusal_combo.clear()
        for r in overridable_refusals(flow):
            label = t(
                "proctor.override_target",
                name=names.get(r.applicant_id or "", r.applicant_id),
                reason=self.tr_.t_opt("decision", r.reason.value),
            )
            self.refusal_combo.addItem(label, r)
            if current is not None and r.record_id == current.record_id:
                self.refusal_combo.setCurrentIndex(self.refusal_combo.count() - 1)
        if self.refusal_combo.count() == 0:
            self.refusal_combo.addItem(t("proctor.no_refusal"), None)
        self.override_btn.setEnabled(self.refusal_combo.currentData() is not None)

    def _fit_table(self) -> None:
        """Ask the layout for enough width to show every name whole.

        The Name column stretches and the others fit their contents, but a stretched
        column only gets what the others leave: with the override form beside it, names
        were cut to "Aru…". So the table's minimum width is the full need of all four
        columns (cell padding, header text, frame and a scroll bar included), and the
        layout takes the room from the form, whose texts can wrap or scroll.
        """
        table, header = self.table, self.table.horizontalHeader()
        need = sum(
            max(table.sizeHintForColumn(col), header.sectionSizeHint(col))
            for col in range(table.columnCount())
        )
        need += 2 * table.frameWidth() + table.verticalScrollBar().sizeHint().width()
        table.setMinimumWidth(need)

    def retranslate(self) -> None:
        t = self.tr_.t
        self.login_title.setText(t("proctor.login_title"))
        self.id_label.setText(t("proctor.id"))
        self.pin_label.setText(t("proctor.pin"))
        self.login_btn.setText(t("proctor.sign_in"))
        self.login_cancel.setText(t("common.cancel"))
        self.sign_out_btn.setText(t("proctor.sign_out"))
        self.back_btn.setText(t("proctor.close"))
        self.exit_btn.setText(t("proctor.exit_kiosk"))
        self.open_btn.setText(t("proctor.session_open"))
        self.close_btn.setText(t("proctor.session_close"))
        self.cancel_btn.setText(t("proctor.cancel_checkin"))
        self.unlock_btn.setText(t("proctor.unlock_door"))
        self.unlock_note.setPlaceholderText(t("proctor.unlock_note"))
        self.session_box.setTitle(t("proctor.title"))
        self.applicants_box.setTitle(t("proctor.applicants"))
        self.override_box.setTitle(t("proctor.override"))
        self.override_btn.setText(t("proctor.override"))
        self.reason_label.setText(t("proctor.override_reason"))
        self.note_label.setText(t("proctor.override_note"))
        for i in range(self.reason_combo.count()):
            self.reason_combo.setItemText(i, t(f"override_reason.{self.reason_combo.itemData(i)}"))
        self.table.setHorizontalHeaderLabels(
            [
                t("proctor.col.name"),
                t("proctor.col.seat"),
                t("proctor.col.booking"),
                t("proctor.col.status"),
            ]
        )
        self._fit_table()
        if self.account is not None:
            self.who.setText(
                t("proctor.signed_in_as", name=self.account.name, role=self.account.role.value)
            )
            self.refresh()
