"""Bad input on the kiosk side (issue 13): config values, images, damaged ledgers and
rosters end in one clear sentence and exit code 2, never a traceback, a hang or a
memory blow-up."""

from __future__ import annotations

import dataclasses
import struct
import typing
import zlib
from pathlib import Path

import cv2
import pytest

from kiosk.cli import main
from kiosk.config import KioskConfig, load_config
from kiosk.config_ranges import RANGES
from kiosk.errors import ConfigError, ImageDecodeError
from kiosk.vision import imageio
from kiosk.vision.image_header import read_header

# --- config -------------------------------------------------------------------------------


def test_every_numeric_config_key_has_a_documented_range() -> None:
    numeric = {
        (section.name, f.name)
        for section in dataclasses.fields(KioskConfig)
        for f in dataclasses.fields(getattr(KioskConfig(), section.name))
        if typing.get_type_hints(type(getattr(KioskConfig(), section.name)))[f.name] in (int, float)
    }
    assert numeric - set(RANGES) == set()
    assert set(RANGES) - numeric == set()  # no range for a key that does not exist
    defaults = KioskConfig()
    for (section, key), (lo, hi) in RANGES.items():
        assert lo <= getattr(getattr(defaults, section), key) <= hi, (section, key)


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "[runtime]\nintra_op_threads = 100000\n",
            r"\[runtime\] intra_op_threads must be between 1 and 64",
        ),
        (
            "[runtime]\nintra_op_threads = 99999999999999999999999\n",
            r"\[runtime\] intra_op_threads must be between 1 and 64",
        ),
        ("[quality]\nmin_sharpness = 99999999999999999999999\n", r"min_sharpness must be between"),
        ("[quality]\nmin_sharpness = " + "9" * 400 + "\n", r"min_sharpness must be a number"),
        (
            "[ledger]\nretention_days = 100000000\n",
            r"\[ledger\] retention_days must be between 1 and 3650",
        ),
        ("[centre]\noverride_rate_alert = 5.0\n", r"override_rate_alert must be between 0 and 1"),
        (
            "[liveness]\nrequired_cues = 'parallax,telepathy'\n",
            r"required_cues: unknown cue 'telepathy'",
        ),
        (
            "[liveness]\ncue_weights = 'moire=lots'\n",
            r"cue_weights: 'moire=lots' is not name=number",
        ),
        ("[liveness]\ncue_weights = 'moire'\n", r"cue_weights: 'moire' is not name=number"),
        ("[liveness]\ncue_weights = 'moire=-1'\n", r"cue_weights: moire must be between 0 and 10"),
        ("[camera]\nfps = 0\n", r"\[camera\] fps must be between 1 and 240"),
    ],
)
def test_config_check_refuses_values_outside_their_range(
    tmp_path: Path, capsys: pytest.CaptureFixture, text: str, message: str
) -> None:
    f = tmp_path / "kiosk.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(f, environ={})
    assert main(["config", "check", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error [config_invalid]") and "Traceback" not in err


def test_config_check_on_a_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["config", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error [config_invalid]: {tmp_path} is a folder, not a config file\n"


def test_config_huge_integer_in_the_environment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="intra_op_threads must be between 1 and 64"):
        load_config(None, environ={"KIOSK_RUNTIME_INTRA_OP_THREADS": "9" * 23})
    with pytest.raises(ConfigError, match="turn_deg must be a finite number"):
        load_config(None, environ={"KIOSK_LIVENESS_TURN_DEG": "1" + "0" * 400})


# --- images -------------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int) -> bytes:
    """A real, valid greyscale PNG of `side`×`side` zeros (tiny on disk, huge decoded)."""
    packer = zlib.compressobj(9)
    rows = b"".join(packer.compress(b"\x00" * (side + 1)) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    data = png_bomb(8000)  # 64 megapixels, 64 KB on disk
    assert len(data) < 100_000
    assert read_header(data).width == 8000

    def never(*_: object) -> None:
        raise AssertionError("the decoder was asked to decode a bomb")

    monkeypatch.setattr(imageio.cv2, "imdecode", never)
    with pytest.raises(ImageDecodeError, match=r"image is too large \(8000×8000\)"):
        imageio.decode_image(data, "bomb.png")


def test_compare_refuses_a_gigapixel_png_with_a_clear_error(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 30000×30000 case of the issue, from a header alone (the full file is built by
    benchmarks/bench_bad_input.py, which measures memory and time)."""
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IEND", b""))
    assert main(["compare", str(bomb), str(data_dir / "img1.jpg")]) == 2
    err = capsys.readouterr().err
    assert "image is too large (30000×30000)" in err and "Traceback" not in err


def test_an_animated_png_counts_every_frame() -> None:
    ihdr = struct.pack(">IIBBBBB", 4000, 4000, 8, 0, 0, 0, 0)
    actl = struct.pack(">II", 10, 0)  # 10 frames of 16 MP
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"acTL", actl)
    with pytest.raises(ImageDecodeError, match=r"too large \(4000×4000 in 10 frames\)"):
        imageio.decode_image(data + _chunk(b"IEND", b""), "anim.png")


def test_a_truncated_jpeg_with_an_end_marker_is_refused(data_dir: Path) -> None:
    whole = (data_dir / "img1.jpg").read_bytes()
    assert imageio.decode_image(whole).shape == (1868, 1382, 3)
    cut = whole[: int(len(whole) * 0.6)] + b"\xff\xd9"
    with pytest.raises(ImageDecodeError, match=r"img1\.jpg: JPEG data is truncated or corrupt"):
        imageio.decode_image(cut, "img1.jpg")


def test_compare_refuses_a_truncated_jpeg_with_an_end_marker(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    whole = (data_dir / "img1.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: int(len(whole) * 0.6)] + b"\xff\xd9")
    assert main(["compare", str(cut), str(data_dir / "img1.jpg")]) == 2
    err = capsys.readouterr().err
    assert "error [image_decode]: cut.jpg: JPEG data is truncated or corrupt" in err


@pytest.mark.parametrize("ext", [".png", ".bmp", ".webp"])
def test_other_formats_still_decode_after_the_header_check(data_dir: Path, ext: str) -> None:
    image = cv2.imread(str(data_dir / "img2.jpg"))[:300, :200]
    ok, encoded = cv2.imencode(ext, image)
    assert ok
    assert read_header(encoded.tobytes()).width == 200
    assert imageio.decode_image(encoded.tobytes()).shape == (300, 200, 3)


def test_an_unknown_format_is_named() -> None:
    with pytest.raises(ImageDecodeError, match="not a JPEG, PNG, BMP, WebP or GIF image"):
        imageio.decode_image(b"P6\n40000 40000\n255\n" + b"\0" * 64, "x.ppm")


# --- damaged ledger and roster ---------------------------------------------------------------


def _ledger_with_records(n: int) -> Path:
    from kiosk.ledger.keys import DeviceKeys, KeyPolicy
    from kiosk.ledger.store import LedgerStore

    cfg = load_config()
    keys = DeviceKeys.load_or_create(cfg.data_dir, KeyPolicy.from_config(cfg))
    with LedgerStore(cfg.ledger_path, keys) as store:
        for i in range(n):
            store.append("session_open", {"session_id": f"S-{i}"})
    for extra in cfg.ledger_path.parent.glob("ledger.sqlite-*"):
        extra.unlink()  # checkpointed on close: the main file is the whole ledger
    return cfg.ledger_path


@pytest.mark.parametrize("fraction", [0.95, 0.9, 0.5])
@pytest.mark.parametrize("command", ["verify", "status", "export"])
def test_a_truncated_ledger_is_a_named_error(
    capsys: pytest.CaptureFixture, command: str, fraction: float
) -> None:
    path = _ledger_with_records(30)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    capsys.readouterr()
    assert main(["ledger", command]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        ("error [ledger_tampered]", "error [ledger_error]", "error [storage_damaged]")
    )
    assert "Traceback" not in err and "NoneType" not in err


def test_a_deeply_nested_roster_is_a_named_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["keys", "init"]) == 0
    assert main(["roster", "make-demo", "--pin-demo-key"]) == 0  # pins a centre key
    capsys.readouterr()
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert main(["roster", "import", str(deep)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error [roster_invalid]: roster is not valid JSON: JSON nests deeper")
    shallow_but_deep = tmp_path / "deep40.json"
    shallow_but_deep.write_text('{"a":' * 40 + "1" + "}" * 40, encoding="utf-8")
    assert main(["roster", "import", str(shallow_but_deep)]) == 2
    assert "nests deeper than 32 levels" in capsys.readouterr().err
