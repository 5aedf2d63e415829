"""Installing user-supplied model packs, and `kiosk models list|verify|install|convert`.

The graphs here are tiny synthetic ONNX files with the *shape* of InsightFace models
(the installer routes by inputs/outputs, as insightface's model_zoo does); the real
end-to-end run with faces is in test_insightface_pack.py.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from rich.console import Console

from kiosk.cli import main
from kiosk.commands import models_cmd
from kiosk.config import KioskConfig, load_config
from kiosk.errors import ModelIntegrityError, ModelPackError
from kiosk.vision.packs import list_packs, packs_dir, resolve_pack, sha256_file
from kiosk.vision.packs.insightface_pack import INSIGHTFACE_LICENCE, install_pack, route_onnx
from kiosk.vision.pipeline import FaceEngine


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def scrfd_like(path: Path, outputs: int = 9) -> Path:
    """A graph with SCRFD's interface: NCHW input, `outputs` heads (9 = 3 strides × 3)."""
    x = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "h", "w"])
    nodes = [helper.make_node("ReduceMean", ["input.1"], ["m"], keepdims=0, name="pool")]
    outs = []
    for i in range(outputs):
        nodes.append(helper.make_node("Identity", ["m"], [f"o{i}"], name=f"head{i}"))
        outs.append(helper.make_tensor_value_info(f"o{i}", TensorProto.FLOAT, [1]))
    return _save(helper.make_graph(nodes, "scrfd_like", [x], outs), path)


def recogniser_like(path: Path, size: int = 112, *, mxnet: bool = False, out_dim: int = 3) -> Path:
    """A square-input, one-output graph; `mxnet` adds the Sub/Mul nodes insightface reads
    as in-graph normalisation."""
    x = helper.make_tensor_value_info("data", TensorProto.FLOAT, [None, 3, size, size])
    nodes, inits, src = [], [], "data"
    if mxnet:
        inits = [
            helper.make_tensor("c_sub", TensorProto.FLOAT, [], [127.5]),
            helper.make_tensor("c_mul", TensorProto.FLOAT, [], [0.0078125]),
        ]
        nodes += [
            helper.make_node("Sub", ["data", "c_sub"], ["s"], name="_minusscalar0"),
            helper.make_node("Mul", ["s", "c_mul"], ["n"], name="_mulscalar0"),
        ]
        src = "n"
    nodes += [
        helper.make_node("GlobalAveragePool", [src], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
    ]
    if out_dim != 3:
        inits.append(helper.make_tensor("pad", TensorProto.INT64, [4], [0, 0, 0, out_dim - 3]))
        nodes.append(helper.make_node("Pad", ["f", "pad"], ["emb"], name="widen"))
    else:
        nodes.append(helper.make_node("Identity", ["f"], ["emb"], name="out"))
    y = helper.make_tensor_value_info("emb", TensorProto.FLOAT, [None, out_dim])
    return _save(helper.make_graph(nodes, "rec_like", [x], [y], initializer=inits), path)


def swapper_like(path: Path) -> Path:
    a = helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128])
    b = helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 128, 128])
    node = helper.make_node("Identity", ["target"], ["out"], name="id")
    return _save(helper.make_graph([node], "swap", [a, b], [y]), path)


@pytest.fixture
def cfg() -> KioskConfig:
    return load_config()


@pytest.fixture
def pack_folder(tmp_path: Path) -> Path:
    """buffalo_l's layout: detector, recogniser, two landmark models, gender/age."""
    folder = tmp_path / "buffalo_t"
    folder.mkdir()
    scrfd_like(folder / "det_10g.onnx")
    recogniser_like(folder / "w600k_r50.onnx", out_dim=512)
    recogniser_like(folder / "2d106det.onnx", size=192, out_dim=212)
    recogniser_like(folder / "1k3d68.onnx", size=192, out_dim=3309)
    recogniser_like(folder / "genderage.onnx", size=96)
    return folder


def _zip(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, prefix + path.name)
    return target


