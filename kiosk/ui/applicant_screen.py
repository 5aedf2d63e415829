"""What the applicant sees: live view with the face guide, prompts, countdown, results.

Pure presentation of `FlowState`: every text comes from the flow's reason and prompt
codes through the translator; the only thing the screen sends back is a claim (booking
code or IIN typed on the keypad) or a cancel. Which result page to show follows the
decision the flow already made, never a score.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.app.driver import FrameResult
from kiosk.camera import CameraStatus
from kiosk.checkin.flow import FlowState, StateName
from kiosk.ui.i18n import LANGUAGES, NATIVE_NAMES, Translator
from kiosk.ui.keypad import Keypad
from kiosk.ui.result_text import result_text
from kiosk.ui.video_view import GuideState, VideoView

log = logging.getLogger(__name__)


def _label(object_name: str, *, wrap: bool = True) -> QLabel:
    label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
    label.setObjectName(object_name)
    label.setWordWrap(wrap)
    return label


class ApplicantScreen(QWidget):
    claim_requested = Signal(str, str)  # kind ("booking_code" | "iin"), value
    cancel_requested = Signal()

    PAGE_LIVE, PAGE_KEYPAD, PAGE_RESULT = 0, 1, 2

    def __init__(
        self,
        tr: Translator,
        *,
        room: str,
        clock: Callable[[], float],
        demo: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.room = room
        self.clock = clock  # the flow's clock, so the countdown matches its deadlines
        self.state = FlowState(StateName.IDLE)
        self.camera_status = CameraStatus.STARTING

        # top bar: demo banner and the language switch, always visible
        self.banner = _label("banner")
        self.banner.setVisible(demo)
        self.lang_buttons: dict[str, QPushButton] = {}
        top = QHBoxLayout()
        top.addWidget(self.banner, 1)
        for lang in LANGUAGES:
            b = QPushButton(NATIVE_NAMES[lang], checkable=True)
            b.setProperty("lang", True)
            b.setObjectName(f"lang_{lang}")
            b.clicked.connect(lambda _=False, lang=lang: tr.set_language(lang))
            self.lang_buttons[lang] = b
            top.addWidget(b)

        # live page: camera on the left, words and buttons on the right
        self.video = VideoView()
        self.title = _label("title")
        self.prompt = _label("prompt")
        self.detail = _label("detail")
        self.progress = QProgressBar(maximum=100, textVisible=False)
        self.progress.setFixedHeight(24)
        self.countdown = _label("detail")
        self.code_btn = QPushButton(clicked=lambda: self._open_keypad("booking_code"))
        self.code_btn.setObjectName("claim_booking_code")
        self.iin_btn = QPushButton(clicked=lambda: self._open_keypad("iin"))
        self.iin_btn.setObjectName("claim_iin")
        self.cancel_btn = QPushButton(clicked=lambda: self.cancel_requested.emit())
        side = QVBoxLayout()
        side.addStretch(1)
        for w in (self.title, self.prompt, self.detail, self.progress, self.countdown):
            side.addWidget(w)
        side.addStretch(1)
        for w in (self.code_btn, self.iin_btn, self.cancel_btn):
            side.addWidget(w)
        live = QWidget()
        live_layout = QHBoxLayout(live)
        live_layout.addWidget(self.video, 3)
        side_widget = QWidget()
        side_widget.setLayout(side)
        live_layout.addWidget(side_widget, 2)

        self.keypad = Keypad(tr)
        self.keypad.submitted.connect(self._keypad_submitted)
        self.keypad.cancelled.connect(lambda: self.pages.setCurrentIndex(self.PAGE_LIVE))

        # result page: one colour-coded panel with the decision in words
        self.result = QWidget(objectName="result")
        self.result.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.result_title = _label("result_title")
        self.result_detail = _label("title")
        self.result_next = _label("detail")
        result_layout = QVBoxLayout(self.result)
        result_layout.addStretch(1)
        for w in (self.result_title, self.result_detail, self.result_next):
            result_layout.addWidget(w)
        result_layout.addStretch(1)

        self.pages = QStackedWidget()
        self.pages.addWidget(live)
        self.pages.addWidget(self.keypad)
        self.pages.addWidget(self.result)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)
        tr.on_change(lambda _lang: self.retranslate())
        self.retranslate()

    # --- inputs from the app ---------------------------------------------------------
    def show_state(self, state: FlowState) -> None:
        self.state = state
        if state.name == StateName.DECISION:
            self.pages.setCurrentIndex(self.PAGE_RESULT)
        elif state.name != StateName.IDLE or self.pages.currentIndex() == self.PAGE_RESULT:
            self.pages.setCurrentIndex(self.PAGE_LIVE)
        self.retranslate()

    def show_analysis(self, result: FrameResult) -> None:
        """Colour the face guide from the newest analysis (the flow's prompt is the text)."""
        face = result.analysis.primary
        if face is None:
            self.video.set_guide(GuideState.NONE)
        else:
            self.video.set_guide(GuideState.GOOD if face.quality.ok else GuideState.ADJUST)

    def set_camera_status(self, status: CameraStatus) -> None:
        self.camera_status = status
        self._update_camera_message()

    def update_countdown(self) -> None:
        deadline = self.state.deadline
        if deadline is None or self.state.name in (StateName.IDLE, StateName.DECISION):
            self.countdown.setText("")
            return
        seconds = max(0, math.ceil(deadline - self.clock()))
        self.countdown.setText(self.tr_.t("countdown", seconds=seconds))

    # --- internals -------------------------------------------------------------------
    def _open_keypad(self, kind: str) -> None:
        self.keypad.start(kind)
        self.pages.setCurrentIndex(self.PAGE_KEYPAD)

    def _keypad_submitted(self, kind: str, value: str) -> None:
        self.pages.setCurrentIndex(self.PAGE_LIVE)
        self.claim_requested.emit(kind, value)

    def _update_camera_message(self) -> None:
        t = self.tr_.t
        if self.camera_status == CameraStatus.LOST:
            self.video.set_message(t("camera.unavailable") + "\n" + t("camera.reconnecting"))
        elif self.camera_status == CameraStatus.ENDED:
            self.video.set_message(t("camera.demo_over"))
        else:
            self.video.set_message("")

    def retranslate(self) -> None:
        t, s = self.tr_.t, self.state
        for lang, b in self.lang_buttons.items():
            b.setChecked(lang == self.tr_.language)
        self.banner.setText(t("demo.banner"))
        self.code_btn.setText(t("idle.booking_code"))
        self.iin_btn.setText(t("idle.iin"))
        self.cancel_btn.setText(t("common.cancel"))
        idle = s.name == StateName.IDLE
        for b in (self.code_btn, self.iin_btn):
            b.setVisible(idle)
        self.cancel_btn.setVisible(s.name in (StateName.CLAIMED, StateName.CAPTURE))
        self.progress.setVisible(s.name in (StateName.CAPTURE, StateName.LIVENESS))
        self.progress.setValue(round(100 * s.progress))
        name = s.applicant.name if s.applicant else ""
        prompt_good = False
        if idle:
            title, prompt, detail = t("idle.title"), "", t("idle.hint")
            if s.reason is not None and s.reason.value in ("claim_timeout", "cancelled"):
                prompt = self.tr_.t_opt("decision", s.reason.value)
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
        self.title.setText(title)
        self.prompt.setText(prompt)
        self.prompt.setProperty("good", prompt_good)
        self.prompt.style().unpolish(self.prompt)
        self.prompt.style().polish(self.prompt)
        self.detail.setText(detail)
        self._retranslate_result()
        self._update_camera_message()
        self.update_countdown()

    def _retranslate_result(self) -> None:
        words = result_text(self.tr_, self.state, self.room)
        if words is None:
            return
        tone, title, detail, nxt = words.tone, words.title, words.detail, words.next_step
        self.result.setProperty("tone", tone)
        self.result.style().unpolish(self.result)
        self.result.style().polish(self.result)
        self.result_title.setText(title)
        self.result_detail.setText(detail)
        self.result_next.setText(nxt)
