"""Frame sources: a camera by device index, a video file, or a folder of images.

Every source has the same three calls (`open`, `read`, `close`) so the grabber, the demo
and the tests can swap a real camera for files without a branch. Failures are
`CameraUnavailable` with a sentence for the technician; the grabber turns them into a
"camera unavailable" screen and a reconnect loop instead of a crash.

`read()` returns ``None`` at the end of a finite source (a video or folder that does not
loop) so "the demo is over" is never confused with "the camera was unplugged".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from kiosk.errors import CameraUnavailable

log = logging.getLogger(__name__)

# CAP_PROP_AUTO_EXPOSURE on V4L2: 1 = manual, 3 = aperture priority (automatic).
V4L2_MANUAL_EXPOSURE = 1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")


class FrameSource(Protocol):
    """What the grabber needs from a camera or a file."""

    name: str

    @property
    def pace_fps(self) -> float | None:
        """Frames per second the grabber should replay at; None when `read` blocks by itself
        (a real camera delivers at its own rate)."""
        ...

    def open(self) -> None: ...

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


class _CaptureSource:
    """What a camera and a video file share: one cv2.VideoCapture, opened by `open`."""

    name: str
    _cap: cv2.VideoCapture | None

    def _capture(self) -> cv2.VideoCapture:
        if self._cap is None:
            raise CameraUnavailable(f"{self.name} is not open")
        return self._cap

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


@dataclass
class DeviceSource(_CaptureSource):
    """A camera by OpenCV device index (``/dev/videoN`` on Linux)."""

    index: int
    width: int = 1280
    height: int = 720
    fps: int = 30
    # Technician settings (calibration mode), in the driver's own units; None leaves the
    # camera's automatic value. Kept here so a reconnect re-applies them.
    exposure: float | None = None
    brightness: float | None = None

    def __post_init__(self) -> None:
        self.name = f"camera {self.index}"
        self._cap: cv2.VideoCapture | None = None

    @property
    def pace_fps(self) -> float | None:
        return None

    def open(self) -> None:
        self.close()
        cap = cv2.VideoCapture(self.index)
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailable(f"{self.name} cannot be opened (unplugged or in use?)")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        # A one-frame driver buffer: the kiosk wants the newest frame, not a backlog.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap
        self._apply_controls()
        log.info("opened %s", self.name)

    def set_exposure(
        self, *, exposure: float | None = None, brightness: float | None = None
    ) -> str:
        """Set manual exposure and/or brightness (kept for reconnects) and say what the
        driver reports back; many UVC cameras ignore exposure while auto-exposure is on,
        so giving an exposure switches auto-exposure off."""
        if exposure is not None:
            self.exposure = float(exposure)
        if brightness is not None:
            self.brightness = float(brightness)
        if self._cap is None:
            return f"{self.name}: applied when the camera opens"
        return self._apply_controls()

    def _apply_controls(self) -> str:
        cap = self._capture()
        notes = []
        if self.exposure is not None:
            cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, V4L2_MANUAL_EXPOSURE)
            ok = cap.set(cv2.CAP_PROP_EXPOSURE, self.exposure)
            got = cap.get(cv2.CAP_PROP_EXPOSURE)
            notes.append(f"exposure {got:g}" + ("" if ok else " (camera refused the setting)"))
        if self.brightness is not None:
            ok = cap.set(cv2.CAP_PROP_BRIGHTNESS, self.brightness)
            got = cap.get(cv2.CAP_PROP_BRIGHTNESS)
            notes.append(f"brightness {got:g}" + ("" if ok else " (camera refused the setting)"))
        note = f"{self.name}: " + (", ".join(notes) if notes else "automatic exposure")
        log.info("camera controls: %s", note)
        return note

    def read(self) -> np.ndarray | None:
        ok, frame = self._capture().read()
        if not ok or frame is None:
            raise CameraUnavailable(f"{self.name} stopped delivering frames")
        return frame


@dataclass
class VideoFileSource(_CaptureSource):
    """A video file replayed at its own frame rate (or `fps` when the file has none)."""

    path: Path
    loop: bool = False
    fps: float = 15.0

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.name = f"video {self.path.name}"
        self._cap: cv2.VideoCapture | None = None
        self._fps = self.fps

    @property
    def pace_fps(self) -> float | None:
        return self._fps

    def open(self) -> None:
        self.close()
        if not self.path.is_file():
            raise CameraUnavailable(f"video file {self.path} does not exist")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailable(f"video file {self.path} cannot be decoded")
        file_fps = cap.get(cv2.CAP_PROP_FPS)
        self._fps = float(file_fps) if file_fps and file_fps > 0 else self.fps
        self._cap = cap

    def read(self) -> np.ndarray | None:
        cap = self._capture()
        ok, frame = cap.read()
        if ok and frame is not None:
            return frame
        if not self.loop:
            return None
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, frame = cap.read()
        if not ok or frame is None:
            raise CameraUnavailable(f"{self.name} cannot be rewound")
        return frame


@dataclass
class ImageFolderSource:
    """Still images replayed in file-name order at `fps`: the demo and the tests' camera.

    Images are decoded once on `open` (demo sequences are small) so replay timing does
    not depend on JPEG decode speed.
    """

    folder: Path
    fps: float = 10.0
    loop: bool = False

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.name = f"images {self.folder.name}"
        self._frames: list[np.ndarray] = []
        self._next = 0

    @property
    def pace_fps(self) -> float | None:
        return self.fps

    @property
    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    def open(self) -> None:
        if not self.folder.is_dir():
            raise CameraUnavailable(f"image folder {self.folder} does not exist")
        frames = []
        for path in self.files:
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                log.warning("skipping %s: not a readable image", path)
                continue
            frames.append(frame)
        if not frames:
            raise CameraUnavailable(f"image folder {self.folder} holds no readable images")
        self._frames, self._next = frames, 0

    def read(self) -> np.ndarray | None:
        if not self._frames:
            raise CameraUnavailable(f"{self.name} is not open")
        if self._next >= len(self._frames):
            if not self.loop:
                return None
            self._next = 0
        frame = self._frames[self._next]
        self._next += 1
        # A copy, so a consumer drawing overlays never edits the replayed image.
        return frame.copy()

    def close(self) -> None:
        self._frames, self._next = [], 0


def set_exposure(
    source: FrameSource, *, exposure: float | None = None, brightness: float | None = None
) -> str:
    """Exposure/brightness for a camera device; for a video or image folder a no-op with a
    note saying so (recorded light cannot be changed), so the technician is not misled."""
    if isinstance(source, DeviceSource):
        return source.set_exposure(exposure=exposure, brightness=brightness)
    note = f"{source.name}: a file source; exposure and brightness apply to camera devices only"
    log.info("camera controls: %s", note)
    return note


def open_source(
    spec: str | int | Path,
    *,
    width: int = 1280,
    height: int = 720,
    fps: float = 30,
    loop: bool = False,
) -> FrameSource:
    """The source a config string names: an integer is a device index, a folder is an image
    sequence, anything else a video file. Nothing is opened yet (the grabber does that, so
    a missing camera at start-up is a reconnect, not a crash)."""
    text = str(spec).strip()
    if text.isdigit():
        return DeviceSource(int(text), width=width, height=height, fps=int(fps))
    path = Path(text).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, fps=float(fps), loop=loop)
    if path.suffix.lower() in VIDEO_SUFFIXES or path.is_file():
        return VideoFileSource(path, loop=loop, fps=float(fps))
    raise CameraUnavailable(
        f"camera source {text!r} is neither a device index, an image folder nor a video file"
    )
