"""Camera pinning on a fake sysfs tree laid out as Linux lays it out (USB webcam under a
PCI USB controller; v4l2loopback/OBS/akvcam under /sys/devices/virtual)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.camera.identity import probe_modes, read_identity
from kiosk.camera.pinning import (
    PIN_EVENT,
    CameraNotPinned,
    CameraPinMismatch,
    VirtualCameraRefused,
    check_pin,
    load_pin,
    pin_camera,
    pin_path,
)
from kiosk.errors import CameraUnavailable
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore

USB_CTRL = "sys/devices/pci0000:00/0000:00:14.0/usb1"


def add_usb_camera(
    root: Path,
    video: str = "video0",
    *,
    port: str = "1-2",
    name: str = "Logitech Webcam C925e",
    vendor: str = "046d",
    product: str = "085b",
    serial: str = "8C4F2A1E",
    driver: str = "uvcvideo",
) -> None:
    """A UVC webcam: USB device dir with ids, interface dir bound to `driver`."""
    usb = root / USB_CTRL / port
    iface = usb / f"{port}:1.0"
    node = iface / "video4linux" / video
    node.mkdir(parents=True)
    for key, value in {
        "idVendor": vendor,
        "idProduct": product,
        "serial": serial,
        "manufacturer": "Logitech",
        "product": name,
    }.items():
        (usb / key).write_text(value + "\n")
    (node / "name").write_text(name + "\n")
    drivers = root / "sys/bus/usb/drivers" / driver
    drivers.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(drivers, iface), iface / "driver")
    os.symlink(os.path.relpath(iface, node), node / "device")
    _class_link(root, video, node)


def add_virtual_camera(root: Path, video: str, name: str) -> None:
    """A v4l2loopback-style node: under /sys/devices/virtual, no device link, no USB."""
    node = root / "sys/devices/virtual/video4linux" / video
    node.mkdir(parents=True)
    (node / "name").write_text(name + "\n")
    _class_link(root, video, node)


def _class_link(root: Path, video: str, node: Path) -> None:
    cls = root / "sys/class/video4linux"
    cls.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(node, cls), cls / video)


def remove_camera(root: Path, video: str) -> None:
    (root / "sys/class/video4linux" / video).unlink()


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    add_usb_camera(root)
    return root


@pytest.fixture
def ledger(tmp_path: Path):  # type: ignore[no-untyped-def]
    with LedgerStore(tmp_path / "ledger.sqlite", DeviceKeys.load_or_create(tmp_path)) as store:
        yield store


def test_identity_is_read_from_sysfs(sysfs: Path) -> None:
    ident = read_identity(0, sysfs_root=sysfs)
    assert (ident.name, ident.driver) == ("Logitech Webcam C925e", "uvcvideo")
    assert (ident.vendor_id, ident.product_id, ident.serial) == ("046d", "085b", "8C4F2A1E")
    assert not ident.virtual and ident.virtual_reason() is None
    assert ident.bus_path.endswith("usb1/1-2/1-2:1.0")


def test_pinned_camera_passes_and_pin_is_a_signed_ledger_record(
    sysfs: Path, tmp_path: Path, ledger: LedgerStore
) -> None:
    pin = pin_camera(0, tmp_path, technician="tech-7", ledger=ledger, sysfs_root=sysfs)
    assert check_pin("0", tmp_path, ledger=ledger, sysfs_root=sysfs).serial == "8C4F2A1E"
    (env,) = list(ledger.iter_envelopes())
    assert env.record.type == "calibration" and env.record.body["event"] == PIN_EVENT
    assert env.record.body["fingerprint"] == pin.fingerprint
    assert env.record.body["pinned_by"] == "tech-7"
    assert ledger.verify() == 1


def test_a_swapped_camera_is_refused(sysfs: Path, tmp_path: Path) -> None:
    pin_camera(0, tmp_path, technician="tech-7", sysfs_root=sysfs)
    remove_camera(sysfs, "video0")
    add_usb_camera(sysfs, "video0", port="1-3", serial="DEADBEEF")  # same model, other unit
    with pytest.raises(CameraPinMismatch, match="differs in serial"):
        check_pin(0, tmp_path, sysfs_root=sysfs)


def test_a_different_model_is_refused(sysfs: Path, tmp_path: Path) -> None:
    pin_camera(0, tmp_path, technician="tech-7", sysfs_root=sysfs)
    remove_camera(sysfs, "video0")
    add_usb_camera(
        sysfs, "video0", port="1-4", name="USB Video", vendor="534d", product="2109", serial=""
    )  # an HDMI capture dongle
    with pytest.raises(CameraPinMismatch) as err:
        check_pin(0, tmp_path, sysfs_root=sysfs)
    assert err.value.code == "camera_pin_mismatch"
    assert "vendor_id" in str(err.value)


def test_the_pinned_camera_on_another_port_and_index_still_passes(
    sysfs: Path, tmp_path: Path
) -> None:
    pin_camera(0, tmp_path, technician="tech-7", sysfs_root=sysfs)
    remove_camera(sysfs, "video0")
    add_usb_camera(sysfs, "video2", port="2-1")
    assert check_pin(2, tmp_path, sysfs_root=sysfs).device == "video2"


@pytest.mark.parametrize(
    ("name", "under_virtual"),
    [
        ("Dummy video device (0x0000)", True),  # v4l2loopback's default label
        ("OBS Virtual Camera", True),
        ("AkVCam Virtual Camera", True),
        ("Integrated Camera", True),  # a loopback relabelled to look real: still virtual
    ],
)
def test_virtual_cameras_are_refused_even_if_pinned(
    tmp_path: Path, name: str, under_virtual: bool
) -> None:
    root = tmp_path / "root"
    add_virtual_camera(root, "video0", name)
    with pytest.raises(VirtualCameraRefused):
        pin_camera(0, tmp_path, technician="tech-7", sysfs_root=root)
    pin_camera(0, tmp_path, technician="bench", sysfs_root=root, allow_virtual=True)
    with pytest.raises(VirtualCameraRefused) as err:
        check_pin(0, tmp_path, sysfs_root=root)
    assert err.value.code == "camera_virtual"


@pytest.mark.parametrize("name", ["OBS Virtual Camera", "DroidCam Source 3"])
def test_virtual_names_on_a_usb_bus_are_refused(tmp_path: Path, name: str) -> None:
    root = tmp_path / "root"
    add_usb_camera(root, name=name)
    with pytest.raises(VirtualCameraRefused, match="name or driver"):
        pin_camera(0, tmp_path, technician="tech-7", sysfs_root=root)


def test_no_pin_and_files_and_absent_cameras(sysfs: Path, tmp_path: Path) -> None:
    with pytest.raises(CameraNotPinned, match="kiosk camera pin"):
        check_pin(0, tmp_path, sysfs_root=sysfs)
    pin_camera(0, tmp_path, technician="tech-7", sysfs_root=sysfs)
    with pytest.raises(CameraPinMismatch, match="not a camera device"):
        check_pin(str(tmp_path / "applicant.mp4"), tmp_path, sysfs_root=sysfs)
    with pytest.raises(CameraUnavailable, match="not present"):
        check_pin(5, tmp_path, sysfs_root=sysfs)


def test_an_edited_pin_file_is_refused(sysfs: Path, tmp_path: Path, ledger: LedgerStore) -> None:
    pin_camera(0, tmp_path, technician="tech-7", ledger=ledger, sysfs_root=sysfs)
    # The colluding technician plugs in their own camera and edits the pin to match it.
    remove_camera(sysfs, "video0")
    add_usb_camera(sysfs, "video0", port="1-3", serial="C0FFEE00")
    doc = json.loads(pin_path(tmp_path).read_text())
    doc["identity"]["serial"] = "C0FFEE00"
    pin_path(tmp_path).write_text(json.dumps(doc))
    with pytest.raises(CameraPinMismatch, match="was edited"):
        load_pin(tmp_path)
    # ...and recomputes the fingerprint too: the ledger never recorded that pin.
    from kiosk.camera.identity import CameraIdentity

    doc["fingerprint"] = CameraIdentity.from_dict(doc["identity"]).fingerprint()
    pin_path(tmp_path).write_text(json.dumps(doc))
    assert check_pin(0, tmp_path, sysfs_root=sysfs)  # without the ledger it would pass
    with pytest.raises(CameraPinMismatch, match="last pin recorded in the ledger"):
        check_pin(0, tmp_path, ledger=ledger, sysfs_root=sysfs)
    # The sanctioned route: a re-pin, signed into the ledger for the centre to see.
    pin_camera(0, tmp_path, technician="tech-7", ledger=ledger, sysfs_root=sysfs)
    assert check_pin(0, tmp_path, ledger=ledger, sysfs_root=sysfs).serial == "C0FFEE00"
    assert ledger.verify() == 2


def test_probe_modes_reads_back_what_the_source_delivers(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(5):
        writer.write(np.full((240, 320, 3), 40 * i, np.uint8))
    writer.release()
    # A file, like a virtual camera, offers one mode whatever is asked for.
    assert probe_modes(str(video)) == ((320, 240),)
