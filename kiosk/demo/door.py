"""The demo door: the whole door from bundled photos, with no camera and no centre.

The demo roster is enrolled from ``assets/demo`` with the running model pack
(`kiosk.demo.roster`); the "camera" (`demo_camera`) plays a script: a booking QR held up
to the camera, the booked applicant, an empty doorway, then an impostor with someone
else's booking QR. Each person is a head rendered in 3D from one photo that answers the
door's liveness prompts frame by frame (`kiosk.demo.rendered_camera`), so the door runs
its real liveness check (``active+passive``): the genuine applicant is accepted, the
impostor passes liveness and is refused by the matcher, and the demo proctor then shows a
signed override of that refusal with the demo PIN printed at start. All state (ledger,
keys, proctor directory) lives in a fresh temporary folder, so a demo never touches a
real kiosk's ledger. The flow's challenge and the renders are seeded, so the headless
demo (`kiosk.demo.headless`) is the same every run.

No Qt here: the headless runner uses it directly and the windowed demo hands the same
`Door` to the Qt window.
"""

from __future__ import annotations

import copy
import logging
import random
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from kiosk.app.door import Door
from kiosk.camera import ImageFolderSource, LatestFrameGrabber
from kiosk.checkin.claims import QR_PREFIX
from kiosk.checkin.decision import CheckinDecision, Decision
from kiosk.checkin.flow import CheckinFlow, FlowState, StateName
from kiosk.checkin.overrides import OverrideReason, OverrideRequest
from kiosk.checkin.proctor import open_proctor_directory
from kiosk.config import KioskConfig
from kiosk.demo.rendered_camera import (
    LiveScene,
    RenderedDemoCamera,
    StillScene,
    face_source_from_photo,
)
from kiosk.owner_only import owner_only_dir
from kiosk.vision.pipeline import FaceEngine

log = logging.getLogger(__name__)

DEMO_PROCTOR_ID = "demo"
DEMO_PROCTOR_PIN = "2468"
DEMO_FPS = 5.0
GENUINE_CODE = "DEMO-0001"  # frames/genuine show this applicant
IMPOSTOR_CODE = "DEMO-0002"  # frames/impostor show someone else holding this booking
# The photo each live person is rendered from, and the seeds that make every run the
# same: the flow's seed draws the head-turn challenge, a scene's seed the person's
# reaction time, speed, sway, tremor and sensor noise.
DEMO_RENDER_PHOTO = {"genuine": "0004.jpg", "impostor": "0001.jpg"}
FLOW_SEED = 1
GENUINE_SEED = 4  # a person of typical reaction time (seed 2 was slow: ~1 s to start)
IMPOSTOR_SEED = 2


