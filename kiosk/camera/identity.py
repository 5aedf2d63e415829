"""Which camera is this? Its identity as Linux exposes it, and the modes it accepts.

Read at pin time and at every door start (`kiosk.camera.pinning` compares the two): the
sysfs name, USB vendor/product/serial, the kernel driver, the V4L2 ``QUERYCAP`` driver
and card where the device node answers, whether the node hangs under
``/sys/devices/virtual``, and the resolutions it accepts. A virtual camera (v4l2loopback,
OBS Virtual Camera, ...) names itself in one of these; `CameraIdentity.virtual_reason`
says which.

Everything reads through a ``sysfs_root`` (default ``/``) so tests run on a fake tree.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kiosk.errors import CameraUnavailable


class CameraNotPinned(CameraUnavailable):
    """No camera has been pinned yet: a technician must run `kiosk camera pin`."""

    code = "camera_not_pinned"


class CameraPinMismatch(CameraUnavailable):
    """The camera present is not the pinned one (or the pin file disagrees with the ledger)."""

    code = "camera_pin_mismatch"


class VirtualCameraRefused(CameraPinMismatch):
    """The camera is a virtual/software device: frames could be injected from a file."""

    code = "camera_virtual"


# Lower-case substrings of a V4L2 name/driver/card that mark a virtual or software camera.
VIRTUAL_MARKERS = (
    "v4l2 loopback",
    "v4l2loopback",
    "v4l2_loopback",
    "obs virtual",
    "obs-camera",
    "obs camera",
    "dummy video device",
    "akvcam",
    "virtual camera",
    "virtualcam",
    "vivid",  # the kernel's virtual video test driver
    "manycam",
    "snap camera",
    "xsplit",
    "splitcam",
    "e2esoft",
    "webcamoid",
    "droidcam",
    "iriun",
    "epoccam",
    "unity video capture",
)


# Resolutions tried when probing a camera's modes at pin time.
PROBE_MODES = ((640, 480), (800, 600), (1280, 720), (1920, 1080), (320, 240))


@dataclass(frozen=True)
class CameraIdentity:
    """What the OS says a V4L2 camera is. `modes` is informational (probing opens the
    camera); the rest is compared by `matches`."""

    device: str  # "video0"
    name: str  # /sys/class/video4linux/video0/name
    driver: str  # kernel driver bound to the device (e.g. uvcvideo), "" when none
    v4l2_driver: str = ""  # VIDIOC_QUERYCAP driver, when the node answered
    v4l2_card: str = ""
    vendor_id: str = ""  # USB idVendor, hex
    product_id: str = ""
    serial: str = ""
    manufacturer: str = ""
    product: str = ""
    bus_path: str = ""  # resolved sysfs device path (USB port); informational only
    virtual: bool = False  # the node lives under /sys/devices/virtual
    modes: tuple[tuple[int, int], ...] = field(default=())

    def compared(self) -> dict[str, Any]:
        """The fields a swap would change. Port (`bus_path`) and `device` number are left
        out: re-plugging the same camera into another port must not lock the door."""
        return {
            "name": self.name,
            "driver": self.driver,
            "v4l2_driver": self.v4l2_driver,
            "v4l2_card": self.v4l2_card,
            "vendor_id": self.vendor_id,
            "product_id": self.product_id,
            "serial": self.serial,
            "virtual": self.virtual,
        }

    def fingerprint(self) -> str:
        blob = json.dumps(self.compared(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def virtual_reason(self) -> str | None:
        """Why this camera looks virtual, or None."""
        if self.virtual:
            return "its device node is under /sys/devices/virtual (no hardware behind it)"
        text = " ".join((self.name, self.driver, self.v4l2_driver, self.v4l2_card)).lower()
        for marker in VIRTUAL_MARKERS:
            if marker in text:
                return f"its name or driver says {marker!r}"
        return None

    def describe(self) -> str:
        usb = f"{self.vendor_id}:{self.product_id}" if self.vendor_id else "no USB ids"
        serial = f" serial {self.serial}" if self.serial else ""
        return f"{self.name!r} ({self.driver or self.v4l2_driver or 'no driver'}, {usb}{serial})"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["modes"] = [list(m) for m in self.modes]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CameraIdentity:
        try:
            fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
            fields["modes"] = tuple((int(w), int(h)) for w, h in d.get("modes", []))
            return cls(**fields)
        except (TypeError, ValueError, KeyError) as exc:
            raise CameraPinMismatch(f"camera pin is malformed ({exc})") from None


def device_name(source: str | int) -> str:
    """``video<N>`` for a device index, ``/dev/videoN`` or a ``/dev/v4l/by-id`` link;
    CameraPinMismatch for a file or folder (not a camera: frames from a file are
    exactly what pinning keeps out of the door)."""
    text = str(source).strip()
    if text.isdigit():
        return f"video{int(text)}"
    path = Path(text)
    if text.startswith("/dev/"):
        with contextlib.suppress(OSError):
            path = path.resolve()
        if re.fullmatch(r"video\d+", path.name):
            return path.name
    raise CameraPinMismatch(
        f"camera source {text!r} is not a camera device; the door only runs on the pinned camera"
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _usb_parent(device_dir: Path) -> Path | None:
    """The USB device directory (the one with idVendor) above a V4L2 device's interface."""
    for candidate in (device_dir, *device_dir.parents):
        if (candidate / "idVendor").is_file():
            return candidate
        if candidate.name in ("devices", "sys", "") or candidate == candidate.parent:
            break
    return None


