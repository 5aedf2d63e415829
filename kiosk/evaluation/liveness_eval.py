"""Liveness evaluation on the synthetic attack set: every presenter kind
(`kiosk.evaluation.attacks`) run through a real liveness session and the real face engine,
summarised as ISO/IEC 30107-3 style figures: APCER per attack type (attack presentations
accepted as bona fide) and BPCER (bona fide presentations not accepted). "Cannot decide"
(passed None) sends the applicant to a proctor; it is counted as not accepted and also
reported on its own. `kiosk liveness eval` prints and writes what this returns.
"""

from __future__ import annotations

import csv
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kiosk.config import KioskConfig
from kiosk.evaluation.attacks import KINDS, load_sources, make_presenter, run_presentation
from kiosk.evaluation.attacks_optics import CameraModel
from kiosk.evaluation.attacks_render import HD
from kiosk.vision.liveness import LivenessChecker
from kiosk.vision.pipeline import FaceEngine

log = logging.getLogger(__name__)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval for k of n (an honest range for small test sets)."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))


def _rate(k: int, n: int) -> dict[str, object]:
    lo, hi = wilson(k, n)
    return {"rate": k / n if n else None, "count": k, "of": n, "ci95": [round(lo, 4), round(hi, 4)]}


def summarise(results: list[dict], kinds: tuple[str, ...]) -> dict[str, object]:
    """APCER per attack type, BPCER, and how each kind was stopped (reason codes)."""
    out: dict[str, object] = {}
    for kind in kinds:
        rows = [r for r in results if r["kind"] == kind]
        n = len(rows)
        accepted = sum(1 for r in rows if r["passed"] is True)
        undecided = sum(1 for r in rows if r["passed"] is None)
        passive_acc = sum(1 for r in rows if r["passive_passed"] is True)
        reasons: dict[str, int] = {}
        for r in rows:
            key = r["reason"].split(":")[0] if r["reason"].startswith("timeout") else r["reason"]
            reasons[key] = reasons.get(key, 0) + 1
        entry: dict[str, object] = {
            "presentations": n,
            "undecided_to_proctor": _rate(undecided, n),
            "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
            "passive_cues_alone_accept": _rate(passive_acc, n),
        }
        if kind == "genuine":
            entry["BPCER"] = _rate(n - accepted, n)
            entry["BPCER_rejected_only"] = _rate(sum(r["passed"] is False for r in rows), n)
        else:
            entry["APCER"] = _rate(accepted, n)
        out[kind] = entry
    attack_rows = [r for r in results if r["kind"] != "genuine"]
    if attack_rows:
        per_type = [out[k]["APCER"]["rate"] for k in kinds if k != "genuine"]  # type: ignore[index]
        out["max_APCER"] = max(per_type) if per_type else None  # ISO 30107-3: worst PAI species
    return out