def test_folder_install_routes_like_insightface_and_writes_manifest(
    pack_folder: Path, cfg: KioskConfig
) -> None:
    swapper_like(pack_folder / "inswapper_128.onnx")
    pack = install_pack(pack_folder, cfg)
    assert pack.pack_id == "buffalo_t" and pack.root == packs_dir(cfg) / "buffalo_t"
    roles = {s.file: (s.role, s.kind) for s in pack.models}
    assert roles == {
        "det_10g.onnx": ("detector", "scrfd"),
        "w600k_r50.onnx": ("recognizer", "arcface"),
        "2d106det.onnx": ("landmark", "2d106"),
        "1k3d68.onnx": ("landmark", "3d68"),
        "genderage.onnx": ("attribute", "genderage"),
    }
    assert not (pack.root / "inswapper_128.onnx").exists()  # unused graphs are not copied
    det, rec = pack.get("detector"), pack.get("recognizer")
    assert (det.colour_order, det.mean, det.std) == ("RGB", (127.5,) * 3, (128.0,) * 3)
    assert (rec.colour_order, rec.mean, rec.std) == ("RGB", (127.5,) * 3, (127.5,) * 3)
    assert rec.input_size == (112, 112) and pack.info["embedding_dim"] == 512
    assert det.extra["strides"] == [8, 16, 32] and det.extra["num_anchors"] == 2
    assert all(s.licence == INSIGHTFACE_LICENCE for s in pack.models)
    assert all(sha256_file(s.path) == s.sha256 for s in pack.models)
    pack.verify()
    cfg.vision.pack = "buffalo_t"
    assert resolve_pack(cfg).pack_id == "buffalo_t"
    assert [p.pack_id for p in list_packs(cfg)][1:] == ["buffalo_t"]


def test_route_onnx_mirrors_arcface_mxnet_rule(tmp_path: Path) -> None:
    """Graphs whose first nodes are `_minus…`/`_mul…` normalise themselves (raw RGB in)."""
    plain = route_onnx(recogniser_like(tmp_path / "a.onnx"))
    mxnet = route_onnx(recogniser_like(tmp_path / "b.onnx", mxnet=True))
    assert plain is not None and (plain.mean, plain.std) == (127.5, 127.5)
    assert mxnet is not None and (mxnet.mean, mxnet.std) == (0.0, 1.0)
    assert route_onnx(swapper_like(tmp_path / "swap.onnx")) is None


def test_zip_with_nested_folder_installs_and_records_archive_hash(
    pack_folder: Path, cfg: KioskConfig, tmp_path: Path
) -> None:
    archive = _zip(pack_folder, tmp_path / "antelope_t.zip", prefix="antelope_t/")
    pack = install_pack(archive, cfg)
    assert pack.pack_id == "antelope_t"
    assert pack.info["source_sha256"] == sha256_file(archive)
    pack.verify()


@pytest.mark.parametrize("bad_name", ["../evil.onnx", "/tmp/abs_evil.onnx", "C:/evil.onnx"])
def test_zip_escaping_its_folder_is_refused(
    pack_folder: Path, cfg: KioskConfig, tmp_path: Path, bad_name: str
) -> None:
    archive = _zip(pack_folder, tmp_path / "evil.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(bad_name, b"not a model")
    with pytest.raises(ModelPackError, match="refused"):
        install_pack(archive, cfg)
    assert not (tmp_path / "evil.onnx").exists()
    assert not list(packs_dir(cfg).iterdir())  # no pack, no staging leftovers


def test_zip_with_symlink_is_refused(pack_folder: Path, cfg: KioskConfig, tmp_path: Path) -> None:
    archive = _zip(pack_folder, tmp_path / "link.zip")
    info = zipfile.ZipInfo("link.onnx")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ModelPackError, match="symbolic link"):
        install_pack(archive, cfg)


def test_oversized_pack_is_refused(pack_folder: Path, cfg: KioskConfig, tmp_path: Path) -> None:
    archive = _zip(pack_folder, tmp_path / "big.zip")
    with pytest.raises(ModelPackError, match="over the"):
        install_pack(archive, cfg, max_bytes=1000)
    with pytest.raises(ModelPackError, match="over the"):
        install_pack(pack_folder, cfg, max_bytes=1000)


def test_pack_with_only_a_recogniser_is_refused(cfg: KioskConfig, tmp_path: Path) -> None:
    folder = tmp_path / "rec_only"
    folder.mkdir()
    recogniser_like(folder / "w600k_r50.onnx")
    with pytest.raises(ModelPackError, match="exactly one detector, found 0"):
        install_pack(folder, cfg)
    assert not (packs_dir(cfg) / "rec_only").exists()


