"""Screenshots of every kiosk screen, rendered by the real widgets under Xvfb, into
docs/screens/*.png (linked from the README).

    python benchmarks/screenshots.py          # re-runs itself under xvfb-run if needed

The door is the demo door (demo roster, demo photos); its ledger is first filled by
replaying the demo camera, so the proctor panel shows real refusals. Screens that need a
moment the replay passes too quickly (liveness prompt, an admitted applicant, wrong room)
are shown by handing the screen a `FlowState`, exactly what the flow would send.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SIZE = (1280, 800)


def _ensure_display() -> None:
    if os.environ.get("DISPLAY") or os.environ.get("KIOSK_SCREENSHOTS_UNDER_XVFB"):
        return
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        sys.exit("no DISPLAY and no xvfb-run: apt-get install xvfb")
    env = dict(os.environ, KIOSK_SCREENSHOTS_UNDER_XVFB="1")
    env.pop("QT_QPA_PLATFORM", None)
    cmd = [xvfb, "-a", "-s", f"-screen 0 {SIZE[0]}x{SIZE[1]}x24", sys.executable, *sys.argv]
    sys.exit(subprocess.call(cmd, env=env))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "screens"))
    args = ap.parse_args()
    _ensure_display()
    os.environ.pop("QT_QPA_PLATFORM", None)

    import cv2
    from PySide6.QtCore import QEventLoop

    from kiosk.app.driver import FrameResult
    from kiosk.camera import CameraStatus
    from kiosk.checkin.decision import CheckinDecision, Decision, Reason
    from kiosk.checkin.flow import FlowState, StateName
    from kiosk.checkin.states import ApplicantView
    from kiosk.config import load_config
    from kiosk.demo.door import DEMO_PROCTOR_ID, DEMO_PROCTOR_PIN, SimClock, build_demo_door
    from kiosk.demo.headless import replay
    from kiosk.demo.roster import DEMO_DIR
    from kiosk.ui.app import KioskWindow, ensure_application
    from kiosk.ui.calibration import CalibrationWindow
    from kiosk.ui.i18n import Translator
    from kiosk.ui.video_view import GuideState

    ensure_application(sys.argv[:1])
    loop = QEventLoop()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    made: list[str] = []

    def settle() -> None:
        for _ in range(20):
            loop.processEvents()

    def shoot(widget, name: str) -> None:
        settle()
        path = out / f"{name}.png"
        widget.grab().save(str(path))
        made.append(path.name)
        print(f"wrote {path.relative_to(REPO)}")

    cfg = load_config()
    clock = SimClock()
    demo = build_demo_door(cfg, clock=clock)
    replay(demo, clock)  # fills the ledger: one accepted (live), one rejected
    refused = {d.decision: d for d in demo.decisions}
    tr = Translator("en")
    window = KioskWindow(demo.door, tr, locked=False, demo=True, clock=clock)
    window.resize(*SIZE)
    window.show()
    screen = window.applicant
    face = cv2.imread(str(DEMO_DIR / "frames" / "genuine" / "0001.jpg"))
    people = {a.applicant_id: a for a in demo.flow.roster.applicants}
    aruzhan = ApplicantView("A1001", people["A1001"].name, people["A1001"].seat)
    madina = ApplicantView("A1002", people["A1002"].name, people["A1002"].seat)
    screen.video.set_frame(face)
    screen.set_camera_status(CameraStatus.LIVE)

    screen.video.set_guide(GuideState.GOOD)
    screen.show_state(FlowState(StateName.IDLE))
    shoot(window, "01-idle-en")

    tr.set_language("ru")
    screen._open_keypad("booking_code")
    screen.keypad.type_text("DEMO0001")
    shoot(window, "02-keypad-ru")

    tr.set_language("kk")
    screen.video.set_guide(GuideState.ADJUST)
    screen.show_state(
        FlowState(
            StateName.CAPTURE,
            Reason.FACE_SEEN,
            "move_closer",
            aruzhan,
            1 / 3,
            clock() + 9,
            attempt=1,
        )
    )
    shoot(window, "03-capture-prompt-kk")

    tr.set_language("en")
    screen.video.set_guide(GuideState.GOOD)
    screen.show_state(
        FlowState(
            StateName.LIVENESS,
            Reason.FRAMES_COLLECTED,
            "turn_left",
            aruzhan,
            0.5,
            clock() + 12,
            attempt=1,
        )
    )
    shoot(window, "04-liveness-en")

    accepted = CheckinDecision(Decision.ACCEPTED, Reason.MATCHED, "A1001", "demo", 1, 0.61, 0.41)
    screen.show_state(
        FlowState(StateName.DECISION, Reason.MATCHED, None, aruzhan, 1.0, None, accepted, 1)
    )
    shoot(window, "05-result-accepted-en")

    tr.set_language("ru")
    # The demo's genuine applicant passes liveness now: the proctor screen is staged.
    needs = refused.get(Decision.NEEDS_PROCTOR) or CheckinDecision(
        Decision.NEEDS_PROCTOR, Reason.LIVENESS_UNDECIDED, "A1001", "demo", 1, 0.61, 0.41
    )
    screen.show_state(
        FlowState(StateName.DECISION, needs.reason, None, aruzhan, 1.0, None, needs, 1)
    )
    shoot(window, "06-result-needs-proctor-ru")

    tr.set_language("en")
    rejected = refused[Decision.REJECTED]
    screen.show_state(
        FlowState(StateName.DECISION, rejected.reason, None, madina, 1.0, None, rejected, 1)
    )
    shoot(window, "07-result-not-recognised-en")

    tr.set_language("kk")
    wrong = CheckinDecision(Decision.NEEDS_PROCTOR, Reason.WRONG_ROOM, "A1002", "demo", 0)
    screen.show_state(
        FlowState(StateName.DECISION, Reason.WRONG_ROOM, None, madina, 1.0, None, wrong, 0)
    )
    shoot(window, "08-result-wrong-room-kk")

    tr.set_language("en")
    screen.show_state(FlowState(StateName.IDLE))
    screen.set_camera_status(CameraStatus.LOST)
    screen.video.set_frame(None)  # what the window paints while the camera is lost
    shoot(window, "09-camera-unavailable-en")
    screen.set_camera_status(CameraStatus.LIVE)
    screen.video.set_frame(face)

    window.show_proctor_panel()
    window.panel.id_edit.setText(DEMO_PROCTOR_ID)
    shoot(window, "10-proctor-sign-in-en")
    window.panel.pin_edit.setText(DEMO_PROCTOR_PIN)
    window.panel.sign_in()
    window.panel.note_edit.setPlainText("Identity card checked at the desk")
    shoot(window, "11-proctor-panel-en")
    window.show_applicant()
    window.close()

    cal = CalibrationWindow(demo.door.engine, demo.door.grabber, cfg, Translator("en"))
    cal.resize(1800, 900)  # as `kiosk calibrate` opens it
    cal.show()
    demo.door.grabber.start()  # the self-test reads the camera's live status
    cal.set_template_from_photo(str(DEMO_DIR / "enrol" / "A1001.jpg"))
    for seq in range(1, 6):
        analysis = demo.door.engine.analyze(face)
        cal.show_result(
            FrameResult(
                seq,
                face,
                analysis,
                0.0,
                dict(analysis.timings_ms, total=sum(analysis.timings_ms.values())),
            )
        )
    for _ in range(200):
        if demo.door.grabber.status == CameraStatus.LIVE:
            break
        loop.processEvents()
        time.sleep(0.01)
    cal._refresh_rates()
    cal.run_self_test()
    shoot(cal, "12-calibration-en")
    cal.close()
    demo.close()
    print(f"{len(made)} screenshots in {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
