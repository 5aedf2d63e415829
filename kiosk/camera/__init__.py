"""Camera sources (device, video file, image folder) and a latest-frame grabber with
reconnect. OpenCV only: no Qt here, so the headless demo and tests use the same code."""

from kiosk.camera.grabber import CameraStatus, GrabbedFrame, LatestFrameGrabber
from kiosk.camera.sources import (
    DeviceSource,
    FrameSource,
    ImageFolderSource,
    VideoFileSource,
    open_source,
    set_exposure,
)

__all__ = [
    "CameraStatus",
    "DeviceSource",
    "FrameSource",
    "GrabbedFrame",
    "ImageFolderSource",
    "LatestFrameGrabber",
    "VideoFileSource",
    "open_source",
    "set_exposure",
]
