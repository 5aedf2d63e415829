"""Dense landmarks (MediaPipe Face Landmarker v2 on ORT): real models, real photos."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.config import RuntimeConfig, load_config
from kiosk.errors import ModelIntegrityError
from kiosk.vision.landmark_cues import (
    eye_blink,
    eye_openness,
    head_pose,
    mouth_open,
    mouth_opening,
)
from kiosk.vision.landmarks import (
    BLENDSHAPE_NAMES,
    DenseLandmarker,
    DenseLandmarks,
    face_roi,
)
from kiosk.vision.packs import load_pack
from kiosk.vision.pipeline import FaceEngine, FaceObservation

LANDMARK_FILE = "face_landmarks_v2_2023may_fp32.onnx"
MESH_FILE = "face_canonical_mesh_2023may.csv"
# Mesh index nearest to each of YuNet's five points: iris centres, nose tip, mouth corners.
MESH_FOR_FIVE_POINTS = (468, 473, 1, 61, 291)


@pytest.fixture(scope="module")
def landmarker(engine: FaceEngine) -> DenseLandmarker:
    return DenseLandmarker.from_pack(engine.pack, RuntimeConfig(provider="cpu"))


def _face(engine: FaceEngine, image: np.ndarray) -> FaceObservation:
    face = engine.analyze(image, embed="none", long_side=640).primary
    assert face is not None
    return face


@pytest.fixture(scope="module")
def photos(data_dir: Path) -> dict[str, np.ndarray]:
    return {name: cv2.imread(str(data_dir / name)) for name in ("img2.jpg", "img12.jpg")}


@pytest.mark.parametrize("name", ["img2.jpg", "img12.jpg"])
def test_points_land_inside_the_face_box(
    name: str, photos: dict[str, np.ndarray], engine: FaceEngine, landmarker: DenseLandmarker
) -> None:
    face = _face(engine, photos[name])
    lm = landmarker.infer(photos[name], face.box, face.landmarks)
    assert lm.points.shape == (478, 3)
    assert lm.presence > 0.99
    x1, y1, x2, y2 = face.box
    w, h = x2 - x1, y2 - y1
    # YuNet's box reaches the hairline; the mesh stops at the brows' top, so it sits a
    # little low: allow 10 % of the box on each side, and require it to fill most of it.
    assert lm.points[:, 0].min() > x1 - 0.1 * w and lm.points[:, 0].max() < x2 + 0.1 * w
    assert lm.points[:, 1].min() > y1 - 0.1 * h and lm.points[:, 1].max() < y2 + 0.1 * h
    assert np.ptp(lm.points[:, 1]) > 0.8 * h and np.ptp(lm.points[:, 0]) > 0.8 * w
    assert tuple(lm.blendshapes) == BLENDSHAPE_NAMES
    assert all(0.0 <= v <= 1.0 for v in lm.blendshapes.values())


@pytest.mark.parametrize("name", ["img2.jpg", "img12.jpg"])
def test_eye_nose_and_mouth_indices_sit_on_the_detector_points(
    name: str, photos: dict[str, np.ndarray], engine: FaceEngine, landmarker: DenseLandmarker
) -> None:
    face = _face(engine, photos[name])
    lm = landmarker.infer(photos[name], face.box, face.landmarks)
    mesh = lm.points[list(MESH_FOR_FIVE_POINTS), :2]
    inter_eye = float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))
    dist = np.linalg.norm(mesh[:, None] - face.landmarks[None], axis=2)  # (mesh, detector)
    # Each mesh point is nearest to its own detector point (eyes not swapped, etc.) ...
    assert dist.argmin(axis=1).tolist() == [0, 1, 2, 3, 4]
    # ... and close to it: the two models define "eye" and "nose tip" a little
    # differently (iris centre vs eye centre), 2-9 px here, under 0.14 of the eye distance.
    assert np.diag(dist).max() < 0.14 * inter_eye


@pytest.mark.parametrize("name", ["img2.jpg", "img12.jpg"])
def test_mirrored_photo_gives_opposite_yaw_and_roll(
    name: str, photos: dict[str, np.ndarray], engine: FaceEngine, landmarker: DenseLandmarker
) -> None:
    poses = []
    for image in (photos[name], np.ascontiguousarray(photos[name][:, ::-1])):
        face = _face(engine, image)
        poses.append(head_pose(landmarker.infer(image, face.box, face.landmarks).points,
                               landmarker.canonical_mesh))  # fmt: skip
    original, mirrored = poses
    assert abs(original.yaw) > 3.0  # both photos look a little to the image's left
    assert original.yaw < 0 < mirrored.yaw
    assert mirrored.yaw == pytest.approx(-original.yaw, abs=1.5)
    assert mirrored.roll == pytest.approx(-original.roll, abs=1.5)
    assert mirrored.pitch == pytest.approx(original.pitch, abs=2.0)


def test_rotated_photo_changes_roll_by_the_rotation(
    photos: dict[str, np.ndarray], engine: FaceEngine, landmarker: DenseLandmarker
) -> None:
    image = photos["img2.jpg"]
    h, w = image.shape[:2]
    # +20° in OpenCV turns the picture counter-clockwise: the eye line rises to the right.
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 20.0, 1.0)
    rotated = cv2.warpAffine(image, turn, (w, h), borderMode=cv2.BORDER_REPLICATE)
    rolls = []
    for frame in (image, rotated):
        face = _face(engine, frame)
        lm = landmarker.infer(frame, face.box, face.landmarks)
        rolls.append(head_pose(lm.points, landmarker.canonical_mesh).roll)
    assert rolls[1] - rolls[0] == pytest.approx(20.0, abs=2.0)


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Mesh axes (x right, y up, z out of the face): yaw turns the nose to +x, pitch lifts
    it to +y, roll raises +x towards +y."""
    y, p, r = math.radians(yaw), -math.radians(pitch), math.radians(roll)
    about_y = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    about_x = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    about_z = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return about_y @ about_x @ about_z


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"), [(25.0, 0.0, 0.0), (0.0, -15.0, 0.0), (0.0, 0.0, 10.0)]
)
def test_head_pose_recovers_a_known_rotation_of_the_canonical_mesh(
    yaw: float, pitch: float, roll: float, landmarker: DenseLandmarker
) -> None:
    """The mesh turned, scaled to pixels and put in image axes (y down, z away) is read
    back exactly, with the signs of `kiosk.vision.quality.HeadPose`."""
    mesh = landmarker.canonical_mesh
    turned = mesh[:, :3] @ _rotation(yaw, pitch, roll).T * 9.0
    points = turned * np.array([1.0, -1.0, -1.0]) + np.array([320.0, 240.0, 0.0])
    pose = head_pose(points, mesh)
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=1e-6)


