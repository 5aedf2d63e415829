"""`kiosk eval`: verification accuracy on a labelled pair list, with the protocol's face
rule, rule-of-three demonstrability and Clopper-Pearson bounds."""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.commands.terminal import LazyConsole, progress_bar
from kiosk.config import load_config
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.evaluation.embedding_cache import ChosenFace, EmbeddingCache
    from kiosk.vision.pipeline import FaceEngine

# The parser is built without the engine, numpy or rich: the handler imports what it runs.
console = LazyConsole()

DESCRIPTION = """\
Score every pair in a labelled pair list with the active model pack and report ROC/DET,
EER and FNMR at fixed FMR, with the threshold for the target FMR. Photos are detected at
their own size (never upscaled unless no face is found in a small photo) and the face a
pair is about is chosen by --face. Writes summary.json, pairs_scored.csv, faces.csv,
roc_det.png and scores.png to --out."""

# Kept beside the parser (not imported from the evaluation module) so `--help` loads no
# numpy; tests check the two lists name the same fields.
FIELD_HELP = {
    "pairs": "pairs in the list",
    "genuine_pairs": "same-person pairs scored (both faces found)",
    "impostor_pairs": "different-person pairs scored (both faces found)",
    "people": "distinct people in the scored photos (from --identities, else same-person groups)",
    "impostor_people": "distinct people in the scored different-person pairs",
    "identities_from": "where people were counted from: the identities file or same-person pairs",
    "images": "distinct photos in the list",
    "fta_images": "photos in which no usable face was found",
    "fta_rate": "failure to acquire: share of photos with no usable face",
    "auc": "probability a same-person pair outscores a different-person pair",
    "eer": "equal error rate: where FMR = FNMR",
    "eer_threshold": "the threshold at the EER",
    "min_demonstrable_fmr": "rule of three: 3 / impostor pairs, the lowest FMR this list can show",
    "fnmr_at_fmr_F": "false non-match rate at the threshold for FMR target F",
    "gfnmr_at_fmr_F": "generalised FNMR: also counts same-person pairs lost to FTA",
    "fmr_at_fmr_F": "FMR measured at that threshold (false matches / impostor pairs)",
    "fmr_upper95_at_fmr_F": "one-sided 95% Clopper-Pearson upper bound on that FMR",
    "threshold_at_fmr_F": "lowest threshold whose measured FMR is <= F",
    "demonstrable_at_fmr_F": "whether impostor pairs >= 3/F (rule of three)",
}

EPILOG = (
    "summary fields (F is an FMR target: 0.01, 0.001 and --target-fmr):\n"
    + "\n".join(f"  {k:<22} {v}" for k, v in FIELD_HELP.items())
    + "\n\nexit codes: 0 evaluated, 2 error (bad pair list, missing folder, no model pack)"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="verification accuracy on labelled pairs (ROC/DET, EER, FNMR at FMR)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "pairs", type=Path, help="CSV image_a,image_b,same_person (labels 1 or 0, header optional)"
    )
    p.add_argument("--images", type=Path, required=True, help="folder the CSV's names are in")
    p.add_argument(
        "--face",
        choices=("centre", "largest"),
        default="centre",
        help="which face a photo is about: centre (default; the protocol of photo sets: "
        "the centred subject) or largest (the door's rule)",
    )
    p.add_argument(
        "--identities",
        type=Path,
        default=None,
        help="CSV image,person to count distinct people "
        "(default: identities.csv beside the pair list, if present)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: <data_dir>/eval/<pairs name>-<face>)",
    )
    p.add_argument(
        "--target-fmr",
        type=float,
        default=None,
        help="FMR to pick the threshold for (default: [match] target_fmr)",
    )
    p.add_argument(
        "--calibrate",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="also write a calibration file for the target FMR (default: <out>/calibration.toml)",
    )
    p.add_argument(
        "--long-side",
        type=int,
        default=None,
        metavar="PX",
        help="detect every photo at this long side, small ones upscaled (round 1's rule: "
        "--long-side 640 --face largest gives its scores); default: the still rule above",
    )
    p.add_argument(
        "--cache",
        action="store_true",
        help="keep embeddings in <data_dir>/eval/embeddings.sqlite and reuse those of photos "
        "seen before with the same models, face rule and settings (keyed by the photo's "
        "SHA-256; scores are identical to a cold run)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="photos analysed at once, each on one thread (default: one per usable core)",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=0,
        help="faces per recogniser call (default: 16 on CUDA, 1 on CPU)",
    )
    p.set_defaults(handler=_eval)


