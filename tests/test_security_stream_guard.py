"""Stream guard on real photographs: a "live" feed is the photo plus sensor-like noise and
a moving subject; attacks are the same photo frozen, looped, pushed too fast, or rendered
without noise (and a real MJPG video played twice)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.camera.stream_guard import (
    STREAM_EVENT,
    StreamEvent,
    StreamGuard,
    StreamGuardConfig,
    StreamSuspicion,
)
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore

FPS = 30.0


@pytest.fixture(scope="module")
def scene(data_dir: Path) -> np.ndarray:
    image = cv2.imread(str(data_dir / "img1.jpg"), cv2.IMREAD_COLOR)
    assert image is not None
    return cv2.resize(image, (320, 240), interpolation=cv2.INTER_AREA)


def live_frames(scene: np.ndarray, n: int, *, sigma: float = 2.0, seed: int = 1):
    """A static background with a subject moving across it and per-frame sensor noise."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        frame = scene.astype(np.float32)
        x = 40 + (i * 3) % 200
        frame[80:160, x : x + 40] = 0.6 * frame[80:160, x : x + 40] + 80  # the subject
        frame += rng.normal(0.0, sigma, frame.shape)
        yield np.clip(frame, 0, 255).astype(np.uint8)


def synthetic_frames(scene: np.ndarray, n: int):
    """The same motion composited without any noise: what injected/rendered video looks like."""
    yield from live_frames(scene, n, sigma=0.0)


def run(guard: StreamGuard, frames, *, fps: float = FPS, t0: float = 100.0) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    for i, frame in enumerate(frames):
        events += guard.observe(frame, t0 + i / fps)
    return events


def kinds(events: list[StreamEvent]) -> set[StreamSuspicion]:
    return {e.kind for e in events}


def test_a_live_noisy_feed_raises_nothing(scene: np.ndarray) -> None:
    guard = StreamGuard(StreamGuardConfig(fps=FPS))
    assert run(guard, live_frames(scene, 90)) == []
    assert not guard.suspicious


def test_low_light_noise_is_still_a_sensor(scene: np.ndarray) -> None:
    dim = (scene * 0.35).astype(np.uint8)
    guard = StreamGuard(StreamGuardConfig(fps=FPS))
    assert run(guard, live_frames(dim, 60, sigma=1.0)) == []


def test_a_frozen_feed_is_detected(scene: np.ndarray) -> None:
    frame = next(live_frames(scene, 1))
    guard = StreamGuard(StreamGuardConfig(fps=FPS))
    events = run(guard, [frame] * 10)
    assert kinds(events) == {StreamSuspicion.FROZEN}
    assert events[0].frame_index == 3  # reported at the third identical frame, once
    assert len(events) == 1 and guard.suspicious


def test_a_replayed_loop_is_detected(scene: np.ndarray) -> None:
    clip = list(live_frames(scene, 20))
    guard = StreamGuard(StreamGuardConfig(fps=FPS))
    events = run(guard, clip + clip)
    assert kinds(events) == {StreamSuspicion.REPLAYED}
    assert events[0].frame_index == 21 and events[0].detail["same_as_frame"] == 1


def test_a_video_file_looped_through_the_decoder_is_detected(
    scene: np.ndarray, tmp_path: Path
) -> None:
    path = tmp_path / "applicant.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (320, 240))
    for frame in live_frames(scene, 15):
        writer.write(frame)
    writer.release()
    decoded = []
    for _ in range(2):  # play it twice, as a looping injector would
        cap = cv2.VideoCapture(str(path))
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            decoded.append(frame)
        cap.release()
    assert len(decoded) == 30
    events = run(StreamGuard(StreamGuardConfig(fps=FPS)), decoded)
    assert StreamSuspicion.REPLAYED in kinds(events)


def test_frames_faster_than_the_camera_are_impossible(scene: np.ndarray) -> None:
    guard = StreamGuard(StreamGuardConfig(fps=FPS))
    events = run(guard, live_frames(scene, 40), fps=1000.0)  # a file decoded flat out
    assert kinds(events) == {StreamSuspicion.TIMING}
    assert events[0].detail["reason"] == "faster_than_camera"


def test_time_going_backwards_is_impossible(scene: np.ndarray) -> None:
    guard = StreamGuard(StreamGuardConfig(fps=FPS))
    frames = list(live_frames(scene, 3))
    assert guard.observe(frames[0], 10.0) == []
    assert guard.observe(frames[1], 10.033) == []
    (event,) = guard.observe(frames[2], 9.5)
    assert event.kind is StreamSuspicion.TIMING
    assert event.detail["reason"] == "timestamp_not_increasing"


def test_a_noiseless_synthetic_feed_is_detected(scene: np.ndarray) -> None:
    guard = StreamGuard(StreamGuardConfig(fps=FPS))
    events = run(guard, synthetic_frames(scene, 40))
    assert kinds(events) == {StreamSuspicion.NO_NOISE}
    assert events[0].detail["temporal_noise"] < 0.35


def test_noise_estimate_separates_sensor_from_render(scene: np.ndarray) -> None:
    from kiosk.camera.stream_guard import _grey, temporal_noise

    cfg = StreamGuardConfig()
    live = [_grey(f, 2) for f in live_frames(scene, 2, sigma=1.5)]
    fake = [_grey(f, 2) for f in synthetic_frames(scene, 2)]
    assert temporal_noise(live[0], live[1], cfg) > 1.0
    assert temporal_noise(fake[0], fake[1], cfg) < 0.1


def test_ongoing_suspicion_is_reported_at_a_bounded_rate(scene: np.ndarray) -> None:
    frame = next(live_frames(scene, 1))
    guard = StreamGuard(StreamGuardConfig(fps=FPS, report_every=100))
    events = run(guard, [frame] * 250)
    assert [e.frame_index for e in events] == [3, 103, 203]


def test_events_become_signed_device_event_records(scene: np.ndarray, tmp_path: Path) -> None:
    guard = StreamGuard(StreamGuardConfig(fps=FPS))
    frame = next(live_frames(scene, 1))
    with LedgerStore(tmp_path / "l.sqlite", DeviceKeys.load_or_create(tmp_path)) as store:
        for event in run(guard, [frame] * 5):
            store.append("device_event", event.record_body(source="camera 0"))
        (env,) = list(store.iter_envelopes())
        assert store.verify() == 1
    assert env.record.type == "device_event"
    assert env.record.body == {
        "event": STREAM_EVENT,
        "kind": "frozen_stream",
        "frame": 3,
        "source": "camera 0",
        "identical_frames": 3,
    }
