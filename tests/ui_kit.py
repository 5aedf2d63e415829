"""Shared parts of the kiosk window tests: a real door (real face engine, flow, signed
ledger, proctor directory) behind an image camera, and touch helpers.

Liveness is the one stand-in: still photos cannot turn their heads, so a scripted
checker asks for one head turn and then passes (the real checker has its own tests).
Everything is driven by mouse presses on the widgets (a touch screen sends the same
events); nothing is typed.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from kiosk.app.door import Door
from kiosk.camera import ImageFolderSource, LatestFrameGrabber
from kiosk.checkin.flow import CheckinFlow
from kiosk.checkin.matcher import Matcher
from kiosk.checkin.proctor import ProctorDirectory, pin_key_for
from kiosk.checkin.roster import BookedApplicant, ExamSession, Roster, Template
from kiosk.config import load_config
from kiosk.errors import CameraUnavailable
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.keyseal import KeyPolicy
from kiosk.ledger.store import LedgerStore
from kiosk.protocol.iin import make_iin
from kiosk.ui.app import KioskWindow
from kiosk.ui.i18n import Translator
from kiosk.vision.liveness import LivenessStep
from kiosk.vision.pipeline import FaceEngine

DATA = Path(__file__).resolve().parent / "data"
ROOM = "A-101"
PROCTOR_ID, PROCTOR_PIN = "p1", "2580"
WAIT_MS = 20_000
IIN_0 = make_iin(date(1999, 1, 1), 3, 1)  # 990101300013
IIN_1 = make_iin(date(1998, 2, 2), 4, 1)


@dataclass
class _Verdict:
    passed: bool | None = True
    score: float = 1.0
    reason: str = "scripted"
    cues: dict[str, float] = field(default_factory=dict)


class ScriptedLiveness:
    """Asks for `turn_left` on the first frames, then passes."""

    available = True
    unavailable_reason = ""

    def __init__(self, frames: int = 2) -> None:
        self.frames = frames

    def start(self, rng=None):
        left = [self.frames]

        class _Session:
            def feed(self, obs, frame_bgr, t):
                left[0] -= 1
                if left[0] >= 0:
                    return LivenessStep("turn_left", 0.5)
                return LivenessStep(None, 1.0, _Verdict())

        return _Session()


@pytest.fixture(scope="session")
def templates(engine: FaceEngine) -> dict[str, Template]:
    """person00 enrolled from img1, person01 from img12 (probes are other photos)."""
    return {
        name: Template(engine.pack_id, engine.embed_photo(str(DATA / photo)).embedding)
        for name, photo in (("person00", "img1.jpg"), ("person01", "img12.jpg"))
    }


def camera_folder(tmp_path: Path, photo: str, copies: int = 3) -> Path:
    folder = tmp_path / f"camera-{Path(photo).stem}"
    folder.mkdir()
    for i in range(copies):
        shutil.copy(DATA / photo, folder / f"{i:03d}.jpg")
    return folder


class FlakyCamera(ImageFolderSource):
    """An image-folder camera whose cable the test can pull out and plug back in."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, fps=15, loop=True)
        self.plugged = threading.Event()
        self.plugged.set()

    def open(self) -> None:
        if not self.plugged.is_set():
            raise CameraUnavailable("camera 0 cannot be opened (unplugged?)")
        super().open()

    def read(self) -> np.ndarray | None:
        if not self.plugged.is_set():
            raise CameraUnavailable("camera 0 stopped delivering frames")
        return super().read()