class SimClock:
    """Frame time for the headless demo: deadlines advance with frames, not wall time,
    so the run is fast and the same on any machine."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def qr_card(payload: str, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """A booking printout held up to the camera: a QR code on a light page."""
    matrix = cv2.QRCodeEncoder.create().encode(payload)
    scale = max(1, int(min(size) * 0.6) // matrix.shape[0])
    code = cv2.resize(matrix, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    page = np.full((*size, 3), 235, np.uint8)
    y, x = (size[0] - code.shape[0]) // 2, (size[1] - code.shape[1]) // 2
    page[y : y + code.shape[0], x : x + code.shape[1]] = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)
    return page


def demo_camera(
    demo_dir: Path,
    engine: FaceEngine,
    flow: CheckinFlow,
    *,
    decision_frames: int,
    fps: float = DEMO_FPS,
    loop: bool = False,
) -> RenderedDemoCamera:
    """The scripted camera: QR → the genuine applicant, live → empty → the impostor's QR →
    the impostor, live → empty. Each live person is a head rendered in 3D from one photo
    (`kiosk.demo.rendered_camera`) that follows the liveness prompt the door shows, so the real
    checker (active challenge + passive cues) decides, as it would on a real camera."""
    frames_dir = demo_dir / "frames"
    empty_src = ImageFolderSource(frames_dir / "empty")
    empty_src.open()
    empty = []
    while (img := empty_src.read()) is not None:
        empty.append(img)

    def prompt() -> str | None:
        s = flow.state
        return s.prompt if s.name == StateName.LIVENESS else None

    def decided() -> bool:
        return flow.state.name == StateName.DECISION

    def live(name: str, seed: int) -> LiveScene:
        photo = frames_dir / name / DEMO_RENDER_PHOTO[name]
        source = face_source_from_photo(engine, photo, name)
        return LiveScene(source, seed, decided, min_frames=3)

    pause = StillScene([empty[i % len(empty)] for i in range(decision_frames)])
    scenes: list[StillScene | LiveScene] = [
        StillScene([empty[0]] * 3),
        StillScene([qr_card(QR_PREFIX + GENUINE_CODE)] * 4),
        live("genuine", GENUINE_SEED),
        pause,
        StillScene([qr_card(QR_PREFIX + IMPOSTOR_CODE)] * 4),
        live("impostor", IMPOSTOR_SEED),
        pause,
    ]
    return RenderedDemoCamera(scenes, prompt=prompt, clock=flow.clock, fps=fps, loop=loop)


@dataclass
class DemoDoor:
    door: Door  # its resources also remove the temporary data folder, last
    data_dir: Path
    camera: RenderedDemoCamera
    decisions: list[CheckinDecision] = field(default_factory=list)

    @property
    def flow(self) -> CheckinFlow:
        return self.door.flow

    def close(self) -> None:
        self.door.close()


def demo_config(
    cfg: KioskConfig, data_dir: Path, *, liveness_mode: str = "active+passive"
) -> KioskConfig:
    demo = copy.deepcopy(cfg)
    demo.paths.data_dir = str(data_dir)
    demo.ledger.db_file = ""
    demo.sync.centre_url = ""  # no centre in the demo
    demo.liveness.mode = liveness_mode  # by default the real check, on rendered live heads
    demo.checkin.decision_display_s = 4.0
    return demo


def build_demo_door(
    cfg: KioskConfig,
    *,
    engine: FaceEngine | None = None,
    data_dir: Path | None = None,
    clock: Callable[[], float] | None = None,
    fps: float = DEMO_FPS,
    loop: bool = False,
    liveness_mode: str = "active+passive",
) -> DemoDoor:
    """A complete door on demo data; `data_dir` None means a temporary folder. Whatever
    was opened (the folder, the stores) is closed again if a later step fails."""
    from kiosk.checkin.matcher import Matcher, find_calibration
    from kiosk.demo.roster import DEMO_DIR, make_demo_roster
    from kiosk.ledger.keys import DeviceKeys
    from kiosk.ledger.keyseal import KeyPolicy
    from kiosk.ledger.store import LedgerStore
    from kiosk.vision.liveness import LivenessChecker

    with ExitStack() as stack:
        if data_dir is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="kiosk-demo-"))
            data_dir = Path(tmp)
        owner_only_dir(data_dir)
        cfg = demo_config(cfg, data_dir, liveness_mode=liveness_mode)
        engine = engine or FaceEngine.from_config(cfg)
        calibration = find_calibration(cfg, engine.pack)
        now = datetime.now(UTC)
        roster, _signed = make_demo_roster(
            engine, now=now, agreement_threshold=calibration.threshold
        )
        # A throw-away folder: plain-text keys are acceptable here and only here.
        keys = DeviceKeys.load_or_create(data_dir, KeyPolicy.plaintext_for_demo())
        ledger = stack.enter_context(closing(LedgerStore(cfg.ledger_path, keys)))
        proctors = stack.enter_context(closing(open_proctor_directory(cfg, keys)))
        if not proctors.list():
            proctors.add(DEMO_PROCTOR_ID, "Demo Proctor", "proctor", DEMO_PROCTOR_PIN)
        flow = CheckinFlow(
            engine,
            roster,
            ledger,
            Matcher(
                calibration,
                pack_id=engine.pack_id,
                frames_to_fuse=cfg.match.frames_to_fuse,
                identification_margin=cfg.match.identification_margin,
            ),
            LivenessChecker.from_config(cfg, engine),
            cfg,
            room=roster.session.room,
            rng=random.Random(FLOW_SEED),
            clock=clock if clock is not None else time.monotonic,
        )
        flow.open_session(proctors.authenticate(DEMO_PROCTOR_ID, DEMO_PROCTOR_PIN))
        decision_frames = int(cfg.checkin.decision_display_s * fps) + 3
        camera = demo_camera(
            DEMO_DIR, engine, flow, decision_frames=decision_frames, fps=fps, loop=loop
        )
        door = Door(engine, flow, proctors, LatestFrameGrabber(camera))
        door.resources = stack.pop_all()
    demo = DemoDoor(door, data_dir, camera)

    def note_decision(state: FlowState) -> None:
        # An override re-shows the decision screen; the demo counts each attempt once.
        if (
            state.name == StateName.DECISION
            and state.reason is not None
            and state.decision is not None
            and state.reason.value != "overridden"
        ):
            demo.decisions.append(state.decision)

    flow.subscribe(note_decision)
    return demo


def override_for_demo(demo: DemoDoor, decision: CheckinDecision) -> CheckinDecision | None:
    """What the demo proctor does at the door: admit a refused booked applicant with a
    reason and a note, as a signed override (here only to show the record; a real proctor
    overrides after checking the identity document)."""
    if decision.decision == Decision.ACCEPTED or decision.applicant_id is None:
        return None
    flow = demo.flow
    account = flow.authenticate(demo.door.proctors, DEMO_PROCTOR_ID, DEMO_PROCTOR_PIN)
    request = OverrideRequest(
        account.proctor_id,
        OverrideReason.DOCUMENT_CHECKED_MANUALLY,
        "demo: shows a signed override; a real proctor checks the identity card first",
        decision.record_id,
    )
    env = flow.override(account, request)
    return CheckinDecision(
        Decision.ACCEPTED_BY_OVERRIDE,
        decision.reason,
        decision.applicant_id,
        env.record.id,
        decision.attempt,
        decision.score,
        decision.threshold,
    )
