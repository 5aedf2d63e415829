"""The kiosk window: applicant screen and proctor panel in one locked-down window,
wired to the camera grabber, the analysis worker and the check-in flow.

Threads: the grabber reads the camera, the `AnalysisWorker` runs engine + flow, and the
UI thread only paints. Flow state changes may be announced on the worker thread, so they
cross into the UI thread through a queued Qt signal (`_FlowBridge`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import QApplication, QStackedWidget

from kiosk.app.door import Door
from kiosk.app.driver import DoorDriver, FrameResult
from kiosk.camera import CameraStatus
from kiosk.camera.lens import LensView, lens_view
from kiosk.checkin.flow import FlowState, StateName
from kiosk.errors import KioskError
from kiosk.ui.applicant_screen import ApplicantScreen
from kiosk.ui.i18n import Translator
from kiosk.ui.lockdown import LockdownWindow
from kiosk.ui.proctor_panel import ProctorPanel
from kiosk.ui.qt_compat import drop_opencv_qt_paths, require_sound_bindings
from kiosk.ui.sounds import SoundCues
from kiosk.ui.theme import STYLESHEET
from kiosk.ui.worker import AnalysisWorker

log = logging.getLogger(__name__)

PROCTOR_KEY = "Ctrl+Shift+P"  # for a kiosk with a keyboard; touch uses the held corner
VIEW_INTERVAL_MS = 33  # the live picture repaints at ~30 Hz whatever the engine's speed
TICK_INTERVAL_MS = 200  # flow deadlines, the countdown, idle resets
# No touch this long on an idle door: forget a half-typed code and the last language.
APPLICANT_IDLE_RESET_S = 30.0
_TOUCHES = (QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin, QEvent.Type.KeyPress)


class _FlowBridge(QObject):
    state_changed = Signal(object)
    camera_changed = Signal(str)


class KioskWindow(LockdownWindow):
    """The door's one window. `start()` begins camera and analysis; `shutdown()` ends them."""

    def __init__(
        self,
        door: Door,
        tr: Translator,
        *,
        locked: bool = True,
        demo: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(locked=locked)
        self.door = door
        self.tr_ = tr
        self.setWindowTitle(tr.t("app.title"))
        self.setStyleSheet(STYLESHEET)
        flow = door.flow
        # The countdown and idle timers read the flow's own clock, so they agree with the
        # flow's deadlines (and a test's fake clock drives them all).
        self.clock = clock or flow.clock
        self.home_language = tr.language
        self.last_touch = self.clock()
        self.sounds = SoundCues(enabled=not demo)
        self.applicant = ApplicantScreen(
            tr, room=flow.room, clock=self.clock, demo=demo, sounds=self.sounds
        )
        # The proctor reads the panel in their own language, whatever the applicant chose.
        self.panel_tr = Translator(tr.language)
        self.panel = ProctorPanel(
            self.panel_tr, flow, door.proctors, centre_state=door.centre_state
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.applicant)
        self.stack.addWidget(self.panel)
        self.setCentralWidget(self.stack)

        self.bridge = _FlowBridge()
        self.bridge.state_changed.connect(self._on_state)
        self.bridge.camera_changed.connect(self._on_camera)
        self._unsubscribe = flow.subscribe(self.bridge.state_changed.emit)
        door.grabber.add_status_listener(lambda s, _e: self.bridge.camera_changed.emit(str(s)))

        self.applicant.claim_requested.connect(self._claim)
        self.applicant.cancel_requested.connect(lambda: self._call(flow.cancel))
        self.applicant.retry_requested.connect(lambda: self._call(flow.retry))
        self.applicant.staff_requested.connect(lambda: self._call(flow.call_staff))
        self.applicant.proctor_requested.connect(self.show_proctor_panel)
        self.panel.closed.connect(self.show_applicant)
        self.panel.exit_requested.connect(self.unlock_and_close)
        shortcut = QShortcut(QKeySequence(PROCTOR_KEY), self)
        shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        shortcut.activated.connect(self.show_proctor_panel)

        self.driver = DoorDriver(
            door.engine, flow, stream_guard=door.stream_guard, source_name=door.grabber.source.name
        )
        self.worker = AnalysisWorker(door.grabber, self.driver)
        self.worker.analyzed.connect(self._on_analyzed)
        self.last_result: FrameResult | None = None
        self.results_seen = 0
        self.view_timer = QTimer(self, interval=VIEW_INTERVAL_MS, timeout=self._paint_latest)
        self.tick_timer = QTimer(self, interval=TICK_INTERVAL_MS, timeout=self._tick)
        self._stopped = False
        self.applicant.show_state(flow.state)

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self.door.grabber.start()
        self.worker.start()
        self.view_timer.start()
        self.tick_timer.start()
        self._on_camera(str(self.door.grabber.status))

    def shutdown(self) -> None:
        """Stop timers, analysis and camera; safe to call twice (close, then teardown)."""
        if self._stopped:
            return
        self._stopped = True
        self.view_timer.stop()
        self.tick_timer.stop()
        self.worker.stop()
        self.door.grabber.stop()
        self._unsubscribe()

    def closeEvent(self, event) -> None:
        super().closeEvent(event)
        if event.isAccepted():
            self.shutdown()

    # --- screens ---------------------------------------------------------------------
    def show_proctor_panel(self) -> None:
        log.info("proctor panel requested")
        self.panel.start()
        self.stack.setCurrentWidget(self.panel)

    def show_applicant(self) -> None:
        self.stack.setCurrentWidget(self.applicant)
        self.applicant.end_help()  # a proctor was here

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _TOUCHES:
            self.last_touch = self.clock()
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        size = event.size()
        # Below 1200 px the panel's three columns stack and scroll up and down (a finger
        # scrolls vertically far more easily than sideways).
        self.panel.set_narrow(size.width() < 1200 or size.height() > size.width())
        super().resizeEvent(event)

    # --- slots -----------------------------------------------------------------------
    def _call(self, action: Callable[[], object]) -> None:
        try:
            action()
        except KioskError as exc:  # e.g. a claim while another is in progress
            log.warning("flow refused: %s", exc)

    def _claim(self, kind: str, value: str) -> None:
        flow = self.door.flow
        if kind == "iin":
            self._call(lambda: flow.claim(iin=value))
        else:
            self._call(lambda: flow.claim(booking_code=value))

    def _on_state(self, state: FlowState) -> None:
        self.applicant.show_state(state)
        if self.stack.currentWidget() is self.panel and self.panel.account is not None:
            self.panel.refresh()

    def _on_camera(self, status: str) -> None:
        self.applicant.set_camera_status(CameraStatus(status))

    def _on_analyzed(self, result: FrameResult) -> None:
        self.last_result = result
        self.results_seen += 1
        face = result.analysis.primary
        self.applicant.show_analysis(face is not None, face is not None and face.quality.ok)
        # No face in view: say whether the camera can see at all (covered lens, dark room).
        self.applicant.set_lens(lens_view(result.frame) if face is None else LensView.OK)

    def _paint_latest(self) -> None:
        grabbed = self.door.grabber.latest()
        if self.door.grabber.status == CameraStatus.LOST:
            # A frozen last picture would look like a working camera: show none.
            self.applicant.video.set_frame(None)
        elif grabbed is not None:
            self.applicant.video.set_frame(grabbed.image)

    def _tick(self) -> None:
        self._call(self.door.flow.tick)
        self.applicant.update_countdown()
        self.check_idle()

    def check_idle(self) -> None:
        """Sign an idle proctor out; reset an idle door for the next person."""
        idle = self.clock() - self.last_touch
        if self.stack.currentWidget() is self.panel:
            if self.panel.check_idle(idle):
                self.show_applicant()
            return
        if idle >= APPLICANT_IDLE_RESET_S and self.door.flow.state.name == StateName.IDLE:
            self.applicant.reset_for_next_person(self.home_language)


def ensure_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        drop_opencv_qt_paths()
        app = QApplication(argv or ["kiosk"])
    require_sound_bindings()
    return app  # type: ignore[return-value]