class SwitchableCamera(ImageFolderSource):
    """An image camera in front of which the test puts another person (or a hand)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, fps=15, loop=True)
        self._lock = threading.Lock()
        self._shown: np.ndarray | None = None

    def show(self, image: np.ndarray | str | None) -> None:
        if isinstance(image, str):
            image = cv2.imread(str(DATA / image), cv2.IMREAD_COLOR)
        with self._lock:
            self._shown = image

    def read(self) -> np.ndarray | None:
        with self._lock:
            shown = self._shown
        # A copy each time: the same array twice would look like a frozen camera.
        return super().read() if shown is None else shown.copy()


def build_door(
    tmp_path: Path,
    engine: FaceEngine,
    templates: dict[str, Template],
    source: ImageFolderSource,
    *,
    room: str = ROOM,
    open_session: bool = True,
    clock: Callable[[], float] | None = None,
    names: tuple[str, str] = ("Aigerim Sadykova", "Daniyar Omarov"),
    proctor_name: str = "Gulnara Proctor",
    photos: dict[str, bytes] | None = None,
) -> Door:
    cfg = load_config()
    cfg.liveness.mode = "active"
    now = datetime.now(UTC)
    session = ExamSession(
        "S-1", "ALM-1", ROOM, "theory", now + timedelta(minutes=10), now + timedelta(hours=2)
    )
    photos = photos or {}
    applicants = [
        BookedApplicant(
            "app-0", IIN_0, names[0], "12", "AB12CD", [templates["person00"]], photos.get("app-0")
        ),
        BookedApplicant(
            "app-1", IIN_1, names[1], "14", "EF34GH", [templates["person01"]], photos.get("app-1")
        ),
    ]
    roster = Roster("R-1", 1, now, now + timedelta(days=1), session, applicants)
    data = tmp_path / "data"
    keys = DeviceKeys.load_or_create(data, KeyPolicy.plaintext_for_demo())
    ledger = LedgerStore(data / "ledger.sqlite", keys)
    proctors = ProctorDirectory(data / "proctors.sqlite", pin_key=pin_key_for(keys))
    proctors.add(PROCTOR_ID, proctor_name, "proctor", PROCTOR_PIN)
    matcher = Matcher.from_config(cfg, engine.pack)
    kwargs = {} if clock is None else {"clock": clock}
    flow = CheckinFlow(
        engine, roster, ledger, matcher, ScriptedLiveness(), cfg, room=room, **kwargs
    )
    if open_session:
        flow.open_session(proctors.authenticate(PROCTOR_ID, PROCTOR_PIN))
    grabber = LatestFrameGrabber(source, retry_s=0.05, max_retry_s=0.2)
    door = Door(engine, flow, proctors, grabber)
    door.resources.callback(ledger.close)
    door.resources.callback(proctors.close)
    return door


@pytest.fixture
def make_window(qtbot, tmp_path, engine, templates):
    windows: list[KioskWindow] = []

    def make(source: ImageFolderSource, *, language: str = "en", **kwargs) -> KioskWindow:
        door = build_door(tmp_path, engine, templates, source, **kwargs)
        window = KioskWindow(door, Translator(language), locked=True)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        window.start()
        windows.append(window)
        return window

    yield make
    for w in windows:
        w.shutdown()
        w.door.close()


def tap(qtbot, widget: QWidget) -> None:
    """A finger on a button: press and release inside it."""
    assert widget.isVisible() and widget.isEnabled(), widget.objectName() or widget
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def tap_keys(qtbot, keypad, text: str) -> None:
    for ch in text:
        tap(qtbot, keypad.keys[ch])


def long_press(qtbot, window: KioskWindow, hold_ms: int = 50) -> None:
    """Hold the unmarked corner until it fires (the hold is shortened, not skipped)."""
    corner = window.applicant.corner
    corner.hold_ms = hold_ms
    with qtbot.waitSignal(corner.activated, timeout=5_000):
        qtbot.mousePress(corner, Qt.MouseButton.LeftButton)
    qtbot.mouseRelease(corner, Qt.MouseButton.LeftButton)


def sign_in_by_touch(qtbot, window: KioskWindow, pin: str = PROCTOR_PIN) -> None:
    long_press(qtbot, window)
    login = window.panel.login
    assert window.stack.currentWidget() is window.panel
    tap_keys(qtbot, login.keypad, PROCTOR_ID)
    tap(qtbot, login.keypad.submit_btn)
    tap_keys(qtbot, login.keypad, pin)
    tap(qtbot, login.keypad.submit_btn)


def claim_by_code(qtbot, window: KioskWindow, code: str) -> None:
    screen = window.applicant
    tap(qtbot, screen.code_btn)
    assert screen.pages.currentIndex() == screen.PAGE_KEYPAD
    tap_keys(qtbot, screen.keypad, code)
    assert screen.keypad.display.text() == code
    tap(qtbot, screen.keypad.submit_btn)


def records(window: KioskWindow, rtype: str) -> list[dict]:
    return [
        e.record.body for e in window.door.flow.ledger.iter_envelopes() if e.record.type == rtype
    ]
