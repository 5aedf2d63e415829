"""`kiosk liveness eval|show`: presentation-attack figures on the synthetic attack set.

`eval` runs every presenter kind (kiosk/evaluation/attacks.py) through a real liveness
session and the real face engine and reports ISO/IEC 30107-3 style figures (APCER per
attack type, BPCER; kiosk/evaluation/liveness_eval.py computes them). The parser is built
without numpy or the engine: each handler imports what it runs.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from kiosk.config import REPO_ROOT, load_config
from kiosk.errors import KioskError

log = logging.getLogger(__name__)

# Inside the clone (the 61 portraits of 13 people of ../shared/faces, with identities.csv),
# so the defaults work from any checkout.
DEFAULT_FACES = REPO_ROOT / "tests" / "data" / "pairs"
FACES_HELP = "folder of portraits with identities.csv (image,person); default: tests/data/pairs"
# The liveness thresholds were tuned on every photo of these 5 people (25 of the above,
# listed by path); the report set is the other 8 people.
TUNE_FACES = REPO_ROOT / "tests" / "data" / "liveness_tuning"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("liveness", help="liveness (presentation-attack detection) tools")
    lsub = p.add_subparsers(dest="liveness_command", required=True)
    ev = lsub.add_parser("eval", help="APCER/BPCER on the synthetic attack set (JSON + plot)")
    ev.add_argument("--faces", type=Path, default=DEFAULT_FACES, help=FACES_HELP)
    ev.add_argument(
        "--out", type=Path, default=None, help="output folder (default: <data_dir>/liveness-eval)"
    )
    ev.add_argument(
        "--per-kind", type=int, default=0, help="presentations per kind (default: one per photo)"
    )
    ev.add_argument("--kinds", default="", help="comma-separated subset of presenter kinds")
    ev.add_argument("--seed", type=int, default=0, help="random seed of the presenters")
    ev.add_argument("--fps", default="25,10", help="camera frame rates, comma-separated")
    ev.add_argument(
        "--tuned-on",
        type=Path,
        default=TUNE_FACES,
        help="photos the thresholds were tuned on: their people are left out",
    )
    ev.add_argument(
        "--tuning",
        action="store_true",
        help="run the tuning set (the --tuned-on photos, tuning seeds) instead of the report set",
    )
    ev.add_argument(
        "--supersample", type=int, default=2, help="scene pixels per camera pixel (1: faster)"
    )
    ev.add_argument(
        "--workers",
        type=int,
        default=1,
        help="presentations run in this many processes at once (e.g. the number of cores)",
    )
    ev.set_defaults(handler=_eval)
    show = lsub.add_parser("show", help="run one presentation and print each step's cues")
    show.add_argument("kind", help="genuine or an attack type (kiosk/evaluation/attacks.py)")
    show.add_argument("--faces", type=Path, default=DEFAULT_FACES, help=FACES_HELP)
    show.add_argument("--index", type=int, default=0, help="which photo")
    show.add_argument("--seed", type=int, default=0, help="random seed of the presenter")
    show.add_argument("--save", type=Path, default=None, help="write a PNG contact sheet here")
    show.set_defaults(handler=_show)


def _eval(args: argparse.Namespace) -> int:
    from kiosk.commands.terminal import progress_bar
    from kiosk.evaluation.liveness_eval import run_liveness_eval

    faces = args.tuned_on if args.tuning else args.faces
    for folder in (faces, args.tuned_on):
        if not (folder / "identities.csv").is_file():
            raise KioskError(f"{folder} holds no identities.csv (image,person): pass --faces DIR")
    from kiosk.evaluation.attacks import KINDS

    unknown = [k for k in args.kinds.split(",") if k and k not in KINDS]
    if unknown:
        raise KioskError(f"unknown presenter kind {unknown[0]!r}: one of {', '.join(KINDS)}")
    if not 1 <= args.workers <= 64:
        raise KioskError(f"--workers {args.workers}: give 1 to 64 processes")
    cfg = load_config(args.config)
    out = args.out or cfg.paths.resolved_data_dir() / "liveness-eval"
    with progress_bar("presentations", None) as advance:
        report = run_liveness_eval(
            cfg,
            faces,
            tuned_on=args.tuned_on,
            tuning=args.tuning,
            kinds=tuple(args.kinds.split(",")),
            per_kind=args.per_kind,
            seed=args.seed,
            fps_list=tuple(float(f) for f in args.fps.split(",") if f),
            supersample=args.supersample,
            workers=args.workers,
            progress=lambda done, total: advance(1, total=total),
        )
    if report.get("unavailable"):
        print(f"liveness unavailable ({report['unavailable']}): nothing to evaluate")
        return 1
    out.mkdir(parents=True, exist_ok=True)
    from kiosk.evaluation.liveness_eval import plot_summary

    summaries: dict = report["summary"]  # type: ignore[assignment]
    kinds = tuple(report["kinds"])  # type: ignore[arg-type]
    (out / "liveness_eval.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    for rate_name, summary in summaries.items():
        fps_rows = [r for r in report["results"] if f"{r['fps']:g}fps" == rate_name]  # type: ignore[union-attr]
        plot_summary(
            fps_rows,
            summary,
            kinds,
            out / f"liveness_eval_{rate_name}.png",
            cfg.liveness.passive_threshold,
        )
        print(f"-- {rate_name} (1280x720)")
        for kind in kinds:
            entry = summary[kind]
            key = "BPCER" if kind == "genuine" else "APCER"
            rate = entry[key]
            print(
                f"{kind:14s} {key} {100 * rate['rate']:5.1f}% ({rate['count']}/{rate['of']}, "
                f"95% CI {100 * rate['ci95'][0]:.1f}-{100 * rate['ci95'][1]:.1f}%, "
                f"one-sided upper {100 * rate['upper95_one_sided']:.1f}%)  "
                f"reasons {entry['reasons']}, given more steps {entry['given_extra_steps']}"
            )
    print(
        f"genuine challenge duration: median {report['genuine_challenge_median_s']} s, "
        f"90th percentile {report['genuine_challenge_p90_s']} s"
    )
    print(f"wrote {out / 'liveness_eval.json'} and the plots beside it")
    return 0


def _show(args: argparse.Namespace) -> int:
    import random

    import cv2
    import numpy as np

    from kiosk.evaluation.attacks import load_sources, make_presenter
    from kiosk.vision.liveness import LivenessChecker
    from kiosk.vision.pipeline import FaceEngine

    if not (args.faces / "identities.csv").is_file():
        raise KioskError(f"{args.faces} holds no identities.csv (image,person): pass --faces DIR")
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
