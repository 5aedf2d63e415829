"""A pair list whose photos put a larger bystander beside the centred subject.

It shows what the face rule does to the figures: `kiosk eval --face centre` scores the
subject, `--face largest` the bystander. Each person's first photo becomes a subject,
with the next person's first photo (cyclically) as the bystander; the composite is
paired with the subject's other photos (same person), the bystander's other photos and
one photo of everyone else (different people).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from kiosk.evaluation.pairs import write_identities, write_pairs
from kiosk.vision.imageio import read_image

CANVAS = (1280, 720)  # w, h


def compose_bystander_photo(subject: np.ndarray, bystander: np.ndarray) -> np.ndarray:
    """Subject centred at 55% of the height on grey; the bystander, bigger, filling the
    left third (cropped around its middle)."""
    w, h = CANVAS
    canvas = np.full((h, w, 3), 128, np.uint8)
    by = cv2.resize(bystander, (max(1, round(bystander.shape[1] * h / bystander.shape[0])), h))
    cw = min(by.shape[1], w // 3)
    x0 = (by.shape[1] - cw) // 2
    canvas[:, :cw] = by[:, x0 : x0 + cw]
    sh = int(h * 0.55)
    sub = cv2.resize(subject, (max(1, round(subject.shape[1] * sh / subject.shape[0])), sh))
    sw = min(sub.shape[1], w - cw)
    y, x = (h - sh) // 2, max(cw, (w - sw) // 2)
    canvas[y : y + sh, x : x + sw] = sub[:, :sw]
    return canvas


def build_bystander_set(faces_dir: Path, identities: dict[str, str], out_dir: Path) -> Path:
    """Write composites, the photos they are paired with, and `pairs.csv`; returns it."""
    people: dict[str, list[str]] = {}
    for image, person in sorted(identities.items()):
        people.setdefault(person, []).append(image)
    names = sorted(people)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, int]] = []
    composites: dict[str, str] = {}
    for k, person in enumerate(names):
        other = names[(k + 1) % len(names)]
        subject, bystander = people[person][0], people[other][0]
        composite = f"{Path(subject).stem}_with_{Path(bystander).stem}.jpg"
        photo = compose_bystander_photo(
            read_image(str(faces_dir / subject)), read_image(str(faces_dir / bystander))
        )
        cv2.imwrite(str(out_dir / composite), photo, [cv2.IMWRITE_JPEG_QUALITY, 95])
        composites[composite] = person
        rows += [(composite, img, 1) for img in people[person][1:]]
        rows += [(composite, img, 0) for img in people[other][1:]]
        rows += [(composite, people[p][-1], 0) for p in names if p not in (person, other)]
    for _, img, _ in rows:
        if not (out_dir / img).exists():
            shutil.copy(faces_dir / img, out_dir / img)
    path = out_dir / "pairs.csv"
    write_pairs(path, rows)
    write_identities(
        out_dir / "identities.csv",
        [
            *sorted(composites.items()),
            *sorted((img, identities[img]) for img in {r[1] for r in rows}),
        ],
    )
    return path
