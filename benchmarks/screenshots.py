"""Screenshots of every kiosk screen, taken from real flows of the demo door (`kiosk
demo`: its roster, its rendered people, its real liveness check), rendered by the real
widgets under Xvfb into docs/screens/*.png (the key ones are linked from the README).

    python benchmarks/screenshots.py [--out DIR]   # re-runs itself under xvfb-run if needed

Nothing is staged: the demo camera's frames go through the same driver the window uses,
and a screen is photographed when the flow reaches it (a capture prompt, a head-turn
arrow, a blink or open-mouth pictogram, an admission, a try-again offer). What the demo
script does not reach by itself is reached the way a person would: keys tapped on the
keypad (a mistyped IIN, a second check-in of an admitted applicant, a booking for another
room), "Call staff", the proctor's long press, number and PIN, and the exit button.

File names: NN-screen-LANG.png at 1280x800; NN-screen-LANG-1024x600.png and
NN-screen-LANG-portrait.png for the small landscape and the portrait panels.
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
SMALL, PORTRAIT = (1024, 600), (1080, 1920)


def _ensure_display() -> None:
    if os.environ.get("DISPLAY") or os.environ.get("KIOSK_SCREENSHOTS_UNDER_XVFB"):
        return
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        sys.exit("no DISPLAY and no xvfb-run: apt-get install xvfb")
    env = dict(os.environ, KIOSK_SCREENSHOTS_UNDER_XVFB="1")
    env.pop("QT_QPA_PLATFORM", None)
    cmd = [xvfb, "-a", "-s", "-screen 0 1920x1920x24", sys.executable, *sys.argv]
    sys.exit(subprocess.call(cmd, env=env))


def _shown(path: Path) -> str:
    """The path as the user will find it: relative to the repository when inside it
    (an --out outside the repository once crashed on `relative_to`)."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def save_png(widget, path: Path) -> None:
    """True colour at the highest PNG compression (a 256-colour palette posterised the
    camera picture)."""
    widget.grab().save(str(path), "PNG", 0)


