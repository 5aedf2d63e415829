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
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.checkin.calibration_floor import clopper_pearson_upper
from kiosk.checkin.matcher import Matcher
from kiosk.config import KioskConfig
from kiosk.errors import KioskError
from kiosk.evaluation.attacks import KINDS, load_sources, make_presenter, run_presentation
from kiosk.evaluation.attacks_motion import FaceSource
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
    return {
        "rate": k / n if n else None,
        "count": k,
        "of": n,
        "ci95": [round(lo, 4), round(hi, 4)],
        # the bound the rest of the project states (rule of three at 0 of n)
        "upper95_one_sided": round(clopper_pearson_upper(k, n), 4) if n else None,
    }


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
        extended = sum(1 for r in rows if r["cues"].get("reaction_extended") == 1.0)
        entry: dict[str, object] = {
            "presentations": n,
            "undecided_to_proctor": _rate(undecided, n),
            # slow over the first steps: asked for more (docs/LIVENESS.md, "Slow reactions")
            "given_extra_steps": extended,
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


# Seeds: the report set's start at 1000, the tuning set's at 10,000,000 (`tuning=True`), so
# no presentation is ever drawn in both, whatever `seed`, kinds or counts are.
REPORT_SEED_BASE, TUNING_SEED_BASE = 1000, 10_000_000
MAX_SEED = 90  # 1000 + 89 * 100_003 + 6 * 10_007 + 10_006 < 10_000_000


@dataclass(frozen=True)
class Job:
    kind: str
    fps: float
    index: int
    seed: int


class _Runner:
    """One process's engine, liveness checker and attack sources (per frame rate)."""

    def __init__(
        self, cfg: KioskConfig, faces: Path, leave_out: set[str], supersample: int
    ) -> None:
        # one ORT and OpenCV thread per model in every process, whatever `workers` is:
        # thread counts change an embedding's last bits, and a verdict near a threshold
        # must not depend on how many processes ran the set
        cfg = replace(cfg, runtime=replace(cfg.runtime, intra_op_threads=1, opencv_threads=1))
        self.cfg, self.faces, self.leave_out, self.supersample = cfg, faces, leave_out, supersample
        self.engine = FaceEngine.from_config(cfg)
        self.checker = LivenessChecker.from_config(cfg, self.engine)
        self.match_threshold = Matcher.from_config(cfg, self.engine.pack).threshold
        self._sources: dict[float, tuple[CameraModel, list[FaceSource]]] = {}

    def sources(self, fps: float) -> tuple[CameraModel, list[FaceSource]]:
        if fps not in self._sources:
            camera = CameraModel(HD, fps, self.supersample)
            landmarker = self.checker.landmarker
            frontal = (landmarker, self.cfg.liveness.turn_deg) if landmarker else None
            found = load_sources(self.engine, self.faces, geometry=camera.scene, frontal=frontal)
            kept = [s for s in found if s.person not in self.leave_out]
            self._sources[fps] = (camera, kept)
        return self._sources[fps]

    def run(self, job: Job) -> dict[str, Any]:
        camera, sources = self.sources(job.fps)
        rng = np.random.default_rng(job.seed)
        presenter = make_presenter(job.kind, sources, job.index, rng, camera)
        verdict = run_presentation(
            self.checker,
            self.engine,
            presenter,
            seed=job.seed,
            fps=job.fps,
            sample_every=self.cfg.checkin.identity_sample_every,
            door_limit_s=self.cfg.checkin.liveness_timeout_s,
            match_threshold=self.match_threshold,
        )
        passive = self.checker.assess_passive(verdict.cues)
        src = sources[job.index % len(sources)]
        return {
            "kind": job.kind,
            "fps": job.fps,
            "index": job.index,
            "seed": job.seed,
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
                k: (round(v, 5) if math.isfinite(v) else None) for k, v in verdict.cues.items()
            },
        }


_WORKER: _Runner | None = None  # a pool process's runner (made once by _start_worker)


def _start_worker(cfg: KioskConfig, faces: Path, leave_out: set[str], supersample: int) -> None:
    global _WORKER
    _WORKER = _Runner(cfg, faces, leave_out, supersample)


def _run_in_worker(job: Job) -> dict[str, Any]:
    assert _WORKER is not None
    return _WORKER.run(job)


