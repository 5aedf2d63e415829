"""Verification accuracy on labelled pairs: ROC/DET, EER, FNMR at fixed FMR, failure to
acquire, and threshold calibration for a target FMR.

Terms follow ISO/IEC 19795-1: FMR = impostor pairs scored at or above the threshold,
FNMR = genuine pairs scored below it, FTA = images in which no usable face was found.
Pairs that touch an FTA image are counted as non-matches in the *generalised* FNMR the
door actually experiences (an applicant whose face cannot be read is not let in).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kiosk.checkin.calibration_floor import clopper_pearson_upper, rule_of_three
from kiosk.errors import KioskError

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


# --- error rates and thresholds ------------------------------------------------------
def error_rates(
    genuine: np.ndarray, impostor: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """FMR and FNMR at each threshold (decision: score >= threshold means match, so a
    score tied with the threshold is a match on both sides)."""
    g = np.sort(genuine)
    i = np.sort(impostor)
    fnmr = np.searchsorted(g, thresholds, side="left") / max(len(g), 1)
    fmr = 1.0 - np.searchsorted(i, thresholds, side="left") / max(len(i), 1)
    return fmr, fnmr


def operating_thresholds(genuine: np.ndarray, impostor: np.ndarray) -> np.ndarray:
    """Every threshold at which a decision changes: each distinct score, plus the next
    float above the highest (where nothing matches). No invented sentinels: a threshold
    interpolated towards a sentinel such as 1.0 lands where no score ever was."""
    values = np.unique(np.concatenate([genuine, impostor]).astype(np.float64))
    return np.append(values, np.nextafter(values[-1], np.inf))


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(EER, threshold) where FMR and FNMR cross, interpolated between operating points.

    FMR falls and FNMR rises with the threshold; between two neighbouring operating
    points the rates move linearly in ROC space. A group of tied scores flips at one
    threshold, so identical genuine and impostor scores give EER 0.5 *at that score*.
    """
    if not len(genuine) or not len(impostor):
        raise ValueError("the EER needs at least one genuine and one impostor score")
    t = operating_thresholds(genuine, impostor)
    fmr, fnmr = error_rates(genuine, impostor, t)
    diff = fmr - fnmr  # +1 at the lowest threshold, -1 above the highest score
    idx = int(np.argmax(diff <= 0))
    if diff[idx] == 0:
        return float(fmr[idx]), float(t[idx])
    d0, d1 = diff[idx - 1], diff[idx]
    w = d0 / (d0 - d1)
    eer = fmr[idx - 1] + w * (fmr[idx] - fmr[idx - 1])
    return float(eer), float(t[idx - 1] + w * (t[idx] - t[idx - 1]))


def threshold_for_fmr(impostor: np.ndarray, target_fmr: float) -> float:
    """Lowest threshold whose FMR on these impostor scores is <= target.

    It sits just above the impostor score ranked floor(target*n)+1 from the top; tied
    impostor scores are all above it or all below, so ties never push FMR over target.
    When floor(target*n) is 0 the threshold is above every impostor score (FMR 0 of n).
    """
    s = np.sort(np.asarray(impostor, dtype=np.float64))[::-1]
    allowed = int(np.floor(target_fmr * len(s)))
    if allowed >= len(s):
        return float(s[-1])
    return float(np.nextafter(s[allowed], np.inf))


def fnmr_at_fmr(
    genuine: np.ndarray, impostor: np.ndarray, target_fmr: float
) -> tuple[float, float]:
    """(FNMR, threshold) at the lowest threshold whose FMR is <= target."""
    t = threshold_for_fmr(impostor, target_fmr)
    _fmr, fnmr = error_rates(genuine, impostor, np.array([t]))
    return float(fnmr[0]), t


def auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Probability a random genuine pair outscores a random impostor pair (ties count
    half): the Mann-Whitney statistic from sorted impostor scores, memory O(n + m)."""
    if not len(genuine) or not len(impostor):
        return float("nan")
    i = np.sort(np.asarray(impostor, dtype=np.float64))
    g = np.asarray(genuine, dtype=np.float64)
    below = np.searchsorted(i, g, side="left")
    tied = np.searchsorted(i, g, side="right") - below
    wins = below.sum(dtype=np.float64) + 0.5 * tied.sum(dtype=np.float64)
    return float(wins / (len(g) * len(i)))


# --- how much a finite test can show (stdlib only: no scipy at run time) --------------
# --- the summary ----------------------------------------------------------------------
def summarise(
    result: EvalResult, target_fmr: float, identities: Mapping[str, str] | None = None
) -> dict[str, object]:
    """Every figure `kiosk eval` reports (explained in `kiosk eval --help`). `identities` maps image
    name -> person; without it people are the groups that same-person pairs connect."""
    g, i = result.genuine, result.impostor
    if len(g) == 0 or len(i) == 0:
        raise KioskError("need at least one scored genuine and one scored impostor pair")
    eer, eer_t = equal_error_rate(g, i)
    scored = [s.pair for s in result.scores if s.score is not None]
    person = identities or person_groups(scored)
    out: dict[str, object] = {
        "pairs": len(result.scores),
        "genuine_pairs": len(g),
        "impostor_pairs": len(i),
        "people": len({person.get(n, n) for p in scored for n in (p.a, p.b)}),
        "impostor_people": len(
            {person.get(n, n) for p in scored if not p.same for n in (p.a, p.b)}
        ),
        "identities_from": "file" if identities else "same-person pairs",
        "images": result.images,
        "fta_images": result.fta_images,
        "fta_rate": result.fta_rate,
        "auc": auc(g, i),
        "eer": eer,
        "eer_threshold": eer_t,
        "min_demonstrable_fmr": rule_of_three(len(i)),
    }
    for fmr_target in sorted({1e-2, 1e-3, target_fmr}, reverse=True):
        fnmr, t = fnmr_at_fmr(g, i, fmr_target)
        false_matches = int((i >= t).sum())
        key = f"{fmr_target:g}"
        out[f"fnmr_at_fmr_{key}"] = fnmr
        out[f"threshold_at_fmr_{key}"] = t
        # Generalised FNMR: genuine pairs lost to failure-to-acquire also fail at the door.
        out[f"gfnmr_at_fmr_{key}"] = (fnmr * len(g) + result.genuine_fta_pairs) / (
            len(g) + result.genuine_fta_pairs
        )
        out[f"fmr_at_fmr_{key}"] = false_matches / len(i)
        out[f"fmr_upper95_at_fmr_{key}"] = clopper_pearson_upper(false_matches, len(i))
        out[f"demonstrable_at_fmr_{key}"] = rule_of_three(len(i)) <= fmr_target
    return out


def person_groups(pairs: Iterable[Pair]) -> dict[str, str]:
    """Image -> person, where a person is a group of images joined by same-person pairs
    (union-find); an image in no same-person pair is its own person."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        ra, rb = root(p.a), root(p.b)
        if p.same and ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {name: root(name) for name in list(parent)}


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

    key = f"{target_fmr:g}"
    doc = {
        "calibration": {
            "pack_id": pack_id,
            "threshold": stored_threshold(threshold),
            "target_fmr": target_fmr,
            "measured_fnmr": float(summary[f"fnmr_at_fmr_{key}"]),  # type: ignore[arg-type]
            "eer": float(summary["eer"]),  # type: ignore[arg-type]
            "genuine_pairs": summary["genuine_pairs"],
            "impostor_pairs": summary["impostor_pairs"],
            # Rule of three (3 / impostor pairs); the floor's fields below (false matches
            # and the Clopper-Pearson bound at the stored threshold, people) override.
            "min_demonstrable_fmr": float(summary["min_demonstrable_fmr"]),  # type: ignore[arg-type]
            "target_demonstrable": bool(summary[f"demonstrable_at_fmr_{key}"]),
            "created_at": dt.datetime.now(dt.UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "source": source.name,
            "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
            **(floor or {}),
        }
    }
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
