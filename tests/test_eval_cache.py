"""`kiosk eval --cache` and `--long-side`: a warm run gives the cold run's embeddings bit
for bit without detecting again; a changed photo, rule or format misses; round 1's fixed
640 px rule (`--face largest --long-side 640`) scores exactly as `embed_photo` does."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from kiosk.cli import main
from kiosk.evaluation import embedding_cache
from kiosk.evaluation.batch_embed import embed_images
from kiosk.evaluation.embedding_cache import ChosenFace, EmbeddingCache, context_key
from kiosk.vision.pipeline import FaceEngine

CHECKIN = Path(__file__).resolve().parent / "data" / "checkin"
NAMES = ["img26.jpg", "img42.jpg", "img43.jpg", "img47.jpg"]
PAIRS = "image_a,image_b,same_person\nimg26.jpg,img42.jpg,1\nimg42.jpg,img43.jpg,1\n"
PAIRS += "img26.jpg,img47.jpg,0\nimg43.jpg,img47.jpg,0\n"


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(CHECKIN / name, folder / name)
    (folder / "pairs.csv").write_text(PAIRS)
    return folder


class CountingDetector:
    """The engine's real detector, counting its calls."""

    def __init__(self, real: object) -> None:
        self.real, self.calls = real, 0

    def detect(self, image: np.ndarray, long_side: int | None = None) -> object:
        self.calls += 1
        return self.real.detect(image, long_side=long_side)  # type: ignore[attr-defined]


def run(engine: FaceEngine, folder: Path, cache: EmbeddingCache, names: list[str]) -> tuple:
    faces: dict[str, ChosenFace] = {}
    embeddings = embed_images(
        engine, folder, names, workers=2, cache=cache, on_face=faces.__setitem__
    )
    return embeddings, faces


def test_a_warm_cache_gives_the_cold_embeddings_without_detecting(
    engine: FaceEngine, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = CountingDetector(engine.detector)
    monkeypatch.setattr(engine, "detector", counting)
    db = tmp_path / "cache" / "embeddings.sqlite"
    context = context_key({"face_rule": "largest", "long_side": 640})
    cache = EmbeddingCache.open(db, context)
    cold, cold_faces = run(engine, photos, cache, NAMES)
    cache.close()
    assert counting.calls == len(NAMES)

    shutil.copy(photos / "img26.jpg", photos / "renamed.jpg")  # same bytes, new name
    # Trailing NULs after the end marker: the same pixels, another SHA-256.
    (photos / "edited.jpg").write_bytes((photos / "img42.jpg").read_bytes() + b"\x00")
    cache = EmbeddingCache.open(db, context)
    warm, warm_faces = run(engine, photos, cache, [*NAMES, "renamed.jpg", "edited.jpg"])
    cache.close()
    assert counting.calls == len(NAMES) + 1  # only the edited file was detected again
    for name in NAMES:
        assert np.array_equal(warm[name], cold[name])  # bit for bit
        assert warm[name].dtype == np.float32
        assert _where(warm_faces[name]) == _where(cold_faces[name])
        assert warm_faces[name].box == cold_faces[name].box
    assert np.array_equal(warm["renamed.jpg"], cold["img26.jpg"])
    assert np.array_equal(warm["edited.jpg"], cold["img42.jpg"])

    other = EmbeddingCache.open(db, context_key({"face_rule": "centre", "long_side": 640}))
    digest = _sha256(photos / "img26.jpg")
    assert other.get(digest) is None  # another face rule: another context
    other.close()


def _where(face: ChosenFace) -> tuple[int, int, int]:
    return face.faces_found, face.index, face.long_side


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_context_key_covers_each_fact_and_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"manifest_sha256": "ab", "face_rule": "centre", "long_side": "still"}
    key = context_key(base)
    assert key == context_key(dict(reversed(base.items())))  # order does not matter
    for fact, value in (("manifest_sha256", "ac"), ("face_rule", "largest"), ("long_side", 640)):
        assert context_key({**base, fact: value}) != key, fact
    monkeypatch.setattr(embedding_cache, "CACHE_FORMAT", embedding_cache.CACHE_FORMAT + 1)
    assert context_key(base) != key  # a format bump retires every stored row


def scores(out: Path) -> list[str]:
    with (out / "pairs_scored.csv").open() as fh:
        return [r["score"] for r in csv.DictReader(fh)]


def test_eval_cache_and_round_one_rule_keep_every_score(
    engine: FaceEngine, photos: Path, tmp_path: Path
) -> None:
    pairs = photos / "pairs.csv"
    base = ["eval", str(pairs), "--images", str(photos), "--face", "largest", "--long-side", "640"]
    for out in ("cold", "warm", "plain"):
        extra = [] if out == "plain" else ["--cache"]
        assert main([*base, "--out", str(tmp_path / out), *extra]) == 0
    for name in ("pairs_scored.csv", "faces.csv", "summary.json"):
        cold = (tmp_path / "cold" / name).read_bytes()
        assert (tmp_path / "warm" / name).read_bytes() == cold, name
        assert (tmp_path / "plain" / name).read_bytes() == cold, name
    # Round 1 scored the largest face of each photo detected at 640 px (`embed_photo`).
    one_by_one = {n: engine.embed_photo(str(photos / n), long_side=640).embedding for n in NAMES}
    expected = [
        f"{float(np.dot(one_by_one[a], one_by_one[b])):.6f}"
        for a, b, _ in (line.split(",") for line in PAIRS.splitlines()[1:])
    ]
    assert scores(tmp_path / "cold") == expected


def test_an_unreadable_cache_is_reported_and_the_run_goes_on(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from kiosk.config import load_config

    db = load_config().paths.resolved_data_dir() / "eval" / "embeddings.sqlite"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not a database, " * 256)
    args = ["eval", str(photos / "pairs.csv"), "--images", str(photos), "--cache"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "note: no embedding cache (" in out and "embedding every photo" in out
    assert len(scores(tmp_path / "out")) == 4


def test_long_side_out_of_range_is_one_sentence(
    photos: Path, capsys: pytest.CaptureFixture
) -> None:
    args = ["eval", str(photos / "pairs.csv"), "--images", str(photos), "--long-side", "8"]
    assert main(args) == 2
    assert "--long-side must be between 32 and 4096 pixels, not 8" in capsys.readouterr().err


def test_a_cache_that_fails_mid_run_only_costs_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlite3

    db = tmp_path / "embeddings.sqlite"
    cache = EmbeddingCache.open(db, context_key({}))
    face = ChosenFace(np.ones(4, np.float32) / 2, (1.0, 2.0, 3.0, 4.0), 1, 0, 640)
    cache.put_many([("aa", face)])
    assert np.array_equal(cache.get("aa").embedding, face.embedding)  # type: ignore[union-attr]
    other = sqlite3.connect(db)
    other.execute("DROP TABLE still_faces")  # what a damaged or replaced file looks like
    other.commit()
    other.close()
    with caplog.at_level("WARNING", logger="kiosk.evaluation.embedding_cache"):
        assert cache.get("aa") is None
        cache.put_many([("bb", face)])  # skipped, not raised
        assert cache.get("bb") is None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "embedding cache unusable (no such table" in warnings[0]
    cache.close()