def run_liveness_eval(
    cfg: KioskConfig,
    faces: Path,
    *,
    tuned_on: Path | None = None,
    tuning: bool = False,
    kinds: tuple[str, ...] = (),
    per_kind: int = 0,
    seed: int = 0,
    fps_list: tuple[float, ...] = (25.0, 10.0),
    supersample: int = 2,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Run `per_kind` presentations of each kind at each frame rate (default: every kind,
    one per photo in `faces`) through a 1280×720 camera model and return the report.

    The thresholds were tuned on the photos in `tuned_on` with seeds from
    TUNING_SEED_BASE (`tuning=True` runs that set: `faces` is then the tuning folder):
    people found there are left out of the report set, whose seeds start at
    REPORT_SEED_BASE + `seed`, so the figures are reported on photos and seeds the tuning
    never saw. `workers` > 1 runs presentations in that many processes (one engine
    each, one ORT thread per model); results are the same as with one.
    """
    if not 0 <= seed < MAX_SEED or not 0 <= per_kind < 10_007:
        # the two seed ranges stay apart only within these bounds
        raise KioskError(f"seed 0..{MAX_SEED - 1} and up to 10006 presentations per kind")
    leave_out = _people(tuned_on) if tuned_on is not None and not tuning else set()
    base = TUNING_SEED_BASE if tuning else REPORT_SEED_BASE
    kinds = tuple(k for k in kinds if k) or KINDS
    started = time.perf_counter()
    runner = _Runner(cfg, faces, leave_out, supersample)
    if not runner.checker.available:
        return {"unavailable": runner.checker.unavailable_reason}
    jobs: list[Job] = []
    sets: dict[str, object] = {}
    for fps in fps_list:
        _camera, sources = runner.sources(fps)
        if not sources:
            raise KioskError(
                f"{faces}: no near-frontal photo of anyone outside the tuning set "
                f"({tuned_on}); pass other --faces, or --tuning to run the tuning set"
            )
        sets = {
            "photos": sorted(s.image for s in sources),
            "people": len({s.person for s in sources}),
        }
        n = per_kind or len(sources)
        for kind in kinds:
            for i in range(n):
                # one seed per presentation, stable when kinds or counts change
                run_seed = base + seed * 100_003 + KINDS.index(kind) * 10_007 + i
                jobs.append(Job(kind, fps, i, run_seed))
    results = _run_jobs(runner, jobs, workers, progress)
    genuine = [r for r in results if r["kind"] == "genuine" and r["passed"] is True]
    durations = [r["cues"]["challenge_s"] for r in genuine if r["cues"].get("challenge_s")]
    which = {"faces": str(faces), "seeds": f"from {base + seed * 100_003}", **sets}
    return {
        "what": "ISO/IEC 30107-3 style figures on the synthetic attack set (docs/LIVENESS.md)",
        "camera": {"width": HD.width, "height": HD.height, "supersample": supersample},
        "tuned_on": which
        if tuning
        else {
            "faces": str(tuned_on) if tuned_on else None,
            "people": sorted(leave_out),
            "seeds": f"from {TUNING_SEED_BASE}",
        },
        "reported_on": None if tuning else which,
        "pack": runner.engine.pack_id,
        "kinds": list(kinds),
        "fps": list(fps_list),
        "workers": workers,
        "config": {k: getattr(cfg.liveness, k) for k in vars(cfg.liveness)},
        "identity_sample_every": cfg.checkin.identity_sample_every,
        "match_threshold_on_facing_samples": runner.match_threshold,
        "seconds": round(time.perf_counter() - started, 1),
        "genuine_challenge_median_s": float(np.median(durations)) if durations else None,
        "genuine_challenge_p90_s": float(np.percentile(durations, 90)) if durations else None,
        "summary": {
            f"{fps:g}fps": summarise([r for r in results if r["fps"] == fps], kinds)
            for fps in fps_list
        },
        "results": results,
    }


def _run_jobs(
    runner: _Runner,
    jobs: list[Job],
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> list[dict[str, Any]]:
    """Every job's result, in job order (a pool's completion order does not leak out)."""
    done = 0
    results: list[dict[str, Any]] = []
    if workers <= 1:
        for job in jobs:
            results.append(runner.run(job))
            done += 1
            log.info("%s@%g #%d: %s", job.kind, job.fps, job.index, results[-1]["reason"])
            if progress:
                progress(done, len(jobs))
        return results
    context = multiprocessing.get_context("spawn")  # no fork of a process holding ORT pools
    by_job: dict[Job, dict[str, Any]] = {}
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(runner.cfg, runner.faces, runner.leave_out, runner.supersample),
    ) as pool:
        futures = {pool.submit(_run_in_worker, job): job for job in jobs}
        for future in as_completed(futures):
            by_job[futures[future]] = future.result()
            done += 1
            if progress:
                progress(done, len(jobs))
    return [by_job[job] for job in jobs]


__all__ = ["plot_summary", "run_liveness_eval", "summarise", "wilson"]