def test_pack_with_two_recognisers_is_refused(pack_folder: Path, cfg: KioskConfig) -> None:
    recogniser_like(pack_folder / "glintr100.onnx")
    with pytest.raises(ModelPackError, match="exactly one recognizer, found 2"):
        install_pack(pack_folder, cfg)


def test_detector_without_landmarks_is_refused(cfg: KioskConfig, tmp_path: Path) -> None:
    folder = tmp_path / "nokps"
    folder.mkdir()
    scrfd_like(folder / "scrfd_500m.onnx", outputs=6)
    recogniser_like(folder / "rec.onnx")
    with pytest.raises(ModelPackError, match="without landmark outputs"):
        install_pack(folder, cfg)


def test_garbage_onnx_is_refused_by_name(pack_folder: Path, cfg: KioskConfig) -> None:
    (pack_folder / "broken.onnx").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelPackError, match=r"broken\.onnx"):
        install_pack(pack_folder, cfg)


def test_bundled_licence_file_is_recorded(pack_folder: Path, cfg: KioskConfig) -> None:
    (pack_folder / "LICENSE.txt").write_text("\nAcme commercial licence 2026\nterms...\n")
    pack = install_pack(pack_folder, cfg)
    assert pack.get("detector").licence == "Acme commercial licence 2026"
    assert pack.get("detector").extra["licence_file"] == "LICENSE.txt"
    assert (pack.root / "LICENSE.txt").is_file()


def test_pack_names_are_checked_and_not_overwritten(pack_folder: Path, cfg: KioskConfig) -> None:
    for bad in ("../x", "default", "a b"):
        with pytest.raises(ModelPackError, match="pack name"):
            install_pack(pack_folder, cfg, bad)
    install_pack(pack_folder, cfg, "p1")
    with pytest.raises(ModelPackError, match="already installed"):
        install_pack(pack_folder, cfg, "p1")
    assert install_pack(pack_folder, cfg, "p1", replace=True).pack_id == "p1"


def test_tampered_installed_pack_stops_the_engine_naming_the_file(
    pack_folder: Path, cfg: KioskConfig
) -> None:
    pack = install_pack(pack_folder, cfg)
    with (pack.root / "w600k_r50.onnx").open("ab") as fh:
        fh.write(b"\x00")
    cfg.vision.pack = pack.pack_id
    with pytest.raises(ModelIntegrityError, match=r"w600k_r50\.onnx"):
        FaceEngine.from_config(cfg)


# --- the command line ---------------------------------------------------------------


def test_cli_install_list_verify(
    pack_folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models_cmd, "console", Console(width=200))  # no folded pack ids
    assert main(["models", "install", str(pack_folder), "--name", "bt"]) == 0
    out = capsys.readouterr().out
    assert "det_10g.onnx" in out and "w600k_r50.onnx" in out
    assert "non-commercial" in out and 'vision.pack = "bt"' in out

    monkeypatch.setenv("KIOSK_VISION_PACK", "bt")
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "bt" in out and "ocvzoo-yunet2023mar" in out and "* active" in out

    assert main(["models", "verify"]) == 0
    assert "1 pack(s) verified" in capsys.readouterr().out

    target = load_config().data_dir / "packs" / "bt" / "det_10g.onnx"
    target.write_bytes(target.read_bytes()[:-1])
    assert main(["models", "verify"]) == 2
    captured = capsys.readouterr()
    assert "MISMATCH" in captured.out and "bt/det_10g.onnx" in captured.err
    assert main(["models", "verify", "--all"]) == 2
    monkeypatch.setenv("KIOSK_VISION_PACK", "default")
    assert main(["models", "verify"]) == 0  # the bundled pack is untouched


def test_cli_install_refusal_is_one_line_and_exit_2(
    cfg: KioskConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "rec_only"
    folder.mkdir()
    recogniser_like(folder / "rec.onnx")
    assert main(["models", "install", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error [model_pack]") and "exactly one detector" in err


def test_cli_list_flags_a_missing_active_pack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIOSK_VISION_PACK", "nowhere")
    assert main(["models", "list"]) == 1
    assert "not installed" in capsys.readouterr().out


def test_cli_convert_reproduces_the_manifest_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The detector only: SFace's conversion is covered by test_vision_convert.py."""
    assert main(["models", "convert", "--out", str(tmp_path), "--role", "detector"]) == 0
    out = capsys.readouterr().out
    assert "same" in out and "DIFFERENT" not in out
    assert (tmp_path / "yunet_2023mar_fp32.onnx").is_file()