def plot_summary(
    results: list[dict], summary: dict, kinds: tuple[str, ...], path: Path, thr: float
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    labels, system, passive = [], [], []
    for kind in kinds:
        entry = summary[kind]
        key = "BPCER" if kind == "genuine" else "APCER"
        labels.append(f"{kind}\n{key}")
        system.append(100 * entry[key]["rate"])
        alone = entry["passive_cues_alone_accept"]["rate"]
        passive.append(100 * ((1 - alone) if kind == "genuine" else alone))
    x = np.arange(len(labels))
    ax1.bar(x - 0.2, system, 0.4, label="full check (challenge + identity + cues)")
    ax1.bar(x + 0.2, passive, 0.4, label="passive cues alone")
    ax1.set_xticks(x, labels, fontsize=8)
    ax1.set_ylabel("%")
    ax1.set_ylim(0, 105)
    ax1.set_title("APCER per attack type / BPCER (synthetic set)")
    ax1.legend(fontsize=8)
    data = [[r["passive_score"] for r in results if r["kind"] == k] for k in kinds]
    ax2.boxplot(data, showfliers=True)
    ax2.set_xticks(np.arange(1, len(kinds) + 1), kinds, fontsize=8)
    ax2.axhline(thr, color="r", ls="--", lw=1, label=f"passive_threshold {thr}")
    ax2.set_ylabel("combined passive live-likelihood")
    ax2.set_title("passive score per presenter kind")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _people(faces: Path) -> set[str]:
    rows = csv.DictReader((faces / "identities.csv").open(encoding="utf-8"))
    return {row["person"] for row in rows}


def run_liveness_eval(
    cfg: KioskConfig,
    engine: FaceEngine,
    checker: LivenessChecker,
    faces: Path,
    *,
    tuned_on: Path | None = None,
    kinds: tuple[str, ...] = (),
    per_kind: int = 0,
    seed: int = 0,
    fps_list: tuple[float, ...] = (25.0, 10.0),
    supersample: int = 2,
    progress: Callable[[str], None] = log.info,
) -> dict[str, object]:
    """Run `per_kind` presentations of each kind at each frame rate (default: every kind,
    one per photo in `faces`) through a 1280×720 camera model and return the report.

    The thresholds were tuned on the photos in `tuned_on` (and seeds below 1000): people
    found there are left out of this set, and this set's seeds start at 1000 + `seed`, so
    the figures are reported on photos and seeds the tuning never saw.
    """
    tune_people = _people(tuned_on) if tuned_on is not None else set()
    results: list[dict] = []
    started = time.perf_counter()
    kinds = tuple(k for k in kinds if k) or KINDS
    sets: dict[str, object] = {}
    for fps in fps_list:
        camera = CameraModel(HD, fps, supersample)
        sources = [
            s
            for s in load_sources(engine, faces, geometry=camera.scene)
            if s.person not in tune_people
        ]
        sets = {
            "photos": sorted(s.image for s in sources),
            "people": len({s.person for s in sources}),
        }
        n = per_kind or len(sources)
        for kind in kinds:
            for i in range(n):
                # one seed per presentation, stable when kinds or counts change
                run_seed = 1000 + seed * 100_003 + KINDS.index(kind) * 10_007 + i
                rng = np.random.default_rng(run_seed)
                presenter = make_presenter(kind, sources, i, rng, camera)
                verdict = run_presentation(checker, engine, presenter, seed=run_seed, fps=fps)
                passive = checker.assess_passive(verdict.cues)
                src = sources[i % len(sources)]
                results.append(
                    {
                        "kind": kind,
                        "fps": fps,
                        "index": i,
                        "seed": run_seed,
                        "image": src.image,
                        "person": src.person,
                        "passed": verdict.passed,
                        "reason": verdict.reason,
                        "score": round(verdict.score, 4),
                        "passive_passed": passive.passed,
                        "passive_reason": passive.reason,
                        "passive_score": round(passive.score, 4),
                        "fine_period_camera_px": getattr(presenter, "fine_period_camera_px", None),
                        "cues": {
                            k: (round(v, 5) if math.isfinite(v) else None)
                            for k, v in verdict.cues.items()
                        },
                    }
                )
                log.info("%s@%g #%d: %s (%s)", kind, fps, i, verdict.passed, verdict.reason)
            progress(
                f"{kind} at {fps:g} fps: {n} presentations ({time.perf_counter() - started:.0f} s)"
            )
    genuine = [r for r in results if r["kind"] == "genuine" and r["passed"] is True]
    durations = [r["cues"].get("challenge_s") for r in genuine if r["cues"].get("challenge_s")]
    return {
        "what": "ISO/IEC 30107-3 style figures on the synthetic attack set (docs/LIVENESS.md)",
        "camera": {"width": HD.width, "height": HD.height, "supersample": supersample},
        "tuned_on": {
            "faces": str(tuned_on) if tuned_on else None,
            "people": sorted(tune_people),
            "seeds": "below 1000",
        },
        "reported_on": {"faces": str(faces), "seeds": f"from {1000 + seed * 100_003}", **sets},
        "pack": engine.pack_id,
        "kinds": list(kinds),
        "fps": list(fps_list),
        "config": {k: getattr(cfg.liveness, k) for k in vars(cfg.liveness)},
        "seconds": round(time.perf_counter() - started, 1),
        "genuine_challenge_median_s": float(np.median(durations)) if durations else None,
        "summary": {
            f"{fps:g}fps": summarise([r for r in results if r["fps"] == fps], kinds)
            for fps in fps_list
        },
        "results": results,
    }


__all__ = ["plot_summary", "run_liveness_eval", "summarise", "wilson"]
