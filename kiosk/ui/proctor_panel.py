"""The proctor's panel: sign in by touch (number, then PIN), then open/close the session,
see who has checked in, unlock the door, override a refusal, release a held screen, and
see what still waits to sync.

Every action is a call into the core (`CheckinFlow`, `DoorLock`), which checks the
role and writes the signed record; a `KioskError` it raises is shown in words here. The
panel has its own translator, so a proctor reads it in their language whatever the last
applicant chose. It signs the proctor out when hidden and after `IDLE_SIGN_OUT_S` without
a touch (the app's timer calls `check_idle`), so a walk-away leaves nothing open. Closing
the session and closing the kiosk program ask first; signing out does not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.app.door_status import CentreState, applicant_status, overridable_refusals
from kiosk.checkin.flow import CheckinFlow
from kiosk.checkin.overrides import OverrideRequest
from kiosk.checkin.proctor import ProctorAccount, ProctorDirectory
from kiosk.errors import KioskError, ProctorAuthError, ProctorLockedOut
from kiosk.ui.confirm import ConfirmPage
from kiosk.ui.i18n import LANGUAGES, NATIVE_NAMES, Translator
from kiosk.ui.override_form import OverrideForm
from kiosk.ui.proctor_login import ProctorLogin
from kiosk.ui.refusal_words import why_key
from kiosk.ui.unlock_form import UnlockForm

log = logging.getLogger(__name__)

IDLE_SIGN_OUT_S = 120.0
PAGE_LOGIN, PAGE_MAIN, PAGE_CONFIRM = 0, 1, 2


class ProctorPanel(QWidget):
    closed = Signal()  # back to the applicant screen
    exit_requested = Signal()  # a signed-in proctor confirmed closing the kiosk program

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

        self.login = ProctorLogin(tr)
        self.login.credentials.connect(self.sign_in)
        self.login.cancelled.connect(self._close)

        # --- header: who, language, then the three ways out, the risky one apart
        self.who = QLabel(objectName="detail")
        self.lang_buttons: dict[str, QPushButton] = {}
        header = QHBoxLayout()
        header.addWidget(self.who, 1)
        for lang in LANGUAGES:
            b = QPushButton(NATIVE_NAMES[lang], checkable=True)
            b.setProperty("lang", True)
            b.clicked.connect(lambda _=False, lang=lang: self._choose_language(lang))
            self.lang_buttons[lang] = b
            header.addWidget(b)
        self.back_btn = QPushButton(objectName="proctor_back", clicked=self._close)
        self.sign_out_btn = QPushButton(objectName="proctor_sign_out", clicked=self.sign_out)
        self.sign_out_btn.setProperty("quiet", True)
        self.exit_btn = QPushButton(objectName="proctor_exit", clicked=self._ask_exit)
        self.exit_btn.setProperty("danger", True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_btn)
        buttons.addWidget(self.sign_out_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.exit_btn)

        # --- a result held on the applicant's screen
        self.held_box = QGroupBox(objectName="held")
        self.held_label = QLabel(objectName="held_label", wordWrap=True)
        self.release_btn = QPushButton(objectName="release_screen", clicked=self._release)
        held = QHBoxLayout(self.held_box)
        held.addWidget(self.held_label, 1)
        held.addWidget(self.release_btn)

        # --- session, door, sync
        self.session_box = QGroupBox()
        self.session_label = QLabel(wordWrap=True)
        self.session_state = QLabel(wordWrap=True)
        self.open_btn = QPushButton(objectName="session_open", clicked=self._open_session)
        self.close_btn = QPushButton(objectName="session_close", clicked=self._ask_close_session)
        self.cancel_btn = QPushButton(clicked=self._cancel_checkin)
        self.unlock_form = UnlockForm(tr)
        self.unlock_form.submit_requested.connect(self._unlock)
        # Old names kept for the callers and tests that use them.
        self.unlock_note, self.unlock_btn = self.unlock_form.note_edit, self.unlock_form.submit_btn
        self.pending_label = QLabel(objectName="pending_sync", wordWrap=True)
        self.centre_label = QLabel(objectName="centre_state", wordWrap=True)
        sl = QVBoxLayout(self.session_box)
        sl.addWidget(self.session_label)
        sl.addWidget(self.session_state)
        row = QHBoxLayout()
        row.addWidget(self.open_btn)
        row.addWidget(self.close_btn)
        sl.addLayout(row)
        sl.addWidget(self.cancel_btn)
        sl.addWidget(self.unlock_form)
        sl.addWidget(self.pending_label)
        sl.addWidget(self.centre_label)

        self.table = QTableWidget(0, 4, objectName="applicants")
        self.table.verticalHeader().setVisible(False)
        header_view = self.table.horizontalHeader()
        header_view.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header_view.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.applicants_box = QGroupBox()
        QVBoxLayout(self.applicants_box).addWidget(self.table)

        self.override = OverrideForm(tr)
        self.override.submit_requested.connect(self._override)
        # Old names kept for the callers and tests that use them.
        self.refusal_combo = self.override.refusal_combo
        self.reason_combo = self.override.reason_combo
        self.note_edit = self.override.note_edit
        self.override_btn = self.override.submit_btn

        self.status = QLabel(objectName="proctor_status", wordWrap=True)
        main = QWidget()
        ml = QVBoxLayout(main)
        ml.addLayout(header)
        ml.addLayout(buttons)
        ml.addWidget(self.held_box)
        # Three columns on a wide screen; stacked on a portrait one (`set_narrow`). They
        # scroll rather than squeeze: on a 1024x600 panel nothing may be cut off.
        body = QWidget()
        self.columns = QBoxLayout(QBoxLayout.Direction.LeftToRight, body)
        self.columns.addWidget(self.session_box, 1)
        self.columns.addWidget(self.override, 1)
        # The table takes the width its names need (see `_fit_table`); the forms the rest.
        self.columns.addWidget(self.applicants_box, 0)
        self.scroll = QScrollArea(widgetResizable=True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(body)
        ml.addWidget(self.scroll, 1)
        ml.addWidget(self.status)

        self.confirm = ConfirmPage()
        self.pages = QStackedWidget()
        self.pages.addWidget(self.login)
        self.pages.addWidget(main)
        self.pages.addWidget(self.confirm)
        QVBoxLayout(self).addWidget(self.pages)
        tr.on_change(lambda _lang: self.retranslate())
        self.retranslate()

    # --- sign-in ---------------------------------------------------------------------
    def start(self) -> None:
        """Show the sign-in keypad (the app calls this on the long press or hidden key)."""
        self.sign_out()

    def sign_in(self, proctor_id: str, pin: str) -> bool:
        try:
            self.account = self.flow.authenticate(self.directory, proctor_id, pin)
        except ProctorLockedOut:
            self.login.ask_pin_again(self.tr_.t("proctor.locked_out"))
            return False
        except ProctorAuthError:
            log.info("proctor sign-in failed for %r", proctor_id)
            self.login.ask_pin_again(self.tr_.t("proctor.auth_failed"))
            return False
        log.info("proctor %s signed in", self.account.proctor_id)
        self.status.clear()
        self.pages.setCurrentIndex(PAGE_MAIN)
        self.retranslate()  # names the proctor in the header, then refreshes
        return True

    def sign_out(self) -> None:
        if self.account is not None:
            log.info("proctor %s signed out", self.account.proctor_id)
        self.account = None
        self.login.start()
        self.pages.setCurrentIndex(PAGE_LOGIN)
        self.retranslate()

    def _close(self) -> None:
        self.sign_out()
        self.closed.emit()

    def check_idle(self, idle_s: float) -> bool:
        """Sign out and leave after `IDLE_SIGN_OUT_S` without a touch; True if it did."""
        if self.account is None or idle_s < IDLE_SIGN_OUT_S:
            return False
        log.info("proctor %s signed out after %.0f s idle", self.account.proctor_id, idle_s)
        self._close()
        return True

    # --- confirmations ---------------------------------------------------------------
    def _ask(self, key: str, on_yes: Callable[[], None]) -> None:
        t = self.tr_.t

        def yes() -> None:
            self.pages.setCurrentIndex(PAGE_MAIN)
            on_yes()

        self.confirm.ask(
            t(f"{key}.question"),
            t(f"{key}.detail"),
            t(f"{key}.yes"),
            t("confirm.no"),
            yes,
            lambda: self.pages.setCurrentIndex(PAGE_MAIN),
        )
        self.pages.setCurrentIndex(PAGE_CONFIRM)

    def _ask_exit(self) -> None:
        self._ask("confirm.exit", self.exit_requested.emit)

    def _ask_close_session(self) -> None:
        self._ask("confirm.close_session", lambda: self._act(self.flow.close_session, None))

    # --- actions ---------------------------------------------------------------------
    def _act(self, action: Callable[[ProctorAccount], object], done_key: str | None) -> bool:
        """Run one proctor action; show the core's refusal in words instead of raising."""
        if self.account is None:
            return False
        try:
            action(self.account)
        except KioskError as exc:
            log.info("proctor action refused: %s", exc)
            self.status.setText(self.tr_.t("proctor.not_allowed", message=self._why(exc)))
            self.refresh()
            return False
        self.status.setText(self.tr_.t(done_key) if done_key else "")
        self.refresh()
        return True

    def _why(self, exc: KioskError) -> str:
        return self.tr_.t(why_key(exc))

    def _open_session(self) -> None:
        self._act(self.flow.open_session, None)

    def _cancel_checkin(self) -> None:
        self._act(lambda _acc: self.flow.cancel(), None)

    def _release(self) -> None:
        self._act(lambda _acc: self.flow.acknowledge(), "proctor.released")

    def _unlock(self) -> None:
        note = self.unlock_form.note()
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
                raise KioskError("proctor.why.no_refusal")
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
        names, photos = {}, {}
        for row, a in enumerate(applicants):
            names[a.applicant_id], photos[a.applicant_id] = a.name, a.photo
            status = applicant_status(flow, a.applicant_id)
            for col, text in enumerate(
                (a.name, a.seat, a.booking_code, t(f"applicant_status.{status}"))
            ):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self._fit_table()
        self.override.set_refusals(overridable_refusals(flow), names, photos)

        state = flow.state
        self.held_box.setVisible(state.hold)
        if state.hold and state.decision is not None:
            who = state.applicant.name if state.applicant else t("proctor.unknown_person")
            reason = self.tr_.t_opt("refusal", state.decision.reason.value)
            self.held_label.setText(t("proctor.held", ref=state.reference, name=who, reason=reason))
            self.override.select_reference(state.reference)

    def _choose_language(self, language: str) -> None:
        self.tr_.set_language(language)
        for lang, b in self.lang_buttons.items():  # a tap on the current one unchecks it
            b.setChecked(lang == self.tr_.language)

    def retranslate(self) -> None:
        t = self.tr_.t
        for lang, b in self.lang_buttons.items():
            b.setChecked(lang == self.tr_.language)
        self.sign_out_btn.setText(t("proctor.sign_out"))
        self.back_btn.setText(t("proctor.close"))
        self.exit_btn.setText(t("proctor.exit_kiosk"))
        self.held_box.setTitle(t("proctor.held_title"))
        self.release_btn.setText(t("proctor.release"))
        self.open_btn.setText(t("proctor.session_open"))
        self.close_btn.setText(t("proctor.session_close"))
        self.cancel_btn.setText(t("proctor.cancel_checkin"))
        self.session_box.setTitle(t("proctor.title"))
        self.applicants_box.setTitle(t("proctor.applicants"))
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
            role = t(f"proctor.role.{self.account.role.value}")
            self.who.setText(t("proctor.signed_in_as", name=self.account.name, role=role))
            self.refresh()

    def set_narrow(self, narrow: bool) -> None:
        """Portrait or small screens: the three columns stack."""
        self.columns.setDirection(
            QBoxLayout.Direction.TopToBottom if narrow else QBoxLayout.Direction.LeftToRight
        )

    def _fit_table(self) -> None:
        """Ask the layout for enough width to show every name whole: a stretched Name
        column only gets what the others leave, and names were cut to "Aru…". So the
        table's minimum width is the full need of all four columns (cell padding, header
        text, frame and a scroll bar included)."""
        table, header = self.table, self.table.horizontalHeader()
        need = sum(
            max(table.sizeHintForColumn(col), header.sectionSizeHint(col))
            for col in range(table.columnCount())
        )
        need += 2 * table.frameWidth() + table.verticalScrollBar().sizeHint().width()
        table.setMinimumWidth(need)
