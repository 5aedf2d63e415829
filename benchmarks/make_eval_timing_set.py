"""A `kiosk eval` timing set shaped like the issue's (thousands of small web stills), made
from the real portraits of ../shared/faces, since nothing can be downloaded here.

Issue 17 timed `kiosk eval` on 7,701 still photos, most likely LFW-like 250x250 web
crops. The shared set is 61 large portraits (400-4,600 px), so each portrait becomes:
  - 12 LFW-like 250x250 JPEGs: square crops around the face at three framings, four
    small offsets, every other one mirrored (a different image, the same person);
  - 4 640x480 (or 480x640) JPEGs at two framings, mirrored and not;
  - the original file, once, for the ~40 portraits over 1,000 px (the "few large").
That is ~1,000 images of 13 people. Pairs follow LFW's view: half same-person, half
different-person, drawn with a fixed seed, each image in ~3 pairs. Faces are located
with the kiosk's own detector (`--face centre`), once, at 640 px.

    python benchmarks/make_eval_timing_set.py /tmp/eval_timing [--pairs 3000] [--faces DIR]

writes DIR/images/*.jpg, DIR/pairs.csv and DIR/identities.csv (`kiosk eval` reads the
identities file beside the pair list). Images are generated, never committed.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
from pathlib import Path

import cv2
import numpy as np

from kiosk.config import REPO_ROOT, load_config
from kiosk.evaluation.pairs import write_identities, write_pairs
from kiosk.vision.imageio import read_image
from kiosk.vision.pipeline import FaceEngine
from kiosk.vision.stills import face_by_rule

SHARED_FACES = REPO_ROOT.parent / "shared" / "faces"
LFW_SIDE = 250
CROP_FRAMINGS = (2.0, 2.5, 3.0)  # crop side / face box side
CROP_OFFSETS = ((0.0, 0.0), (0.08, 0.0), (-0.08, 0.04), (0.0, -0.06))  # of the crop side
WIDE_FRAMINGS = (3.5, 5.0)  # 640x480 frame height / face box height
LARGE_ORIGINAL = 1000  # originals with a long side above this are kept as they are
JPEG_QUALITY = 90


def crop_resized(
    image: np.ndarray, cx: float, cy: float, w: float, h: float, size: tuple[int, int]
) -> np.ndarray:
    """The w x h window centred at (cx, cy), edge-replicated where it leaves the photo,
    resized to `size` (width, height)."""
    x0, y0 = round(cx - w / 2), round(cy - h / 2)
    x1, y1 = x0 + round(w), y0 + round(h)
    ih, iw = image.shape[:2]
    pad = max(0, -x0, -y0, x1 - iw, y1 - ih)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    window = image[y0:y1, x0:x1]
    interp = cv2.INTER_AREA if window.shape[1] > size[0] else cv2.INTER_LINEAR
    return cv2.resize(window, size, interpolation=interp)


def variants(image: np.ndarray, box: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(suffix, image) for every derived still of one portrait."""
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1)
    out = []
    n = 0
    for framing in CROP_FRAMINGS:
        crop = side * framing
        for dx, dy in CROP_OFFSETS:
            still = crop_resized(image, cx + dx * crop, cy + dy * crop, crop, crop, (LFW_SIDE,) * 2)
            out.append((f"lfw{n:02d}", still[:, ::-1] if n % 2 else still))
            n += 1
    portrait = image.shape[0] > image.shape[1]
    size = (480, 640) if portrait else (640, 480)
    for k, framing in enumerate(WIDE_FRAMINGS):
        h = (y2 - y1) * framing
        w = h * size[0] / size[1]
        for flip in (False, True):
            still = crop_resized(image, cx, cy, w, h, size)
            out.append((f"vga{2 * k + flip}", still[:, ::-1] if flip else still))
    return out


def build(out: Path, faces: Path, pairs: int, seed: int) -> tuple[int, int]:
    cfg = load_config(None)
    engine = FaceEngine.from_config(cfg)
    choose = face_by_rule("centre")
    with (faces / "identities.csv").open(newline="", encoding="utf-8") as fh:
        people = {row["image"]: row["person"] for row in csv.DictReader(fh)}
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    person_of: dict[str, str] = {}
    for name, person in sorted(people.items()):
        source = faces / name
        image = read_image(source)
        face = choose(engine.analyze(image, embed="none", long_side=640))
        if face is None:
            continue
        stem = Path(name).stem
        for suffix, still in variants(image, face.box):
            target = f"{stem}_{suffix}.jpg"
            ok, data = cv2.imencode(
                ".jpg", np.ascontiguousarray(still), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
            )
            if not ok:
                raise RuntimeError(f"cannot encode {target}")
            (images / target).write_bytes(data.tobytes())
            person_of[target] = person
        if max(image.shape[:2]) > LARGE_ORIGINAL:
            shutil.copyfile(source, images / name)
            person_of[name] = person
    write_lists(out, person_of, pairs, seed)
    return len(person_of), pairs


def write_lists(out: Path, person_of: dict[str, str], pairs: int, seed: int) -> None:
    """identities.csv and an LFW-like pairs.csv: half same-person (from two
    different portraits), half different."""
    rng = random.Random(seed)
    by_person: dict[str, list[str]] = {}
    for name in sorted(person_of):
        by_person.setdefault(person_of[name], []).append(name)
    names = sorted(person_of)
    chosen: set[tuple[str, str]] = set()
    rows: list[tuple[str, str, int]] = []
    while len(rows) < pairs:
        same = len(rows) % 2 == 0
        if same:
            group = by_person[rng.choice(sorted(by_person))]
            a, b = rng.sample(group, 2)
            if a.split("_")[0].removesuffix(".jpg") == b.split("_")[0].removesuffix(".jpg"):
                continue  # two stills of one portrait: too easy to stand for a pair
        else:
            a, b = rng.sample(names, 2)
            if person_of[a] == person_of[b]:
                continue
        key = (min(a, b), max(a, b))
        if key in chosen:
            continue
        chosen.add(key)
        rows.append((key[0], key[1], int(same)))
    write_pairs(out / "pairs.csv", rows)
    write_identities(out / "identities.csv", sorted(person_of.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write images/, pairs.csv, identities.csv")
    parser.add_argument("--pairs", type=int, default=3000, help="pairs to draw (default 3000)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--faces", type=Path, default=SHARED_FACES, help=f"portraits (default {SHARED_FACES})"
    )
    args = parser.parse_args()
    images, pairs = build(args.out, args.faces, args.pairs, args.seed)
    print(f"{images} images, {pairs} pairs in {args.out}")


if __name__ == "__main__":
    main()