class Camera:
    """Takes screenshots of one window at several sizes and languages."""

    def __init__(self, out: Path, loop, translators) -> None:
        self.out, self.loop, self.translators = out, loop, translators
        self.made: list[str] = []

    def settle(self) -> None:
        for _ in range(20):
            self.loop.processEvents()

    def shoot(self, widget, name: str, langs=("en",), sizes=(SIZE,)) -> None:
        for lang in langs:
            for tr in self.translators:
                tr.set_language(lang)
            for size in sizes:
                widget.resize(*size)
                self.settle()
                suffix = {SIZE: "", SMALL: "-1024x600", PORTRAIT: "-portrait"}.get(size, "")
                path = self.out / f"{name}-{lang}{suffix}.png"
                save_png(widget, path)
                self.made.append(path.name)
                print(f"wrote {_shown(path)}")
        widget.resize(*SIZE)
        self.settle()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "screens"))
    args = ap.parse_args()
    _ensure_display()
    os.environ.pop("QT_QPA_PLATFORM", None)

    from PySide6.QtCore import QEventLoop

    from kiosk.app.driver import DoorDriver
    from kiosk.camera import CameraStatus, GrabbedFrame
    from kiosk.checkin.flow import StateName
    from kiosk.checkin.states import NextStep
    from kiosk.config import load_config
    from kiosk.demo.door import (
        DEMO_FPS,
        DEMO_PROCTOR_ID,
        DEMO_PROCTOR_PIN,
        GENUINE_CODE,
        IMPOSTOR_CODE,
        SimClock,
        build_demo_door,
    )
    from kiosk.demo.roster import DEMO_DIR
    from kiosk.ui.app import KioskWindow, ensure_application
    from kiosk.ui.calibration import CalibrationWindow
    from kiosk.ui.i18n import Translator

    ensure_application(sys.argv[:1])
    loop = QEventLoop()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    cfg = load_config()
    clock = SimClock()
    demo = build_demo_door(cfg, clock=clock)
    flow = demo.flow
    tr = Translator("kk")
    window = KioskWindow(demo.door, tr, locked=False, demo=True, clock=clock)
    window.resize(*SIZE)
    window.show()
    cam = Camera(out, loop, (tr, window.panel_tr))
    screen, panel = window.applicant, window.panel
    screen.set_camera_status(CameraStatus.LIVE)
    all3, kkru = ("kk", "ru", "en"), ("kk", "ru")

    def tap(button) -> None:
        button.click()
        cam.settle()

    def type_keys(keypad, text: str) -> None:
        for ch in text:
            tap(keypad.keys[ch])

    # --- the demo script, frame by frame, through the window's own driver
    driver = DoorDriver(demo.door.engine, flow)
    source = demo.camera
    source.open()
    done: set[str] = set()
    seq = 0
    while (image := source.read()) is not None:
        seq += 1
        clock.advance(1.0 / DEMO_FPS)
        flow.tick()
        result = driver.process(GrabbedFrame(image, seq, clock()))
        screen.video.set_frame(image)
        window._on_analyzed(result)
        s = flow.state
        if seq == 1:
            cam.shoot(window, "01-idle", all3)
            cam.shoot(window, "01-idle", ("kk",), (SMALL, PORTRAIT))
        if s.name == StateName.CAPTURE and "capture" not in done:
            done.add("capture")
            cam.shoot(window, "03-capture", ("kk",))
        arrow = s.prompt in ("turn_left", "turn_right", "look_up")
        if s.name == StateName.LIVENESS and arrow and "liveness" not in done:
            done.add("liveness")
            cam.shoot(window, "04-liveness", all3)
            cam.shoot(window, "04-liveness", ("ru",), (SMALL, PORTRAIT))
        # The blink and open-mouth steps show a pictogram instead of an arrow: taken when
        # it shows the asked-for face (the eye shut, the mouth open).
        pose = screen.video.hint_view.pose
        if pose in ("eye_closed", "mouth_open") and s.prompt not in done:
            done.add(s.prompt)
            cam.shoot(window, f"04-liveness-{s.prompt.replace('_', '-')}", all3)
        if s.name == StateName.DECISION and s.decision is not None:
            if s.decision.admits and "accepted" not in done:
                done.add("accepted")
                cam.shoot(window, "05-result-accepted", all3)
                cam.shoot(window, "05-result-accepted", kkru, (SMALL, PORTRAIT))
            if s.next_step == NextStep.TRY_AGAIN and "try_again" not in done:
                done.add("try_again")
                cam.shoot(window, "06-result-try-again", all3)
                cam.shoot(window, "06-result-try-again", kkru, (SMALL, PORTRAIT))
                tap(screen.staff_btn)  # the applicant asks for help: the result is held
                cam.shoot(window, "07-help", kkru)
                break
    missing = {"capture", "liveness", "accepted", "try_again"} - done
    if missing:
        sys.exit(f"the demo run never reached: {', '.join(sorted(missing))}")

    # --- the proctor comes: long press, number, PIN; the held case is in the panel
    screen.corner.activated.emit()  # what holding the corner for 3 s does
    cam.shoot(window, "10-proctor-sign-in", (*kkru, "en"))
    cam.shoot(window, "10-proctor-sign-in", kkru, (SMALL, PORTRAIT))
    type_keys(panel.login.keypad, DEMO_PROCTOR_ID)
    tap(panel.login.keypad.submit_btn)
    type_keys(panel.login.keypad, DEMO_PROCTOR_PIN)
    tap(panel.login.keypad.submit_btn)
    cam.shoot(window, "11-proctor-panel", all3)
    cam.shoot(window, "11-proctor-panel", kkru, (SMALL, PORTRAIT))
    tap(panel.exit_btn)
    cam.shoot(window, "12-proctor-confirm-exit", all3)
    tap(panel.confirm.no_btn)
    tap(panel.release_btn)  # the held screen is free again
    tap(panel.back_btn)

    # --- at the keypad: a mistyped IIN is caught before any lookup
    tap(screen.iin_btn)
    iin = next(a.iin for a in flow.roster.applicants)
    type_keys(screen.keypad, iin[:11] + str((int(iin[11]) + 1) % 10))
    cam.shoot(window, "02-keypad-iin", all3)
    cam.shoot(window, "02-keypad-iin", kkru, (SMALL, PORTRAIT))
    tap(screen.keypad.cancel_btn)

    # --- an admitted applicant checks in again: held for a proctor, with a code
    tap(screen.code_btn)
    type_keys(screen.keypad, GENUINE_CODE.replace("-", ""))
    tap(screen.keypad.submit_btn)
    cam.shoot(window, "08-result-held", all3)
    cam.shoot(window, "08-result-held", kkru, (SMALL, PORTRAIT))
    flow.acknowledge()  # the proctor clears it (as in the panel above)
    cam.settle()

    # --- a booking for another room: the screen names the right one
    flow.room = flow.recorder.room = "B-202"  # this kiosk stands at another door
    tap(screen.code_btn)
    type_keys(screen.keypad, IMPOSTOR_CODE.replace("-", ""))
    tap(screen.keypad.submit_btn)
    cam.shoot(window, "09-result-wrong-room", all3)
    clock.advance(cfg.checkin.claim_timeout_s)
    flow.tick()

    # --- the camera: a covered lens, then a lost camera (only keypad and staff offered)
    dark = image * 0 + 8  # a thumb over the lens: one flat dark level
    window._on_analyzed(driver.process(GrabbedFrame(dark, seq + 1, clock())))
    screen.video.set_frame(dark)
    cam.shoot(window, "13-camera-covered", (*kkru, "en"))
    screen.set_camera_status(CameraStatus.LOST)
    screen.video.set_frame(None)  # what the window paints while the camera is lost
    cam.shoot(window, "14-camera-unavailable", (*kkru, "en"))
    window.close()

    # --- the technician's calibration window, fed live for a few seconds
    cal = CalibrationWindow(demo.door.engine, demo.door.grabber, cfg, Translator("en"))
    cal.resize(1800, 900)  # as `kiosk calibrate` opens it
    cal.show()
    grabber = demo.door.grabber
    grabber.start()  # the rendered demo camera, paced at its own frame rate
    cal.set_template_from_photo(str(DEMO_DIR / "enrol" / "A1001.jpg"))
    cal_driver = DoorDriver(demo.door.engine, None)
    end = time.monotonic() + 4.0
    last_seq = -1
    while time.monotonic() < end:
        grabbed = grabber.latest()
        if grabbed is not None and grabbed.seq != last_seq:
            last_seq = grabbed.seq
            cal.show_result(cal_driver.process(grabbed))
        loop.processEvents()
        time.sleep(0.01)
    cal._refresh_rates()
    cal.run_self_test()
    cam.settle()
    path = out / "15-calibration-en.png"
    save_png(cal, path)
    cam.made.append(path.name)
    print(f"wrote {_shown(path)}")
    cal.close()
    demo.close()
    print(f"{len(cam.made)} screenshots in {_shown(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
