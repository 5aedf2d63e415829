"""The InsightFace path end to end, with a real pack built from the default weights.

scripts/build_test_pack.py rewraps YuNet into SCRFD's output contract and SFace into
ArcFace's input contract, so insightface's own `model_zoo` routes them to `SCRFD` and
`ArcFaceONNX` like buffalo_l's det_10g/w600k_r50, and they find real faces. The pack is
zipped, installed with `install_pack`, selected by `vision.pack` and run by `FaceEngine`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from kiosk.config import KioskConfig, load_config
from kiosk.vision.detect_scrfd import ScrfdDetector
from kiosk.vision.embed import OnnxEmbedder, cosine_similarity
from kiosk.vision.packs.insightface_pack import install_pack, route_onnx
from kiosk.vision.pipeline import FaceEngine
from kiosk.vision.runtime import create_session

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAME_A, SAME_B, OTHER = "img1.jpg", "img2.jpg", "img12.jpg"  # person00, person00, person01


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_test_pack", REPO_ROOT / "scripts" / "build_test_pack.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cfg(data_dir: Path, pack: str) -> KioskConfig:
    return load_config(
        environ={
            "KIOSK_PATHS_DATA_DIR": str(data_dir),
            "KIOSK_RUNTIME_PROVIDER": "cpu",
            "KIOSK_VISION_PACK": pack,
        }
    )


@pytest.fixture(scope="session")
def builder() -> ModuleType:
    return _builder()


@pytest.fixture(scope="session")
def test_pack_zip(tmp_path_factory: pytest.TempPathFactory, builder: ModuleType) -> Path:
    folder = builder.build_test_pack(tmp_path_factory.mktemp("build") / "yunet_sface_if")
    return builder.zip_pack(folder, folder.with_suffix(".zip"))


@pytest.fixture(scope="session")
def kiosk_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kiosk-if-data")


@pytest.fixture(scope="session")
def scrfd_engine(test_pack_zip: Path, kiosk_data: Path) -> FaceEngine:
    pack = install_pack(test_pack_zip, _cfg(kiosk_data, "default"))
    return FaceEngine.from_config(_cfg(kiosk_data, pack.pack_id))


@pytest.fixture(scope="session")
def default_engine(kiosk_data: Path) -> FaceEngine:
    return FaceEngine.from_config(_cfg(kiosk_data, "default"))


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    return {name: cv2.imread(str(DATA / name)) for name in (SAME_A, SAME_B, OTHER)}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = np.maximum(a[:2], b[:2])
    x2, y2 = np.minimum(a[2:], b[2:])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return float(inter / (area - inter))


def test_insightface_model_zoo_routes_the_test_pack(
    test_pack_zip: Path, builder: ModuleType
) -> None:
    """The pack is a genuine InsightFace-style pack by insightface's own rules, and our
    router records the same pre-processing insightface would use."""
    from insightface.model_zoo import get_model
    from insightface.model_zoo.arcface_onnx import ArcFaceONNX
    from insightface.model_zoo.scrfd import SCRFD

    folder = test_pack_zip.with_suffix("")
    det = get_model(str(folder / builder.DETECTOR_FILE), providers=["CPUExecutionProvider"])
    rec = get_model(str(folder / builder.RECOGNIZER_FILE), providers=["CPUExecutionProvider"])
    assert isinstance(det, SCRFD) and det.use_kps and det._num_anchors == 2
    assert isinstance(rec, ArcFaceONNX)
    routed = route_onnx(folder / builder.RECOGNIZER_FILE)
    assert routed is not None and routed.role == "recognizer"
    assert (routed.mean, routed.std) == (rec.input_mean, rec.input_std) == (127.5, 127.5)
    routed_det = route_onnx(folder / builder.DETECTOR_FILE)
    assert routed_det is not None and routed_det.kind == "scrfd"
    assert (routed_det.mean, routed_det.std) == (det.input_mean, det.input_std)


def test_engine_on_installed_pack_finds_one_face(
    scrfd_engine: FaceEngine, photos: dict[str, np.ndarray]
) -> None:
    assert isinstance(scrfd_engine.detector, ScrfdDetector)
    assert scrfd_engine.pack_id == "yunet_sface_if"
    analysis = scrfd_engine.analyze(photos[SAME_A], long_side=640)
    assert len(analysis.faces) == 1
    face = analysis.faces[0]
    x1, y1, x2, y2 = face.box
    assert face.det_score > 0.8
    assert np.all((face.landmarks[:, 0] > x1) & (face.landmarks[:, 0] < x2))
    assert np.all((face.landmarks[:, 1] > y1) & (face.landmarks[:, 1] < y2))
    assert face.landmarks[0, 0] < face.landmarks[1, 0]  # image-left eye first, as YuNet
    assert face.embedding is not None and face.embedding.shape == (128,)


@pytest.mark.parametrize("name", [SAME_A, SAME_B, OTHER])
def test_scrfd_boxes_agree_with_default_pack(
    name: str,
    scrfd_engine: FaceEngine,
    default_engine: FaceEngine,
    photos: dict[str, np.ndarray],
) -> None:
    ours = scrfd_engine.detector.detect(photos[name], long_side=640)
    ref = default_engine.detector.detect(photos[name], long_side=640)
    assert len(ours) == len(ref) == 1
    assert _iou(ours.xyxy[0], ref.xyxy[0]) > 0.8
    width = ref.xyxy[0, 2] - ref.xyxy[0, 0]
    assert np.abs(ours.landmarks[0] - ref.landmarks[0]).max() < 0.05 * width


def test_same_person_scores_higher_than_a_different_person(
    scrfd_engine: FaceEngine, photos: dict[str, np.ndarray]
) -> None:
    emb = {
        name: scrfd_engine.analyze(img, long_side=640).faces[0].embedding
        for name, img in photos.items()
    }
    same = cosine_similarity(emb[SAME_A], emb[SAME_B])
    assert same > cosine_similarity(emb[SAME_A], emb[OTHER])
    assert same > cosine_similarity(emb[SAME_B], emb[OTHER])


def test_arcface_preprocessing_matches_insightface_and_the_wrapped_graph_is_exact(
    scrfd_engine: FaceEngine,
    default_engine: FaceEngine,
    photos: dict[str, np.ndarray],
    kiosk_data: Path,
) -> None:
    """OnnxEmbedder with the manifest's (x-127.5)/127.5 RGB equals insightface's own
    ArcFaceONNX.get_feat; and, since the adapter undoes exactly that, it equals plain
    SFace on raw RGB (the default pack without mirror averaging)."""
    from insightface.model_zoo.arcface_onnx import ArcFaceONNX

    face = scrfd_engine.analyze(photos[SAME_B], long_side=640).faces[0]
    rec_spec = scrfd_engine.pack.get("recognizer")
    arcface = ArcFaceONNX(str(rec_spec.path), scrfd_engine.embedder.session)
    theirs = arcface.get_feat(face.aligned).ravel()
    assert cosine_similarity(face.embedding, theirs) > 0.9999

    sface_spec = default_engine.pack.get("recognizer")
    plain = OnnxEmbedder(
        sface_spec, create_session(sface_spec.path, default_engine.cfg.runtime), flip_average=False
    )
    assert cosine_similarity(face.embedding, plain.embed(face.aligned)) > 0.9999


def test_mxnet_style_recogniser_is_fed_raw_rgb(
    tmp_path: Path, builder: ModuleType, default_engine: FaceEngine, photos: dict[str, np.ndarray]
) -> None:
    """Unwrapped SFace starts with `_minusscalar0`/`_mulscalar0`: insightface (and so our
    installer) treats it as normalising in-graph and feeds raw 0-255 RGB, which is right."""
    from insightface.model_zoo import get_model

    folder = builder.build_test_pack(tmp_path / "mx", mxnet_style=True)
    rec = get_model(str(folder / builder.MXNET_RECOGNIZER_FILE), providers=["CPUExecutionProvider"])
    assert (rec.input_mean, rec.input_std) == (0.0, 1.0)
    cfg = _cfg(tmp_path / "data", "default")
    pack = install_pack(folder, cfg)
    spec = pack.get("recognizer")
    assert (spec.mean, spec.std) == ((0.0,) * 3, (1.0,) * 3)
    face = default_engine.analyze(photos[OTHER], long_side=640).faces[0]
    ours = OnnxEmbedder(spec, create_session(spec.path, cfg.runtime)).embed(face.aligned)
    ref_spec = default_engine.pack.get("recognizer")
    ref = OnnxEmbedder(
        ref_spec, create_session(ref_spec.path, cfg.runtime), flip_average=False
    ).embed(face.aligned)
    assert cosine_similarity(ours, ref) > 0.9999


def test_scrfd_detector_honours_config(
    scrfd_engine: FaceEngine, photos: dict[str, np.ndarray]
) -> None:
    detector = scrfd_engine.detector
    assert isinstance(detector, ScrfdDetector)
    blank = np.full((480, 640, 3), 127, np.uint8)
    assert len(detector.detect(blank)) == 0
    assert detector.input_size((480, 640, 3), 320) == (320, 256)  # aspect kept, /32
    strict = ScrfdDetector(
        scrfd_engine.pack.get("detector"),
        create_session(scrfd_engine.pack.get("detector").path, scrfd_engine.cfg.runtime),
        type(scrfd_engine.cfg.vision)(det_score_threshold=0.999),
    )
    assert len(strict.detect(photos[OTHER])) == 0


def test_missing_insightface_is_one_clear_error_naming_the_extra(
    scrfd_engine: FaceEngine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """insightface is the [insightface] extra: a kiosk installed without it refuses an
    InsightFace pack with a sentence saying what to install, not an ImportError."""
    from kiosk import cli
    from kiosk.errors import MissingDependency

    for name in ("insightface", "insightface.model_zoo", "insightface.model_zoo.scrfd"):
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: import fails
    with pytest.raises(MissingDependency, match=r'pip install -e "\.\[insightface\]"') as info:
        FaceEngine.from_config(scrfd_engine.cfg)
    assert info.value.code == "missing_dependency"
    monkeypatch.setenv("KIOSK_VISION_PACK", scrfd_engine.cfg.vision.pack)
    monkeypatch.setenv("KIOSK_PATHS_DATA_DIR", str(scrfd_engine.cfg.data_dir))
    monkeypatch.setenv("KIOSK_RUNTIME_PROVIDER", "cpu")
    capsys.readouterr()
    assert cli.main(["compare", str(DATA / SAME_A), str(DATA / SAME_B)]) == 2
    err = capsys.readouterr().err  # the CLI's one line, not a traceback
    assert err.startswith("error [missing_dependency]: this model pack uses an InsightFace")
    assert err.count("\n") == 1
