"""`kiosk liveness eval|show`: presentation-attack figures on the synthetic attack set.

`eval` runs every presenter kind (kiosk/evaluation/attacks.py) through a real liveness
session and the real face engine, and reports ISO/IEC 30107-3 style figures:
APCER per attack type (attack presentations accepted as bona fide) and BPCER (bona fide
presentations not accepted). "Cannot decide" (passed None) sends the applicant to a
proctor; it is counted as not accepted and also reported on its own.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from kiosk.config import REPO_ROOT, load_config

log = logging.getLogger(__name__)

DEFAULT_FACES = REPO_ROOT.parent / "shared" / "faces"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("liveness", help="liveness (presentation-attack detection) tools")
    lsub = p.add_subparsers(dest="liveness_command", required=True)
    ev = lsub.add_parser("eval", help="APCER/BPCER on the synthetic attack set (JSON + plot)")
    ev.add_argument("--faces", type=Path, default=DEFAULT_FACES, help="folder of portraits")
    ev.add_argument("--out", type=Path, default=Path("benchmarks/out/liveness"))
    ev.add_argument(
        "--per-kind", type=int, default=0, help="presentations per kind (default: one per photo)"
    )
    ev.add_argument("--kinds", default="", help="comma-separated subset of presenter kinds")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--fps", type=float, default=10.0)
    ev.set_defaults(handler=_eval)
    show = lsub.add_parser("show", help="run one presentation and print each step's cues")
    show.add_argument("kind", help="genuine | print | screen_replay | static_photo | swap")
    show.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    show.add_argument("--index", type=int, default=0, help="which photo")
    show.add_argument("--seed", type=int, default=0)
    show.add_argument("--save", type=Path, default=None, help="write a PNG contact sheet here")
    show.set_defaults(handler=_show)


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


def _plot(
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


def _eval(args: argparse.Namespace) -> int:
    from kiosk.evaluation.attacks import KINDS, load_sources, make_presenter, run_presentation
    from kiosk.vision.liveness import LivenessChecker
    from kiosk.vision.pipeline import FaceEngine

    cfg = load_config(args.config)
    engine = FaceEngine.from_config(cfg)
    checker = LivenessChecker.from_config(cfg, engine)
    if not checker.available:
        print(f"liveness unavailable ({checker.unavailable_reason}): nothing to evaluate")
        return 1
    sources = load_sources(engine, args.faces)
    kinds = tuple(k for k in args.kinds.split(",") if k) or KINDS
    n = args.per_kind or len(sources)
    args.out.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    started = time.perf_counter()
    for kind in kinds:
        for i in range(n):
            seed = args.seed * 100_003 + KINDS.index(kind) * 10_007 + i
            rng = np.random.default_rng(seed)
            presenter = make_presenter(kind, sources, i, rng)
            verdict = run_presentation(checker, engine, presenter, seed=seed, fps=args.fps)
            passive = checker.assess_passive(verdict.cues)
            src = sources[i % len(sources)]
            results.append(
                {
                    "kind": kind,
                    "index": i,
                    "image": src.image,
                    "person": src.person,
                    "passed": verdict.passed,
                    "reason": verdict.reason,
                    "score": round(verdict.score, 4),
                    "passive_passed": passive.passed,
                    "passive_reason": passive.reason,
                    "passive_score": round(passive.score, 4),
                    "cues": {
                        k: (round(v, 5) if math.isfinite(v) else None)
                        for k, v in verdict.cues.items()
                    },
                }
            )
            log.info("%s #%d: %s (%s)", kind, i, verdict.passed, verdict.reason)
        print(f"{kind}: {n} presentations done ({time.perf_counter() - started:.0f} s)", flush=True)
    summary = summarise(results, kinds)
    report = {
        "what": "ISO/IEC 30107-3 style figures on the synthetic attack set (docs/LIVENESS.md)",
        "faces": str(args.faces),
        "sources": len(sources),
        "people": len({s.person for s in sources}),
        "pack": engine.pack_id,
        "config": {k: getattr(cfg.liveness, k) for k in vars(cfg.liveness)},
        "seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "results": results,
    }
    (args.out / "liveness_eval.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    _plot(results, summary, kinds, args.out / "liveness_eval.png", cfg.liveness.passive_threshold)
    for kind in kinds:
        entry = summary[kind]
        key = "BPCER" if kind == "genuine" else "APCER"
        rate = entry[key]
        print(
            f"{kind:14s} {key} {100 * rate['rate']:5.1f}% ({rate['count']}/{rate['of']}, "
            f"95% CI {100 * rate['ci95'][0]:.1f}–{100 * rate['ci95'][1]:.1f}%)  "
            f"passive alone accepts {100 * entry['passive_cues_alone_accept']['rate']:.1f}%  "
            f"reasons {entry['reasons']}"
        )
    print(f"wrote {args.out / 'liveness_eval.json'} and {args.out / 'liveness_eval.png'}")
    return 0


def _show(args: argparse.Namespace) -> int:
    import random

    import cv2

    from kiosk.evaluation.attacks import load_sources, make_presenter
    from kiosk.vision.liveness import LivenessChecker
    from kiosk.vision.pipeline import FaceEngine

    cfg = load_config(args.config)
    engine = FaceEngine.from_config(cfg)
    checker = LivenessChecker.from_config(cfg, engine)
    sources = load_sources(engine, args.faces)
    presenter = make_presenter(args.kind, sources, args.index, np.random.default_rng(args.seed))
    session = checker.start(random.Random(args.seed))
    print(f"challenge: {', '.join(session.challenge) or '(none)'}")
    prompt: str | None = "face_camera"
    t, thumbs = 0.0, []
    while True:
        frame = presenter.frame(prompt, t)
        obs = engine.analyze(frame).primary
        step = session.feed(obs, frame, t)
        pose = (
            f"yaw {obs.quality.pose.yaw:6.1f} pitch {obs.quality.pose.pitch:6.1f}"
            if obs
            else "no face"
        )
        print(f"t={t:5.1f}s prompt={prompt!s:12s} {pose}  -> {step.prompt} ({step.progress:.2f})")
        if len(thumbs) < 24 and round(t * 10) % 3 == 0:
            thumbs.append(cv2.resize(frame, (213, 160)))
        if step.verdict is not None:
            break
        prompt, t = step.prompt, t + 0.1
    v = step.verdict
    print(f"verdict: passed={v.passed} reason={v.reason} score={v.score:.3f}")
    for k, value in sorted(v.cues.items()):
        print(f"  {k:18s} {value:.4f}")
    if args.save:
        while len(thumbs) % 6:
            thumbs.append(np.zeros_like(thumbs[0]))
        rows = [np.hstack(thumbs[i : i + 6]) for i in range(0, len(thumbs), 6)]
        args.save.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.save), np.vstack(rows))
        print(f"wrote {args.save}")
    return 0