_V4L2_CAP = struct.Struct("16s32s32sIII12x")
_VIDIOC_QUERYCAP = (2 << 30) | (_V4L2_CAP.size << 16) | (ord("V") << 8) | 0


def query_v4l2_caps(node: Path) -> tuple[str, str] | None:
    """(driver, card) from VIDIOC_QUERYCAP on a device node; None when it cannot be asked."""
    try:
        fd = os.open(node, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        buf = bytearray(_V4L2_CAP.size)
        fcntl.ioctl(fd, _VIDIOC_QUERYCAP, buf)
    except OSError:
        return None
    finally:
        os.close(fd)
    driver, card, _bus, _ver, _caps, _dcaps = _V4L2_CAP.unpack(bytes(buf))
    return (
        driver.split(b"\0", 1)[0].decode("ascii", "replace"),
        card.split(b"\0", 1)[0].decode("utf-8", "replace"),
    )


def read_identity(
    source: str | int,
    *,
    sysfs_root: Path = Path("/"),
    dev_root: Path | None = None,
) -> CameraIdentity:
    """The identity of the camera `source` names, from sysfs (and QUERYCAP on the node).

    `dev_root` is where device nodes live (``/dev`` under the real root; unset in tests
    with a fake sysfs tree, where there is no node to ask).
    """
    dev = device_name(source)
    cls_dir = Path(sysfs_root) / "sys" / "class" / "video4linux" / dev
    if not cls_dir.exists():
        raise CameraUnavailable(f"camera {dev} is not present (no {cls_dir})")
    resolved = cls_dir.resolve()
    virtual = "/devices/virtual/" in resolved.as_posix() + "/"
    device_dir = cls_dir / "device"
    driver = ""
    bus_path = ""
    usb = None
    if device_dir.exists():
        real_device = device_dir.resolve()
        bus_path = real_device.as_posix().removeprefix(Path(sysfs_root).resolve().as_posix())
        driver_link = device_dir / "driver"
        if driver_link.exists():
            driver = driver_link.resolve().name
        usb = _usb_parent(real_device)
    if dev_root is None and Path(sysfs_root) == Path("/"):
        dev_root = Path("/dev")
    caps = query_v4l2_caps(dev_root / dev) if dev_root is not None else None
    return CameraIdentity(
        device=dev,
        name=_read(cls_dir / "name"),
        driver=driver,
        v4l2_driver=caps[0] if caps else "",
        v4l2_card=caps[1] if caps else "",
        vendor_id=_read(usb / "idVendor") if usb else "",
        product_id=_read(usb / "idProduct") if usb else "",
        serial=_read(usb / "serial") if usb else "",
        manufacturer=_read(usb / "manufacturer") if usb else "",
        product=_read(usb / "product") if usb else "",
        bus_path=bus_path,
        virtual=virtual,
    )


class _Capture(Protocol):
    def isOpened(self) -> bool: ...  # OpenCV spells it so

    def set(self, prop: int, value: float) -> bool: ...

    def get(self, prop: int) -> float: ...

    def read(self) -> tuple[bool, Any]: ...

    def release(self) -> None: ...


def probe_modes(
    source: str | int,
    *,
    candidates: Iterable[tuple[int, int]] = PROBE_MODES,
    open_capture: Callable[[str | int], _Capture] | None = None,
) -> tuple[tuple[int, int], ...]:
    """Resolutions the camera actually delivers (asked for each candidate, read back).

    A virtual camera usually offers exactly one; a real webcam several. Slow (it opens
    the camera), so only done at pin time.
    """
    import cv2

    opener = open_capture or (lambda s: cv2.VideoCapture(int(s) if str(s).isdigit() else s))
    cap = opener(source)
    found: set[tuple[int, int]] = set()
    try:
        if not cap.isOpened():
            raise CameraUnavailable(f"camera {source} cannot be opened to probe its modes")
        for width, height in candidates:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            ok, frame = cap.read()
            if ok and frame is not None:
                found.add((int(frame.shape[1]), int(frame.shape[0])))
    finally:
        cap.release()
    return tuple(sorted(found))


__all__ = [
    "PROBE_MODES",
    "VIRTUAL_MARKERS",
    "CameraIdentity",
    "CameraNotPinned",
    "CameraPinMismatch",
    "VirtualCameraRefused",
    "device_name",
    "probe_modes",
    "query_v4l2_caps",
    "read_identity",
]
