"""What the applicant sees: a mirrored live view with the face guide and a picture for each
liveness step (an arrow, an eye that blinks, an opening mouth), prompts with a countdown,
the keypad, and result screens readable from a queue.

Pure presentation of `FlowState`: every text comes from the flow's reason, prompt and
next-step codes through the translator; the screen sends back only a claim (booking code
or IIN typed on the keypad), a cancel, a try-again, a call for staff, or the proctor's
long press. Which result to show follows the decision and next step the flow already
made, never a score. The result page's texts live in `kiosk.ui.result_texts`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.camera import CameraStatus
from kiosk.camera.lens import LensView
from kiosk.checkin.flow import FlowState, StateName
from kiosk.checkin.states import NextStep
from kiosk.ui.i18n import LANGUAGES, NATIVE_NAMES, Translator
from kiosk.ui.keypad import Keypad
from kiosk.ui.long_press import LongPressCorner
from kiosk.ui.prompt_hint import HINT_FOR_PROMPT
from kiosk.ui.result_icon import ResultIcon
from kiosk.ui.result_texts import ResultTexts, result_texts
from kiosk.ui.sounds import SoundCues
from kiosk.ui.theme import TONE_TEXT
from kiosk.ui.video_view import GuideState, VideoView

log = logging.getLogger(__name__)

# The other language shown under the idle greeting: Kazakh and Russian side by side.
PAIRED = {"kk": "ru", "ru": "kk"}


def _label(object_name: str, *, wrap: bool = True) -> QLabel:
    label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
    label.setObjectName(object_name)
    label.setWordWrap(wrap)
    return label


class ApplicantScreen(QWidget):
    claim_requested = Signal(str, str)  # kind ("booking_code" | "iin"), value
    cancel_requested = Signal()
    retry_requested = Signal()
    staff_requested = Signal()
    proctor_requested = Signal()  # the hidden corner was held down

    PAGE_LIVE, PAGE_KEYPAD, PAGE_RESULT, PAGE_HELP = 0, 1, 2, 3

    def __init__(
        self,
        tr: Translator,
        *,
        room: str,
        clock: Callable[[], float],
        demo: bool = False,
        sounds: SoundCues | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.room = room
        self.clock = clock  # the flow's clock, so the countdown matches its deadlines
        self.sounds = sounds or SoundCues(enabled=False)
        self.state = FlowState(StateName.IDLE)
        self.camera_status = CameraStatus.STARTING
        self.lens = LensView.OK
        self.texts: ResultTexts | None = None

        # top bar: the proctor's corner, demo banner, call staff, language switch
        self.corner = LongPressCorner()
        self.corner.activated.connect(self.proctor_requested.emit)
        self.banner = _label("banner")
        self.banner.setVisible(demo)
        self.staff_btn = QPushButton(objectName="call_staff", clicked=self._call_staff)
        self.staff_btn.setProperty("quiet", True)
        self.lang_buttons: dict[str, QPushButton] = {}
        top = QHBoxLayout()
        top.addWidget(self.corner)
        top.addWidget(self.banner, 1)
        top.addWidget(self.staff_btn)
        for lang in LANGUAGES:
            b = QPushButton(NATIVE_NAMES[lang], checkable=True)
            b.setProperty("lang", True)
            b.setObjectName(f"lang_{lang}")
            b.clicked.connect(lambda _=False, lang=lang: self._choose_language(lang))
            self.lang_buttons[lang] = b
            top.addWidget(b)

        # live page: camera and words side by side (landscape) or stacked (portrait)
        self.video = VideoView(mirror=True)
        self.title = _label("title")
        self.title_alt = _label("title_alt")
        self.prompt = _label("prompt")
        self.detail = _label("detail")
        self.progress = QProgressBar(maximum=100, textVisible=False)
        self.progress.setFixedHeight(20)
        self.countdown = _label("countdown")
        self.code_btn = QPushButton(clicked=lambda: self._open_keypad("booking_code"))
        self.code_btn.setObjectName("claim_booking_code")
        self.iin_btn = QPushButton(clicked=lambda: self._open_keypad("iin"))
        self.iin_btn.setObjectName("claim_iin")
        self.cancel_btn = QPushButton(clicked=lambda: self.cancel_requested.emit())
        self.cancel_btn.setProperty("quiet", True)
        side = QVBoxLayout()
        side.addStretch(1)
        for w in (self.title, self.title_alt, self.prompt, self.detail, self.progress):
            side.addWidget(w)
        side.addWidget(self.countdown)
        side.addStretch(1)
        for w in (self.code_btn, self.iin_btn, self.cancel_btn):
            side.addWidget(w)
        live = QWidget()
        self.live_layout = QBoxLayout(QBoxLayout.Direction.LeftToRight, live)
        self.live_layout.addWidget(self.video, 3)
        side_widget = QWidget()
        side_widget.setLayout(side)
        self.live_layout.addWidget(side_widget, 2)

        self.keypad = Keypad(tr, kinds=("iin", "booking_code"))
        self.keypad.submitted.connect(self._keypad_submitted)
        self.keypad.cancelled.connect(lambda: self.pages.setCurrentIndex(self.PAGE_LIVE))

        # result page: icon, headline, detail, and the action line as large as the headline
        self.result = QWidget(objectName="result")
        self.result.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.result_icon = ResultIcon()
        self.result_title = _label("result_title")
        self.result_detail = _label("result_detail")
        self.result_next = _label("result_action")
        self.result_ref = _label("result_ref")
        self.retry_btn = QPushButton(
            objectName="try_again", clicked=lambda: self.retry_requested.emit()
        )
        result_layout = QVBoxLayout(self.result)
        result_layout.addStretch(1)
        result_layout.addWidget(self.result_icon, 0, Qt.AlignmentFlag.AlignHCenter)
        for w in (self.result_title, self.result_detail, self.result_next, self.result_ref):
            result_layout.addWidget(w)
        result_layout.addWidget(self.retry_btn, 0, Qt.AlignmentFlag.AlignHCenter)
        result_layout.addStretch(1)

        # help page: shown after "Call staff" until a proctor signs in
        help_page = QWidget(objectName="result")
        help_page.setProperty("tone", "warn")
        help_page.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.help_icon = ResultIcon()
        self.help_icon.set_icon("hand", TONE_TEXT["warn"])
        self.help_title = _label("result_title")
        self.help_detail = _label("result_action")
        hl = QVBoxLayout(help_page)
        hl.addStretch(1)
        hl.addWidget(self.help_icon, 0, Qt.AlignmentFlag.AlignHCenter)
        hl.addWidget(self.help_title)
        hl.addWidget(self.help_detail)
        hl.addStretch(1)

        self.pages = QStackedWidget()
        for page in (live, self.keypad, self.result, help_page):
            self.pages.addWidget(page)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)
        tr.on_change(lambda _lang: self.retranslate())
        self.retranslate()

    # --- inputs from the app ---------------------------------------------------------
    def show_state(self, state: FlowState) -> None:
        entering_decision = state.name == StateName.DECISION and (
            self.state.name != StateName.DECISION or self.state.decision != state.decision
        )
        self.state = state
        if self.pages.currentIndex() == self.PAGE_HELP and state.name != StateName.IDLE:
            pass  # staff were called: the help page stays until a proctor signs in
        elif state.name == StateName.DECISION:
            self.pages.setCurrentIndex(self.PAGE_RESULT)
        elif state.name != StateName.IDLE or self.pages.currentIndex() == self.PAGE_RESULT:
            self.pages.setCurrentIndex(self.PAGE_LIVE)
        self.retranslate()
        if entering_decision and self.texts is not None:
            self.sounds.play(self.texts.sound)

    def show_analysis(self, face_seen: bool, quality_ok: bool) -> None:
        """Colour the face guide from the newest analysis (the flow's prompt is the text).
        During the head movements a turned head is what was asked for, not a fault: the
        guide stays green instead of turning amber."""
        if not face_seen:
            self.video.set_guide(GuideState.NONE)
        elif quality_ok or self.state.name == StateName.LIVENESS:
            self.video.set_guide(GuideState.GOOD)
        else:
            self.video.set_guide(GuideState.ADJUST)

    def set_camera_status(self, status: CameraStatus) -> None:
        self.camera_status = status
        self.retranslate()

    def set_lens(self, lens: LensView) -> None:
        if lens != self.lens:
            self.lens = lens
            self._update_camera_message()

    def show_help(self) -> None:
        self.pages.setCurrentIndex(self.PAGE_HELP)
        self.retranslate()

    def end_help(self) -> None:
        """A proctor came (signed in): back to whatever the flow shows."""
        if self.pages.currentIndex() == self.PAGE_HELP:
            self.pages.setCurrentIndex(self.PAGE_LIVE)
            self.show_state(self.state)

    def reset_for_next_person(self, language: str) -> None:
        """Idle for a while: forget a half-typed code and the last person's language."""
        self.keypad.clear()
        if self.pages.currentIndex() == self.PAGE_KEYPAD:
            self.pages.setCurrentIndex(self.PAGE_LIVE)
        self.tr_.set_language(language)

    def update_countdown(self) -> None:
        s = self.state
        deadline = s.step_deadline if s.step_deadline is not None else s.deadline
        if deadline is None or s.name in (StateName.IDLE, StateName.DECISION, StateName.MATCH):
            self.countdown.setText("")
            return
        seconds = max(0, math.ceil(deadline - self.clock()))
        self.countdown.setText(self.tr_.t("countdown", seconds=seconds))

    # --- internals -------------------------------------------------------------------
    def _open_keypad(self, kind: str) -> None:
        self.keypad.start(kind)
        self.pages.setCurrentIndex(self.PAGE_KEYPAD)

    def _keypad_submitted(self, kind: str, value: str) -> None:
        self.keypad.clear()  # the number does not wait on the pad for the next person
        self.pages.setCurrentIndex(self.PAGE_LIVE)
        self.claim_requested.emit(kind, value)

    def _call_staff(self) -> None:
        self.staff_requested.emit()
        self.sounds.play("wait")
        self.show_help()

    def resizeEvent(self, event: QResizeEvent) -> None:
        portrait = event.size().height() > event.size().width()
        self.live_layout.setDirection(
            QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight
        )
        super().resizeEvent(event)

    def _camera_down(self) -> bool:
        return self.camera_status in (CameraStatus.LOST, CameraStatus.ENDED)

    def _update_camera_message(self) -> None:
        t = self.tr_.t
        if self.camera_status == CameraStatus.LOST:
            self.video.set_message(t("camera.unavailable") + "\n" + t("camera.reconnecting"))
        elif self.camera_status == CameraStatus.ENDED:
            self.video.set_message(t("camera.demo_over"))
        elif self.lens != LensView.OK:
            self.video.set_message(t(f"camera.{self.lens.value}"))
        else:
            self.video.set_message("")

    def _choose_language(self, language: str) -> None:
        self.tr_.set_language(language)
        for lang, b in self.lang_buttons.items():  # a tap on the current one unchecks it
            b.setChecked(lang == self.tr_.language)

    def retranslate(self) -> None:
        t, s = self.tr_.t, self.state
        for lang, b in self.lang_buttons.items():
            b.setChecked(lang == self.tr_.language)
        self.banner.setText(t("demo.banner"))
        self.staff_btn.setText(t("common.call_staff"))
        self.code_btn.setText(t("idle.booking_code"))
        self.iin_btn.setText(t("idle.iin"))
        self.cancel_btn.setText(t("common.cancel"))
        self.help_title.setText(t("help.title"))
        self.help_detail.setText(t("help.detail"))
        idle = s.name == StateName.IDLE
        for b in (self.code_btn, self.iin_btn):
            b.setVisible(idle)
        self.cancel_btn.setVisible(s.name in (StateName.CLAIMED, StateName.CAPTURE))
        self.progress.setVisible(s.name in (StateName.CAPTURE, StateName.LIVENESS))
        self.progress.setValue(round(100 * s.progress))
        name = s.applicant.initials if s.applicant else ""
        prompt_good, alt = False, ""
        if idle:
            title = t("idle.title")
            # With the camera down only the keypad and staff are offered: no QR invitation.
            detail = t("idle.hint_no_camera" if self._camera_down() else "idle.hint")
            prompt = ""
            if s.reason is not None and s.reason.value in ("claim_timeout", "cancelled"):
                prompt = self.tr_.t_opt("decision", s.reason.value)
            if self.tr_.language in PAIRED:
                alt = self.tr_.t_in(PAIRED[self.tr_.language], "idle.title")
        elif s.name == StateName.CLAIMED:
            title, prompt, detail = t("capture.hello", name=name), t("capture.title"), ""
        elif s.name == StateName.CAPTURE:
            title, detail = t("capture.hello", name=name), ""
            prompt = self.tr_.t_opt("reason", s.prompt) if s.prompt else t("capture.good")
            prompt_good = not s.prompt
        elif s.name == StateName.LIVENESS:
            title, detail = t("liveness.title"), ""
            # "no_face" during liveness is a quality code, the rest are challenge steps.
            if s.prompt and self.tr_.has(f"liveness.{s.prompt}", "en"):
                prompt = t(f"liveness.{s.prompt}")
            else:
                prompt = self.tr_.t_opt("reason", s.prompt)
        else:  # MATCH, and DECISION's live page behind the result
            title, prompt, detail = t("matching.title"), "", ""
        liveness = s.name == StateName.LIVENESS
        self.video.set_hint(HINT_FOR_PROMPT.get(s.prompt or "") if liveness else None)
        self.title.setText(title)
        self.title_alt.setText(alt)
        self.title_alt.setVisible(bool(alt))
        self.prompt.setText(prompt)
        self.prompt.setVisible(bool(prompt))
        self.prompt.setProperty("good", prompt_good)
        self.prompt.style().unpolish(self.prompt)
        self.prompt.style().polish(self.prompt)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
        self._retranslate_result()
        self._update_camera_message()
        self.update_countdown()

    def _retranslate_result(self) -> None:
        s = self.state
        if s.name != StateName.DECISION or s.decision is None:
            return
        texts = result_texts(self.tr_, s, room=self.room)
        self.texts = texts
        self.result.setProperty("tone", texts.tone)
        # The labels' colour follows the tone too (black on amber): restyle them as well.
        for w in (self.result, *self.result.findChildren(QLabel)):
            w.style().unpolish(w)
            w.style().polish(w)
        self.result_icon.set_icon(texts.icon, TONE_TEXT[texts.tone])
        self.result_title.setText(texts.title)
        self.result_detail.setText(texts.detail)
        self.result_next.setText(texts.action)
        self.result_ref.setText(texts.reference)
        self.result_ref.setVisible(bool(texts.reference))
        self.retry_btn.setText(self.tr_.t("result.try_again_button"))
        self.retry_btn.setVisible(s.next_step == NextStep.TRY_AGAIN)
