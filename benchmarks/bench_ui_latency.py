"""UI latency: from the first good camera frame to the result screen on the kiosk window.

What is timed: an applicant has claimed (booking code) and stands out of view; then a
good face appears. The clock starts when the camera grabber delivers that first good frame
and stops when the result page has been repainted. In between: frame dropping, the
analysis worker (detect, align, quality, embed), the flow fusing `frames_to_fuse` good
frames, matching, signing the ``checkin`` record, and the queued state signal to the UI.
Liveness is excluded (mode ``off-requires-proctor``: the decision is "needs proctor"
right after the match), as the target in the issue says.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_ui_latency.py --trials 20

Writes benchmarks/out/ui_latency.json. Target: median ≤ 1000 ms on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from kiosk.camera import ImageFolderSource, LatestFrameGrabber  # noqa: E402
from kiosk.checkin.flow import StateName  # noqa: E402
from kiosk.config import load_config  # noqa: E402
from kiosk.demo.door import GENUINE_CODE, build_demo_door  # noqa: E402
from kiosk.demo.roster import DEMO_DIR  # noqa: E402
from kiosk.ui.app import KioskWindow, ensure_application  # noqa: E402
from kiosk.ui.i18n import Translator  # noqa: E402

TARGET_MS = 1000.0


class SwitchableCamera(ImageFolderSource):
    """A 30 fps camera showing an empty doorway until `step_in()`, then a good face;
    remembers when the first face frame left the camera."""

    def __init__(self, face: Path, empty: Path, fps: float) -> None:
        super().__init__(face.parent, fps=fps, loop=True)
        import cv2

        self._face = cv2.imread(str(face))
        self._empty = cv2.imread(str(empty))
        self.present = threading.Event()
        self.first_face_at: float | None = None

    def open(self) -> None:
        return None

    def read(self) -> np.ndarray | None:
        if not self.present.is_set():
            return self._empty.copy()
        if self.first_face_at is None:
            self.first_face_at = time.monotonic()
        return self._face.copy()

    def step_in(self) -> None:
        self.first_face_at = None
        self.present.set()

    def step_out(self) -> None:
        self.present.clear()


_LOOP: QEventLoop | None = None


def wait(app: QApplication, predicate, timeout: float = 20.0) -> bool:
    """Spin Qt until `predicate()`. Uses a QEventLoop instance: PySide6 6.12.0's static
    QApplication.processEvents() drops a reference to None on every call, which kills a
    long-running Python 3.11 process with "none_dealloc"."""
    global _LOOP
    _LOOP = _LOOP or QEventLoop()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _LOOP.processEvents()
        if predicate():
            return True
        time.sleep(0.001)
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "ui_latency.json"))
    args = ap.parse_args()

    app = ensure_application(sys.argv[:1])
    cfg = load_config()
    cfg.checkin.max_attempts = args.trials + 5  # every trial is a fresh attempt
    demo = build_demo_door(cfg, liveness_mode="off-requires-proctor")  # liveness excluded
    camera = SwitchableCamera(
        DEMO_DIR / "frames" / "genuine" / "0001.jpg",
        DEMO_DIR / "frames" / "empty" / "0001.jpg",
        args.fps,
    )
    demo.door.grabber = LatestFrameGrabber(camera)
    window = KioskWindow(demo.door, Translator("en"), locked=False)
    window.resize(1280, 800)
    window.show()
    window.start()
    screen, flow = window.applicant, demo.flow
    samples: list[dict[str, float]] = []
    failures = 0
    try:
        wait(app, lambda: window.results_seen > 3)
        for trial in range(args.trials + 1):  # trial 0 warms caches and is dropped
            camera.step_out()
            flow.cancel()
            wait(app, lambda: flow.state.name == StateName.IDLE)
            window._claim("booking_code", GENUINE_CODE)
            # The screen (not just the flow) shows the claim: no stale result page.
            wait(app, lambda: screen.state.name == StateName.CLAIMED)
            wait(app, lambda: False, timeout=0.2)  # empty frames, as when someone walks up
            frames_before = window.worker.frames_analyzed
            camera.step_in()
            ok = wait(app, lambda: screen.pages.currentIndex() == screen.PAGE_RESULT)
            screen.repaint()  # the result is on screen, not just in the widget tree
            done = time.monotonic()
            if not ok or camera.first_face_at is None:
                print(f"trial {trial}: no result screen ({flow.state})", file=sys.stderr)
                failures += 1
                continue
            decision = flow.state.decision
            sample = {
                "latency_ms": (done - camera.first_face_at) * 1000,
                "frames_analysed": window.worker.frames_analyzed - frames_before,
                "decision": decision.decision.value if decision else None,
            }
            if trial:
                samples.append(sample)
    finally:
        window.shutdown()
        demo.close()

    lat = sorted(s["latency_ms"] for s in samples)
    engine_ms = window.last_result.timings_ms if window.last_result else {}
    result = {
        "benchmark": "ui_latency_good_frame_to_result_screen",
        "liveness": "excluded (off-requires-proctor)",
        "trials": len(samples),
        "failed_trials": failures,
        "camera_fps": args.fps,
        "frames_to_fuse": cfg.match.frames_to_fuse,
        "median_ms": round(statistics.median(lat), 1),
        "p90_ms": round(lat[int(0.9 * (len(lat) - 1))], 1),
        "max_ms": round(lat[-1], 1),
        "min_ms": round(lat[0], 1),
        "target_ms": TARGET_MS,
        "meets_target": statistics.median(lat) <= TARGET_MS,
        "last_frame_stage_ms": {k: round(v, 2) for k, v in engine_ms.items()},
        "decisions": sorted({str(s["decision"]) for s in samples}),
        "provider": demo.door.engine.provider,
        "pack": demo.door.engine.pack_id,
        "cpu_count": os.cpu_count(),
        "intra_op_threads": cfg.runtime.intra_op_threads,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "qt_platform": os.environ.get("QT_QPA_PLATFORM"),
        "samples_ms": [round(x["latency_ms"], 1) for x in samples],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "samples_ms"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