def _eval(args: argparse.Namespace) -> int:
    import numpy as np
    from rich.markup import escape

    from kiosk.checkin.calibration_floor import assess
    from kiosk.checkin.matcher import Calibration
    from kiosk.evaluation import evaluation as ev
    from kiosk.evaluation.batch_embed import embed_images
    from kiosk.evaluation.pairs import read_identities, read_pairs, write_pair_csv
    from kiosk.evaluation.plots import plot_roc_det, plot_score_histograms
    from kiosk.vision.pipeline import FaceEngine
    from kiosk.vision.stills import face_by_rule

    cfg = load_config(args.config)
    target = args.target_fmr if args.target_fmr is not None else cfg.match.target_fmr
    if not 0.0 < target < 1.0:
        raise KioskError(f"--target-fmr must be between 0 and 1, not {target:g}")
    pairs = read_pairs(args.pairs)  # a bad list fails before the models load
    if not args.images.is_dir():
        raise KioskError(f"{args.images}: no such folder")
    if args.long_side is not None and not 32 <= args.long_side <= 4096:
        raise KioskError(f"--long-side must be between 32 and 4096 pixels, not {args.long_side}")
    ids_path = args.identities or args.pairs.with_name("identities.csv")
    identities = read_identities(ids_path) if args.identities or ids_path.is_file() else None
    out = args.out or cfg.paths.resolved_data_dir() / "eval" / f"{args.pairs.stem}-{args.face}"
    if args.calibrate is not None:
        # Refused before any image is read when the pairs cannot show the target at all.
        assess(
            target_fmr=target,
            impostor_scores=[0.0] * sum(1 for p in pairs if not p.same),
            threshold=1.0,
            people=None,
        ).refuse_unless_demonstrable()
    # Photos run in parallel, one per core, so each session needs one thread only.
    cfg.runtime.intra_op_threads = 1
    engine = FaceEngine.from_config(cfg)

    chosen: dict[str, ChosenFace] = {}
    names = sorted({p.a for p in pairs} | {p.b for p in pairs})
    cache = _open_cache(engine, args) if args.cache else None

    def failed(name: str, reason: str) -> None:
        console.print(f"[yellow]failure to acquire[/yellow] {escape(name)}: {escape(reason)}")

    try:
        with progress_bar("embedding photos", len(names)) as advance:
            # Stills at their own size (kiosk/vision/stills.py), the face by --face, every
            # photo decoded and analysed once, in parallel (kiosk/evaluation/batch_embed.py).
            embeddings = embed_images(
                engine,
                args.images,
                names,
                long_side=args.long_side,
                choose=face_by_rule(args.face),
                workers=args.workers,
                batch=args.batch or (16 if engine.provider.startswith("CUDA") else 1),
                on_failure=failed,
                cache=cache,
                on_progress=lambda _done: advance(),
                on_face=chosen.__setitem__,
            )
    finally:
        if cache is not None:
            cache.close()
    result = ev.score_pairs(pairs, embeddings.__getitem__)
    summary = ev.summarise(result, target, identities)
    key = f"{target:g}"
    bundled = engine.pack.calibration_path
    verdict = assess(  # the calibration floor (kiosk/checkin/calibration_floor.py)
        target_fmr=target,
        impostor_scores=result.impostor,
        threshold=float(summary[f"threshold_at_fmr_{key}"]),  # type: ignore[arg-type]
        # People are known only from an identities file; groups inferred from same-person
        # pairs can overcount, and the floor must not be passed on a guess.
        people=int(summary["impostor_people"]) if identities else None,  # type: ignore[call-overload]
        bundled_threshold=(
            Calibration.load(bundled).threshold if bundled and bundled.is_file() else None
        ),
    )
    threshold = verdict.threshold
    if verdict.raised_to_bundled:  # the FNMR the door will see is the one at the file's
        _fmr, fnmr = ev.error_rates(result.genuine, result.impostor, np.array([threshold]))
        summary[f"fnmr_at_fmr_{key}"] = float(fnmr[0])
        summary[f"threshold_at_fmr_{key}"] = threshold
        false_matches = int((result.impostor >= threshold).sum())
        summary[f"fmr_at_fmr_{key}"] = false_matches / len(result.impostor)
        summary[f"fmr_upper95_at_fmr_{key}"] = ev.clopper_pearson_upper(
            false_matches, len(result.impostor)
        )
    eer_threshold = float(summary["eer_threshold"])  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    write_pair_csv(result, threshold, out / "pairs_scored.csv")
    _write_faces(chosen, out / "faces.csv")
    title = f"{engine.pack_id}, face={args.face}: {args.pairs.name}"
    plot_roc_det(result, out / "roc_det.png", title, marks=[threshold])
    plot_score_histograms(
        result, out / "scores.png", title, [(f"FMR {key}", threshold), ("EER", eer_threshold)]
    )
    summary.update(pack_id=engine.pack_id, face_rule=args.face, target_fmr=target)
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    _print_summary(summary, target, args.pairs.name)
    if args.calibrate is not None:
        verdict.refuse_unless_demonstrable()
        if verdict.raised_to_bundled:
            console.print(
                f"note: measured threshold {verdict.measured_threshold:.4f} is below the "
                f"pack's bundled {verdict.bundled_threshold}; the file keeps the bundled one "
                "(going lower needs a policy signed by the centre)",
                markup=False,
            )
        path = Path(args.calibrate) if args.calibrate else out / "calibration.toml"
        ev.write_calibration(
            path,
            pack_id=engine.pack_id,
            threshold=threshold,
            target_fmr=target,
            summary=summary,
            source=args.pairs,
            floor=verdict.as_fields(),
        )
        console.print(f"calibration written to {path} (threshold {threshold:.4f})", markup=False)
    console.print(f"plots, per-pair scores and chosen faces in {out}", markup=False)
    return 0


