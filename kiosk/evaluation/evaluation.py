"""Verification accuracy on labelled pairs: ROC/DET, EER, FNMR at fixed FMR, failure to
acquire, and threshold calibration for a target FMR.

Terms follow ISO/IEC 19795-1: FMR = impostor pairs scored at or above the threshold,
FNMR = genuine pairs scored below it, FTA = images in which no usable face was found.
Pairs that touch an FTA image are counted as non-matches in the *generalised* FNMR the
door actually experiences (an applicant whose face cannot be read is not let in).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kiosk.errors import ConfigError, KioskError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool


@dataclass
class PairScore:
    pair: Pair
    score: float | None  # None when either image failed to acquire


@dataclass
class EvalResult:
    scores: list[PairScore]
    fta_images: list[str]
    images: int
    genuine: np.ndarray = field(init=False)
    impostor: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.genuine = np.array(
            [s.score for s in self.scores if s.pair.same and s.score is not None]
        )
        self.impostor = np.array(
            [s.score for s in self.scores if not s.pair.same and s.score is not None]
        )

    @property
    def fta_rate(self) -> float:
        return len(self.fta_images) / self.images if self.images else 0.0

    @property
    def genuine_fta_pairs(self) -> int:
        return sum(1 for s in self.scores if s.pair.same and s.score is None)


def read_pairs(path: Path) -> list[Pair]:
    """Read `image_a,image_b,same_person` (header optional; 1/0 or true/false)."""
    pairs = []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            for row_no, row in enumerate(csv.reader(fh), 1):
                if not row or row[0].startswith("#"):
                    continue
                if (
                    row_no == 1
                    and not row[-1].strip().lstrip("-").isdigit()
                    and row[-1].strip().lower() not in {"true", "false"}
                ):
                    continue  # header
                if len(row) != 3:
                    raise ConfigError(f"{path}:{row_no}: expected image_a,image_b,same_person")
                same = row[2].strip().lower() in {"1", "true", "yes"}
                pairs.append(Pair(row[0].strip(), row[1].strip(), same))
    except FileNotFoundError:
        raise KioskError(f"{path}: no such pairs file") from None
    if not pairs:
        raise KioskError(f"{path}: no pairs")
    return pairs


def score_pairs(pairs: list[Pair], embed: Callable[[str], np.ndarray | None]) -> EvalResult:
    """Embed each image once (cached), then score every pair by cosine similarity."""
    cache: dict[str, np.ndarray | None] = {}
    for name in sorted({p.a for p in pairs} | {p.b for p in pairs}):
        cache[name] = embed(name)
    scores = []
    for p in pairs:
        ea, eb = cache[p.a], cache[p.b]
        scores.append(PairScore(p, None if ea is None or eb is None else float(np.dot(ea, eb))))
    fta = sorted(k for k, v in cache.items() if v is None)
    return EvalResult(scores, fta, len(cache))


def error_rates(
    genuine: np.ndarray, impostor: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """FMR and FNMR at each threshold (decision: score >= threshold means match)."""
    g = np.sort(genuine)
    i = np.sort(impostor)
    fnmr = np.searchsorted(g, thresholds, side="left") / max(len(g), 1)
    fmr = 1.0 - np.searchsorted(i, thresholds, side="left") / max(len(i), 1)
    return fmr, fnmr


def _thresholds(genuine: np.ndarray, impostor: np.ndarray) -> np.ndarray:
    values = np.unique(np.concatenate([genuine, impostor, [-1.0, 1.0 + 1e-6]]))
    return values


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(EER, threshold at which FMR and FNMR cross), interpolated between sample points."""
    t = _thresholds(genuine, impostor)
    fmr, fnmr = error_rates(genuine, impostor, t)
    diff = fmr - fnmr
    idx = int(np.argmax(diff <= 0))  # fmr falls, fnmr rises with threshold
    if idx == 0:
        return float((fmr[0] + fnmr[0]) / 2), float(t[0])
    d0, d1 = diff[idx - 1], diff[idx]
    w = d0 / (d0 - d1) if d0 != d1 else 0.5
    eer = (
        fmr[idx - 1]
        + w * (fmr[idx] - fmr[idx - 1])
        + fnmr[idx - 1]
        + w * (fnmr[idx] - fnmr[idx - 1])
    ) / 2
    return float(eer), float(t[idx - 1] + w * (t[idx] - t[idx - 1]))


def threshold_for_fmr(impostor: np.ndarray, target_fmr: float) -> float:
    """Lowest threshold whose FMR on these impostor scores is <= target.

    With n impostor pairs the smallest FMR that can be shown is 1/n; when the target is
    below that, the threshold sits just above the highest impostor score, and the report
    says the target was not demonstrable on this set.
    """
    s = np.sort(impostor)[::-1]
    allowed = int(np.floor(target_fmr * len(s)))
    if allowed >= len(s):
        return float(s[-1])
    return float(np.nextafter(s[allowed], np.inf))


def fnmr_at_fmr(
    genuine: np.ndarray, impostor: np.ndarray, target_fmr: float
) -> tuple[float, float]:
    t = threshold_for_fmr(impostor, target_fmr)
    _fmr, fnmr = error_rates(genuine, impostor, np.array([t]))
    return float(fnmr[0]), t


def auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Probability a random genuine pair outscores a random impostor pair (ties count half)."""
    if not len(genuine) or not len(impostor):
        return float("nan")
    g = genuine[:, None]
    i = impostor[None, :]
    return float(((g > i).sum() + 0.5 * (g == i).sum()) / (len(genuine) * len(impostor)))


def summarise(result: EvalResult, target_fmr: float) -> dict[str, object]:
    g, i = result.genuine, result.impostor
    if len(g) == 0 or len(i) == 0:
        raise KioskError("need at least one scored genuine and one scored impostor pair")
    eer, eer_t = equal_error_rate(g, i)
    out: dict[str, object] = {
        "pairs": len(result.scores),
        "genuine_pairs": len(g),
        "impostor_pairs": len(i),
        "images": result.images,
        "fta_images": result.fta_images,
        "fta_rate": result.fta_rate,
        "auc": auc(g, i),
        "eer": eer,
        "eer_threshold": eer_t,
        "min_demonstrable_fmr": 1.0 / len(i),
    }
    for fmr_target in sorted({1e-2, 1e-3, target_fmr}, reverse=True):
        fnmr, t = fnmr_at_fmr(g, i, fmr_target)
        key = f"{fmr_target:g}"
        out[f"fnmr_at_fmr_{key}"] = fnmr
        out[f"threshold_at_fmr_{key}"] = t
        # Generalised FNMR: genuine pairs lost to failure-to-acquire also fail at the door.
        out[f"gfnmr_at_fmr_{key}"] = (fnmr * len(g) + result.genuine_fta_pairs) / (
            len(g) + result.genuine_fta_pairs
        )
    return out


def write_pair_csv(result: EvalResult, threshold: float, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image_a", "image_b", "same_person", "score", "decision"])
        for s in result.scores:
            decision = (
                "fta" if s.score is None else ("match" if s.score >= threshold else "no_match")
            )
            w.writerow(
                [
                    s.pair.a,
                    s.pair.b,
                    int(s.pair.same),
                    "" if s.score is None else f"{s.score:.6f}",
                    decision,
                ]
            )


def plot_roc_det(result: EvalResult, path: Path, title: str, marks: Iterable[float] = ()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g, i = result.genuine, result.impostor
    t = _thresholds(g, i)
    fmr, fnmr = error_rates(g, i, t)
    floor = 0.5 / max(len(i), 1)
    fig, (ax_roc, ax_det) = plt.subplots(1, 2, figsize=(11, 4.5))
    ax_roc.plot(np.maximum(fmr, floor), 1 - fnmr, lw=2)
    ax_roc.set_xscale("log")
    ax_roc.set_xlabel("FMR (false match rate)")
    ax_roc.set_ylabel("TMR = 1 − FNMR")
    ax_roc.set_title("ROC")
    ax_det.plot(np.maximum(fmr, floor), np.maximum(fnmr, 0.5 / max(len(g), 1)), lw=2)
    ax_det.set_xscale("log")
    ax_det.set_yscale("log")
    ax_det.set_xlabel("FMR")
    ax_det.set_ylabel("FNMR")
    ax_det.set_title("DET")
    for th in marks:
        f, n = error_rates(g, i, np.array([th]))
        ax_det.plot(max(f[0], floor), max(n[0], 0.5 / len(g)), "o", label=f"threshold {th:.3f}")
    for ax in (ax_roc, ax_det):
        ax.grid(True, which="both", alpha=0.3)
    if marks:
        ax_det.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def stored_threshold(threshold: float) -> float:
    """The threshold as written to a calibration file: 6 decimals, rounded *up*. Rounding
    to nearest could land just below the impostor score the threshold was placed above,
    letting that impostor match and breaking the FMR the threshold was chosen for."""
    return math.ceil(float(threshold) * 1e6) / 1e6


def write_calibration(
    path: Path,
    *,
    pack_id: str,
    threshold: float,
    target_fmr: float,
    summary: dict[str, object],
    source: Path,
    floor: dict[str, object] | None = None,
) -> None:
    """The calibration file the matcher reads; the one place a threshold comes from.

    `floor` holds what the calibration floor measured (`FloorVerdict.as_fields`: pairs
    needed, people, the Clopper-Pearson bound, ...); it is written with the rest and
    decides ``target_demonstrable``.
    """
    import tomli_w

    fnmr = summary[f"fnmr_at_fmr_{target_fmr:g}"]
    doc = {
        "calibration": {
            "pack_id": pack_id,
            "threshold": stored_threshold(threshold),
            "target_fmr": target_fmr,
            "measured_fnmr": float(fnmr),
            "eer": float(summary["eer"]),
            "genuine_pairs": summary["genuine_pairs"],
            "impostor_pairs": summary["impostor_pairs"],
            "target_demonstrable": bool(target_fmr >= summary["min_demonstrable_fmr"]),
            "created_at": dt.datetime.now(dt.UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "source": source.name,
            "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
            **(floor or {}),
        }
    }
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
