"""Camera sources and the latest-frame grabber: ordering, looping, dropping, reconnect."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.camera import (
    CameraStatus,
    DeviceSource,
    ImageFolderSource,
    LatestFrameGrabber,
    VideoFileSource,
    open_source,
)
from kiosk.errors import CameraUnavailable


def _numbered_frames(folder: Path, n: int, size: tuple[int, int] = (48, 64)) -> None:
    """Frames whose pixel value is their index, saved under names that sort out of
    numeric order (10 before 2) unless zero-padded, to check the source sorts by name."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.full((*size, 3), (i * 10) % 256, np.uint8)
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), img)


# Waits below end at the grabber's next frame or status change; the timeout only bounds
# a hang.
HANG_S = 30.0


def test_image_folder_replays_sorted_and_ends(tmp_path: Path) -> None:
    _numbered_frames(tmp_path / "seq", 3)
    (tmp_path / "seq" / "notes.txt").write_text("not an image")
    src = ImageFolderSource(tmp_path / "seq", fps=100)
    src.open()
    values = [int(src.read()[0, 0, 0]) for _ in range(3)]
    assert values == [0, 10, 20]
    assert src.read() is None  # end of a non-looping sequence


def test_image_folder_loops(tmp_path: Path) -> None:
    _numbered_frames(tmp_path / "seq", 2)
    src = ImageFolderSource(tmp_path / "seq", fps=100, loop=True)
    src.open()
    assert [int(src.read()[0, 0, 0]) for _ in range(5)] == [0, 10, 0, 10, 0]


def test_image_folder_read_is_a_copy(tmp_path: Path) -> None:
    _numbered_frames(tmp_path / "seq", 1)
    src = ImageFolderSource(tmp_path / "seq", loop=True)
    src.open()
    src.read()[:] = 255
    assert int(src.read()[0, 0, 0]) == 0


def test_empty_or_missing_folder_is_camera_unavailable(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CameraUnavailable, match="no readable images"):
        ImageFolderSource(tmp_path / "empty").open()
    with pytest.raises(CameraUnavailable, match="does not exist"):
        ImageFolderSource(tmp_path / "nope").open()


def test_video_file_source_reads_and_loops(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12, (64, 48))
    for i in range(4):
        writer.write(np.full((48, 64, 3), i * 50, np.uint8))
    writer.release()
    src = VideoFileSource(path, loop=True)
    src.open()
    assert src.pace_fps == pytest.approx(12, abs=0.5)
    frames = [src.read() for _ in range(6)]
    assert all(f is not None and f.shape == (48, 64, 3) for f in frames)
    assert abs(int(frames[4][0, 0, 0]) - int(frames[0][0, 0, 0])) < 8  # rewound
    once = VideoFileSource(path)
    once.open()
    count = 0
    while once.read() is not None:
        count += 1
    assert count == 4


def test_open_source_dispatch(tmp_path: Path) -> None:
    _numbered_frames(tmp_path / "seq", 1)
    assert isinstance(open_source("0"), DeviceSource)
    assert isinstance(open_source(str(tmp_path / "seq"), fps=5), ImageFolderSource)
    assert isinstance(open_source(tmp_path / "a.mp4"), VideoFileSource)
    with pytest.raises(CameraUnavailable, match="neither"):
        open_source(str(tmp_path / "missing-thing"))


def test_grabber_keeps_latest_and_counts_drops(tmp_path: Path) -> None:
    _numbered_frames(tmp_path / "seq", 30)
    with LatestFrameGrabber(ImageFolderSource(tmp_path / "seq", fps=200)) as grabber:
        first = grabber.wait_next(0, timeout=5)
        assert first is not None
        # A slow consumer: by the time it asks again, many frames have come and gone.
        assert grabber.wait_until(lambda: grabber.frames_grabbed >= first.seq + 5, HANG_S)
        nxt = grabber.wait_next(first.seq, timeout=5)
        assert nxt is not None and nxt.seq >= first.seq + 5
        assert grabber.frames_dropped >= 4
        assert grabber.wait_until(lambda: grabber.status == CameraStatus.ENDED, HANG_S)
        assert grabber.wait_next(grabber.frames_grabbed, timeout=5) is None  # ended, no wait


class FlakySource(ImageFolderSource):
    """An image-folder camera whose cable can be pulled and plugged back in by the test."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, fps=100, loop=True)
        self.plugged = threading.Event()
        self.plugged.set()
        self.opens = 0

    def open(self) -> None:
        if not self.plugged.is_set():
            raise CameraUnavailable("camera 0 cannot be opened (unplugged or in use?)")
        self.opens += 1
        super().open()

    def read(self) -> np.ndarray | None:
        if not self.plugged.is_set():
            raise CameraUnavailable("camera 0 stopped delivering frames")
        return super().read()


def test_grabber_reconnects_after_unplug(tmp_path: Path) -> None:
    _numbered_frames(tmp_path / "seq", 3)
    source = FlakySource(tmp_path / "seq")
    seen: list[CameraStatus] = []
    grabber = LatestFrameGrabber(source, retry_s=0.02, max_retry_s=0.05)
    grabber.add_status_listener(lambda status, _err: seen.append(status))
    with grabber:
        assert grabber.wait_until(lambda: grabber.status == CameraStatus.LIVE, HANG_S)
        source.plugged.clear()
        assert grabber.wait_until(lambda: grabber.status == CameraStatus.LOST, HANG_S)
        assert "stopped delivering" in (grabber.last_error or "") or "cannot be opened" in (
            grabber.last_error or ""
        )
        before = grabber.frames_grabbed
        source.plugged.set()
        assert grabber.wait_until(lambda: grabber.status == CameraStatus.LIVE, HANG_S)
        assert grabber.wait_next(before, timeout=5) is not None
    assert source.opens >= 2
    assert seen[:3] == [CameraStatus.LIVE, CameraStatus.LOST, CameraStatus.LIVE]
    assert grabber.status == CameraStatus.STOPPED


def test_grabber_on_a_missing_camera_reports_lost(tmp_path: Path) -> None:
    grabber = LatestFrameGrabber(ImageFolderSource(tmp_path / "nope"), retry_s=0.02)
    with grabber:
        assert grabber.wait_until(lambda: grabber.status == CameraStatus.LOST, HANG_S)
        assert "does not exist" in (grabber.last_error or "")
        assert grabber.latest() is None