def test_blink_and_mouth_cues_from_blendshapes_and_from_ratios(
    photos: dict[str, np.ndarray], engine: FaceEngine, landmarker: DenseLandmarker
) -> None:
    image = photos["img2.jpg"]  # eyes open, mouth closed
    face = _face(engine, image)
    lm = landmarker.infer(image, face.box, face.landmarks)
    assert eye_blink(lm, landmarker.canonical_mesh) < 0.3
    assert mouth_open(lm) < 0.1
    bare = DenseLandmarks(lm.points, lm.presence)  # a pack without the blendshape model
    assert eye_blink(bare, landmarker.canonical_mesh) < 0.3
    assert mouth_open(bare) < 0.1
    # The canonical mesh itself: eyes open (lid gap 0.26 of eye width), lips parted 0.11.
    right, left = eye_openness(landmarker.canonical_mesh[:, :3])
    assert right == pytest.approx(left) == pytest.approx(0.2586, abs=1e-4)
    assert mouth_opening(landmarker.canonical_mesh[:, :3]) == pytest.approx(0.1115, abs=1e-4)


def test_roi_is_levelled_by_the_eye_line_and_shifted_down_the_face() -> None:
    box = np.array([100.0, 100.0, 200.0, 240.0])  # long side 140
    eyes_rising = np.array([[120.0, 160.0], [180.0, 100.0], [0, 0], [0, 0], [0, 0]])
    roi = face_roi(box, eyes_rising, scale=1.5, shift=0.1)
    assert math.degrees(roi.angle) == pytest.approx(-45.0)
    assert roi.size == pytest.approx(210.0)
    # "down the face" is rotated with it: 14 px along (sin 45°, cos 45°) from (150, 170).
    assert roi.centre == pytest.approx((150 + 14 / math.sqrt(2), 170 + 14 / math.sqrt(2)))
    corner = roi.crop_to_frame(256) @ np.array([0.0, 0.0, 1.0])
    half = np.array([-105.0, -105.0])
    c, s = math.cos(roi.angle), math.sin(roi.angle)
    expected = np.array(roi.centre) + np.array([[c, -s], [s, c]]) @ half
    assert corner == pytest.approx(expected)


def test_landmark_model_takes_a_batch(landmarker: DenseLandmarker) -> None:
    """The free batch dimension left by the conversion: a face and its mirror in one run."""
    blob = np.random.default_rng(7).random((1, 3, 256, 256), dtype=np.float32)
    session = landmarker.session
    one = session.run(None, {"image": blob})[0]
    two = session.run(None, {"image": np.concatenate([blob, blob[..., ::-1]])})[0]
    assert two.shape == (2, 1, 1, 1434)
    assert np.abs(two[0] - one[0]).max() < 1e-4


@pytest.fixture()
def pack_copy(tmp_path: Path, models_dir: Path) -> Path:
    dst = tmp_path / "pack"
    dst.mkdir()
    for item in models_dir.iterdir():
        if item.is_file():
            if item.name.startswith("sface"):  # large and untouched here
                (dst / item.name).symlink_to(item)
            else:
                shutil.copy(item, dst / item.name)
    return dst


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_tampered_landmark_model_stops_the_engine_and_the_landmarker(pack_copy: Path) -> None:
    _flip_a_byte(pack_copy / LANDMARK_FILE)
    with pytest.raises(ModelIntegrityError, match=rf"{LANDMARK_FILE}.*modified"):
        FaceEngine.from_config(load_config(environ={"KIOSK_PATHS_MODELS_DIR": str(pack_copy)}))
    with pytest.raises(ModelIntegrityError, match=rf"{LANDMARK_FILE}.*modified"):
        DenseLandmarker.from_pack(load_pack(pack_copy))


def test_tampered_canonical_mesh_is_refused_by_name(pack_copy: Path) -> None:
    mesh = pack_copy / MESH_FILE
    mesh.write_text(mesh.read_text().replace("0.000000,", "0.000001,", 1))
    with pytest.raises(ModelIntegrityError, match=rf"{MESH_FILE} does not match"):
        DenseLandmarker.from_pack(load_pack(pack_copy))