def _open_cache(engine: FaceEngine, args: argparse.Namespace) -> EmbeddingCache | None:
    """The embedding cache for this run's context, or None (said why) when it cannot be
    opened: a cache only saves time, so a broken one never stops an evaluation."""
    import dataclasses
    import hashlib
    import sqlite3

    import cv2

    from kiosk.evaluation.embedding_cache import CACHE_FILE, EmbeddingCache, context_key
    from kiosk.vision.ort_cache import machine_tag
    from kiosk.vision.packs.manifest import MANIFEST

    cfg = engine.cfg
    context = context_key(
        {
            "manifest_sha256": hashlib.sha256(
                (engine.pack.root / MANIFEST).read_bytes()
            ).hexdigest(),
            "face_rule": args.face,
            "long_side": args.long_side or "still",
            "vision": dataclasses.asdict(cfg.vision),
            "provider": engine.provider,
            "graph_optimization": cfg.runtime.graph_optimization,
            "machine": machine_tag(),
            "opencv": cv2.__version__,
        }
    )
    path = cfg.paths.resolved_data_dir() / "eval" / CACHE_FILE
    try:
        return EmbeddingCache.open(path, context)
    except (sqlite3.Error, OSError) as exc:
        console.print(
            f"note: no embedding cache ({path}: {exc}); embedding every photo", markup=False
        )
        return None


def _write_faces(chosen: dict[str, ChosenFace], path: Path) -> None:
    """Which face each photo was scored by: reviewable when a figure looks wrong."""
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "faces_found", "chosen", "x1", "y1", "x2", "y2", "detector_long_side"])
        for name in sorted(chosen):
            s = chosen[name]
            box = [f"{v:.0f}" for v in s.box]
            w.writerow([name, s.faces_found, s.index + 1, *box, s.long_side])


def _print_summary(summary: dict[str, object], target: float, list_name: str) -> None:
    from rich.table import Table

    key = f"{target:g}"
    rows = [
        "pairs", "genuine_pairs", "impostor_pairs", "people", "impostor_people", "fta_rate",
        "auc", "eer", "eer_threshold", "min_demonstrable_fmr",
        "fnmr_at_fmr_0.01", f"fnmr_at_fmr_{key}", f"gfnmr_at_fmr_{key}",
        f"threshold_at_fmr_{key}", f"fmr_at_fmr_{key}", f"fmr_upper95_at_fmr_{key}",
    ]  # fmt: skip
    table = Table(title=f"kiosk eval: {list_name}", title_justify="left")
    table.add_column("field")
    table.add_column("value", justify="right")
    shown = []
    for name in dict.fromkeys(rows):
        if name in summary:
            value = summary[name]
            table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
            shown.append(name)
    console.print(table)
    console.print(f"pack {summary['pack_id']}, face rule {summary['face_rule']}", markup=False)
    n = int(summary["impostor_pairs"])  # type: ignore[call-overload]
    false_matches = round(float(summary[f"fmr_at_fmr_{key}"]) * n)  # type: ignore[arg-type]
    upper = float(summary[f"fmr_upper95_at_fmr_{key}"])  # type: ignore[arg-type]
    console.print(
        f"at the FMR {key} threshold: {false_matches} of {n} impostor pairs matched; "
        f"FMR <= {upper:.2e} with 95% confidence (Clopper-Pearson)",
        markup=False,
    )
    if not summary[f"demonstrable_at_fmr_{key}"]:
        console.print(
            f"note: {n} impostor pairs can show FMR down to {3 / n:.2g} (rule of three); "
            f"FMR {key} needs at least {math.ceil(3 / target)}",
            markup=False,
        )
    console.print("fields (F is the FMR in the field's name):", markup=False)
    for name in shown:
        generic = re.sub(r"_at_fmr_[0-9.e-]+$", "_at_fmr_F", name)
        console.print(f"  {name}: {FIELD_HELP[generic]}", markup=False, highlight=False)
