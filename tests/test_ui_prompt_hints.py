"""The picture beside the face guide for each liveness prompt: arrows for the head
movements, an eye that shuts for "blink", a face whose mouth opens for "open mouth".
Real widgets offscreen (the applicant screen, its live view and the hint widget), a real
face photo as the camera frame; the animation is stepped frame by frame, as the camera
steps it, so nothing here waits on a clock."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from PySide6.QtCore import QPoint, QRectF

from kiosk.camera import CameraStatus
from kiosk.checkin.flow import FlowState, StateName
from kiosk.checkin.states import ApplicantView
from kiosk.ui.applicant_screen import ApplicantScreen
from kiosk.ui.i18n import Translator
from kiosk.ui.prompt_hint import (
    BACKDROP,
    CYCLE,
    HINT_FOR_PROMPT,
    INK,
    PromptHint,
    hint_box,
)
from kiosk.ui.theme import STYLESHEET, contrast
from kiosk.vision.liveness_prompts import Prompt

PERSON = ApplicantView("app-0", "Айгерим Садыкова", "12")
FRAME = cv2.resize(cv2.imread(str(Path(__file__).parent / "data" / "img2.jpg")), (640, 480))


@pytest.fixture
def screen(qtbot):
    s = ApplicantScreen(Translator("kk"), room="A-101", clock=lambda: 100.0)
    s.setStyleSheet(STYLESHEET)  # as the kiosk window styles it
    qtbot.addWidget(s)
    s.resize(1280, 800)
    s.show()
    s.video.set_frame(FRAME)
    return s


def _liveness(screen: ApplicantScreen, prompt: str) -> None:
    screen.show_state(FlowState(StateName.LIVENESS, prompt=prompt, applicant=PERSON))


def _frames(screen: ApplicantScreen, count: int) -> None:
    for _ in range(count):
        screen.video.set_frame(FRAME)


def test_every_prompt_has_a_picture() -> None:
    assert set(HINT_FOR_PROMPT) == set(Prompt)
    assert HINT_FOR_PROMPT[Prompt.BLINK] == "blink"
    assert HINT_FOR_PROMPT[Prompt.OPEN_MOUTH] == "open_mouth"
    # Amber on its near-black disc, like every text on the door (>= 4.5:1).
    assert contrast(INK, BACKDROP) >= 4.5


def test_blink_shows_an_eye_that_shuts_with_the_frames(qtbot, screen) -> None:
    _liveness(screen, Prompt.BLINK)
    hint = screen.video.hint_view
    assert screen.prompt.text() == "Көзіңізді жыпылықтатыңыз"
    assert (screen.video.hint, hint.isVisible(), hint.pose) == ("blink", True, "eye_open")
    poses = []
    for _ in range(CYCLE):
        _frames(screen, 1)
        poses.append(hint.pose)
    # Frames 1..30 of the step: shut on 4-9 and 19-24, the step opening on an open eye.
    shut = [i + 1 for i, pose in enumerate(poses) if pose == "eye_closed"]
    assert shut == [*range(4, 10), *range(19, 25)]
    # Beside the oval, whole, inside the live view (where the arrows are).
    oval = screen.video.guide_rect()
    box = hint.geometry()
    assert box.left() > oval.right() and box.center().y() == pytest.approx(oval.center().y(), 1)
    assert screen.video.rect().contains(box)


def test_open_mouth_shows_a_face_whose_mouth_opens(qtbot, screen) -> None:
    _liveness(screen, Prompt.OPEN_MOUTH)
    hint = screen.video.hint_view
    assert screen.prompt.text() == "Аузыңызды ашыңыз"
    assert (screen.video.hint, hint.isVisible(), hint.pose) == ("open_mouth", True, "mouth_open")
    _frames(screen, 2 * CYCLE // 3)
    assert hint.pose == "mouth_closed"
    _frames(screen, CYCLE // 3)
    assert hint.pose == "mouth_open"


def test_the_painted_pictogram_follows_its_pose(qtbot, screen) -> None:
    """The pixels agree with the pose: the eye's pupil sits at the disc's centre while the
    eye is open; shut, the centre is the dark disc and the lid and lashes lie below it."""
    _liveness(screen, Prompt.BLINK)
    hint = screen.video.hint_view

    def centre_colour() -> str:
        image = hint.grab().toImage()
        return image.pixelColor(QPoint(image.width() // 2, image.height() // 2)).name()

    assert centre_colour() == INK
    _frames(screen, 4)
    assert hint.pose == "eye_closed"
    assert centre_colour() == BACKDROP


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        (Prompt.TURN_LEFT, "left"),
        (Prompt.LOOK_UP, "up"),
        (Prompt.FACE_CAMERA, "face"),
        (Prompt.HOLD_STILL, "face"),
    ],
)
def test_the_other_prompts_keep_their_pictures(qtbot, screen, prompt, kind) -> None:
    _liveness(screen, prompt)
    assert (screen.video.hint, screen.video.hint_view.isVisible()) == (kind, True)


def test_no_picture_outside_the_challenge_or_over_a_message(qtbot, screen) -> None:
    hint = screen.video.hint_view
    _liveness(screen, "no_face")  # a quality code during liveness: words only
    assert (screen.video.hint, hint.isVisible()) == (None, False)
    _liveness(screen, Prompt.BLINK)
    screen.set_camera_status(CameraStatus.LOST)  # "camera unavailable" covers the picture
    assert not hint.isVisible()
    screen.set_camera_status(CameraStatus.LIVE)
    assert hint.isVisible()
    screen.show_state(FlowState(StateName.MATCH, applicant=PERSON))
    assert (screen.video.hint, hint.isVisible()) == (None, False)


def test_a_new_step_starts_its_animation_from_the_start(qtbot) -> None:
    hint = PromptHint()
    qtbot.addWidget(hint)
    hint.set_kind("blink")
    for _ in range(CYCLE // 2 + 5):
        hint.advance()
    assert hint.pose == "eye_closed"
    hint.set_kind("open_mouth")
    assert (hint.phase, hint.pose) == (0, "mouth_open")
    with pytest.raises(ValueError, match="unknown hint 'wink'"):
        hint.set_kind("wink")


def test_arrows_stay_where_they_were() -> None:
    """The arrow boxes overlap the oval's edge on the side to move to, as the arrows
    painted by the view did before they became a widget."""
    oval = QRectF(100, 100, 150, 200)
    left, right = hint_box("left", oval), hint_box("right", oval)
    up, down = hint_box("up", oval), hint_box("down", oval)
    assert left.left() < oval.left() < left.right()
    assert right.left() < oval.right() < right.right()
    assert up.top() < oval.top() < up.bottom() and down.top() < oval.bottom() < down.bottom()
    assert left.center().y() == right.center().y() == oval.center().y()
    assert left.width() == pytest.approx(oval.height() * 0.22 * 1.6)
    assert up.center().x() == pytest.approx(oval.center().x())
