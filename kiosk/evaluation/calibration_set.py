"""A site calibration set captured from the live camera, and the threshold it gives.

Why: the bundled threshold was measured on photos from other cameras. Lighting, lens
and distance at a real door shift genuine and impostor scores, so the technician
captures a few people *at this door* and lets the kiosk choose the threshold for the
configured target FMR on that set (ISO/IEC 19795-1 terms, see `kiosk.evaluation.evaluation`,
whose scoring, plot and calibration file this module reuses).

What is kept: the aligned faces' embeddings with a pseudonymous label per person
(``P01``, not a name), in ``<data_dir>/calibration/sets/<stamp>/embeddings.npz`` with
owner-only permissions. Raw frames are stored only when the technician asks for it
(``kiosk calibrate --keep-images``). The calibration is confirmed by the technician and
only then written, with a signed ``calibration`` record made first (like a camera pin,
`kiosk.camera.pinning`): a crash leaves the old threshold in force, never an unrecorded
new one. No Qt here; the window in `kiosk.ui.calibration_set_panel` only drives this.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk.checkin.calibration_floor import MIN_PEOPLE, FloorVerdict, assess
from kiosk.errors import KioskError, PolicyViolation
from kiosk.evaluation import evaluation as ev
from kiosk.evaluation.plots import plot_roc_det
from kiosk.ledger.record_ledger import RecordLedger as _Ledger
from kiosk.vision.pipeline import FaceObservation, FrameAnalysis

log = logging.getLogger(__name__)

CALIBRATION_EVENT = "threshold_calibrated"  # body.event of the `calibration` record
SET_FILE = "embeddings.npz"
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
# Two samples this similar are the same frame twice (a paused or looping source): they
# would inflate genuine scores, so the second is not taken.
DUPLICATE_COSINE = 0.9995


class Offer(StrEnum):
    """What became of a frame offered to the set."""

    TAKEN = "taken"
    NO_FACE = "no_face"
    POOR_QUALITY = "poor_quality"
    DUPLICATE = "duplicate"
    PERSON_COMPLETE = "person_complete"


def check_label(label: str) -> str:
    """A person label: short, pseudonymous, safe as a file name (``P01``, ``tech-2``)."""
    label = label.strip() if isinstance(label, str) else ""
    if not _LABEL_RE.match(label):
        raise PolicyViolation(
            "person label must be 1-32 letters, digits, '.', '_' or '-' (use P01, not a name)"
        )
    return label


def default_sets_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "calibration" / "sets"


def default_calibration_path(data_dir: Path) -> Path:
    """Where a site calibration goes when ``[match] calibration_file`` names none."""
    return Path(data_dir) / "calibration" / "calibration.toml"


@dataclass
class CalibrationSet:
    """Embeddings of good faces per person label, captured at this door."""

    pack_id: str
    per_person: int = 5
    labels: list[str] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    images: list[np.ndarray | None] = field(default_factory=list, repr=False)

    def count(self, label: str) -> int:
        return self.labels.count(label)

    @property
    def people(self) -> list[str]:
        return sorted(set(self.labels))

    def counts(self) -> dict[str, int]:
        return {p: self.count(p) for p in self.people}

    def offer(
        self, label: str, face: FaceObservation | None, frame: np.ndarray | None = None
    ) -> Offer:
        """Take `face` for `label` if it is a good, new face and the person still needs
        samples. `frame` is kept only when given (the ``--keep-images`` case)."""
        label = check_label(label)
        if self.count(label) >= self.per_person:
            return Offer.PERSON_COMPLETE
        if face is None or face.embedding is None:
            return Offer.NO_FACE
        if not face.quality.ok:
            return Offer.POOR_QUALITY
        vec = np.asarray(face.embedding, dtype=np.float32)
        mine = [e for lab, e in zip(self.labels, self.embeddings, strict=True) if lab == label]
        if any(float(np.dot(vec, e)) >= DUPLICATE_COSINE for e in mine):
            return Offer.DUPLICATE
        self.labels.append(label)
        self.embeddings.append(vec.copy())
        self.quality.append(float(face.quality.score))
        self.images.append(None if frame is None else frame.copy())
        log.info("calibration sample %s #%d taken", label, self.count(label))
        return Offer.TAKEN

    def offer_analysis(
        self, label: str, analysis: FrameAnalysis, frame: np.ndarray | None = None
    ) -> Offer:
        return self.offer(label, analysis.primary, frame)

    def remove_person(self, label: str) -> None:
        keep = [i for i, lab in enumerate(self.labels) if lab != label]
        self.labels = [self.labels[i] for i in keep]
        self.embeddings = [self.embeddings[i] for i in keep]
        self.quality = [self.quality[i] for i in keep]
        self.images = [self.images[i] for i in keep]

    # --- pairs ----------------------------------------------------------------------
    def sample_names(self) -> list[str]:
        seen: dict[str, int] = {}
        names = []
        for label in self.labels:
            seen[label] = seen.get(label, 0) + 1
            names.append(f"{label}#{seen[label]}")
        return names

    def pairs(self) -> list[ev.Pair]:
        """Every pair of samples: genuine when both have the same label, else impostor."""
        names = self.sample_names()
        return [
            ev.Pair(names[i], names[j], self.labels[i] == self.labels[j])
            for i, j in itertools.combinations(range(len(names)), 2)
        ]

    def check_evaluable(self) -> None:
        """At least two people, and someone with two samples: else no pairs of a kind."""
        if len(self.people) < 2:
            raise KioskError("capture at least two people: impostor pairs need two")
        if not any(n >= 2 for n in self.counts().values()):
            raise KioskError("capture at least two faces of one person: genuine pairs need two")

    # --- storage --------------------------------------------------------------------
    def save(self, folder: Path, *, keep_images: bool = False) -> Path:
        """Write the embeddings (and, with `keep_images`, the frames) under `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / SET_FILE
        tmp = folder / f".{SET_FILE}.{os.getpid()}.tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            np.savez(
                fh,
                pack_id=np.array(self.pack_id),
                labels=np.array(self.labels, dtype=str),
                embeddings=np.stack(self.embeddings).astype(np.float32),
                quality=np.array(self.quality, dtype=np.float32),
            )
        os.replace(tmp, path)
        if keep_images:
            images = folder / "images"
            images.mkdir(exist_ok=True)
            for name, image in zip(self.sample_names(), self.images, strict=True):
                if image is not None:
                    cv2.imwrite(str(images / f"{name.replace('#', '_')}.jpg"), image)
        log.info("calibration set of %d samples saved to %s", len(self.labels), path)
        return path

    @classmethod
    def load(cls, path: Path, per_person: int = 5) -> CalibrationSet:
        try:
            with np.load(path, allow_pickle=False) as data:
                labels = [str(x) for x in data["labels"]]
                return cls(
                    str(data["pack_id"]),
                    per_person,
                    labels,
                    [e.astype(np.float32) for e in data["embeddings"]],
                    [float(q) for q in data["quality"]],
                    [None] * len(labels),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise KioskError(f"{path}: not a calibration set ({exc})") from None

    # --- evaluation -----------------------------------------------------------------
    def evaluate(
        self,
        folder: Path,
        *,
        target_fmr: float,
        keep_images: bool = False,
        title: str | None = None,
        min_people: int = MIN_PEOPLE,
        bundled_threshold: float | None = None,
    ) -> CalibrationRun:
        """Save the set, score all its pairs, plot ROC/DET and pick the threshold.

        The run is judged against the floor (`kiosk.checkin.calibration_floor`): its
        `verdict` says whether it can be confirmed and, when not, why; a threshold below
        `bundled_threshold` is raised to it.
        """
        self.check_evaluable()
        set_path = self.save(folder, keep_images=keep_images)
        by_name = dict(zip(self.sample_names(), self.embeddings, strict=True))
        result = ev.score_pairs(self.pairs(), by_name.get)
        identities = {name: name.rsplit("#", 1)[0] for name in by_name}
        summary = ev.summarise(result, target_fmr, identities)
        verdict = assess(
            target_fmr=target_fmr,
            impostor_scores=result.impostor,
            threshold=float(summary[f"threshold_at_fmr_{target_fmr:g}"]),
            people=len(self.people),
            min_people=min_people,
            bundled_threshold=bundled_threshold,
        )
        threshold = verdict.threshold
        if verdict.raised_to_bundled:
            _fmr, fnmr = ev.error_rates(result.genuine, result.impostor, np.array([threshold]))
            summary[f"fnmr_at_fmr_{target_fmr:g}"] = float(fnmr[0])
        plot = folder / "roc_det.png"
        plot_roc_det(
            result,
            plot,
            title or f"{self.pack_id}: {len(self.people)} people at this door",
            marks=[threshold],
        )
        summary.update(pack_id=self.pack_id, people=len(self.people), samples=len(self.labels))
        summary.update(verdict.as_fields(), refused_because=list(verdict.reasons))
        (folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        return CalibrationRun(self.pack_id, target_fmr, threshold, summary, set_path, plot, verdict)


@dataclass(frozen=True)
class CalibrationRun:
    """An evaluated set: the threshold chosen for `target_fmr` and what it costs."""

    pack_id: str
    target_fmr: float
    threshold: float
    summary: dict[str, Any]
    set_path: Path
    plot_path: Path
    verdict: FloorVerdict

    @property
    def fnmr(self) -> float:
        """FNMR at the threshold the file will hold (raised to the bundled one if lower)."""
        return float(self.summary[f"fnmr_at_fmr_{self.target_fmr:g}"])

    @property
    def eer(self) -> float:
        return float(self.summary["eer"])

    @property
    def demonstrable(self) -> bool:
        """Whether the set can show its target FMR (impostor pairs and people: the floor)."""
        return self.verdict.demonstrable

    @property
    def refusals(self) -> tuple[str, ...]:
        """Why this run cannot be confirmed (empty when it can), one sentence each."""
        return self.verdict.reasons

    def record_body(self, calibration_sha256: str, technician: str | None) -> dict[str, Any]:
        """The signed ``calibration`` record body: numbers and hashes, never a vector."""
        s = self.summary
        return {
            "event": CALIBRATION_EVENT,
            "pack_id": self.pack_id,
            "threshold": ev.stored_threshold(self.threshold),  # as in the file
            "target_fmr": self.target_fmr,
            "measured_fnmr": round(self.fnmr, 6),
            "eer": round(self.eer, 6),
            "genuine_pairs": int(s["genuine_pairs"]),
            "impostor_pairs": int(s["impostor_pairs"]),
            "people": int(s["people"]),
            "samples": int(s["samples"]),
            **self.verdict.as_fields(),
            "calibration_sha256": calibration_sha256,
            "set_sha256": hashlib.sha256(self.set_path.read_bytes()).hexdigest(),
            "calibrated_by": technician,
        }

    def confirm(self, path: Path, ledger: _Ledger, *, technician: str | None = None) -> Any:
        """Write the calibration file at `path`, the signed record first.

        The file is written beside `path`, hashed, recorded in the ledger, and only then
        moved into place; if the ledger refuses, the old calibration stays in force.
        A run that cannot show its target is refused (CalibrationNotDemonstrable) before
        anything is written. Returns what `ledger.append` returned (the envelope).
        """
        self.verdict.refuse_unless_demonstrable()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        ev.write_calibration(
            tmp,
            pack_id=self.pack_id,
            threshold=self.threshold,
            target_fmr=self.target_fmr,
            summary=self.summary,
            source=self.set_path,
            floor=self.verdict.as_fields(),
        )
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        try:
            env = ledger.append("calibration", self.record_body(digest, technician))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        log.info(
            "calibration written to %s: threshold %.4f for FMR %g (FNMR %.4f, EER %.4f)",
            path,
            self.threshold,
            self.target_fmr,
            self.fnmr,
            self.eer,
        )
        return env


def new_set_folder(data_dir: Path, now: dt.datetime | None = None) -> Path:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return default_sets_dir(data_dir) / stamp


def people_summary(counts: dict[str, int], per_person: int) -> Iterable[str]:
    """``P01 5/5`` lines for the window."""
    return (f"{label} {n}/{per_person}" for label, n in sorted(counts.items()))


__all__ = [
    "CALIBRATION_EVENT",
    "CalibrationRun",
    "CalibrationSet",
    "Offer",
    "check_label",
    "default_calibration_path",
    "new_set_folder",
]
