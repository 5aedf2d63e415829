"""`kiosk compare`, `kiosk eval`, `kiosk bench`: the face engine from the command line."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

from kiosk.commands.terminal import LazyConsole
from kiosk.config import KioskConfig, load_config
from kiosk.errors import ConfigError, ImageDecodeError, KioskError

# The parser is built without the engine, numpy or rich: each handler imports what it runs.
console = LazyConsole()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare the faces in two photos")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_compare)

    p = sub.add_parser("eval", help="verification accuracy on labelled pairs (ROC/DET, EER, FNMR)")
    p.add_argument("pairs", type=Path, help="CSV: image_a,image_b,same_person")
    p.add_argument("--images", type=Path, required=True, help="folder the CSV's names are in")
    p.add_argument("--out", type=Path, default=Path("runs/eval"), help="output folder")
    p.add_argument("--target-fmr", type=float, default=None, help="default: [match] target_fmr")
    p.add_argument(
        "--calibrate",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="write a calibration file for the target FMR (default: <out>/calibration.toml)",
    )
    p.add_argument("--long-side", type=int, default=640, help="detector input for still photos")
    p.set_defaults(handler=_eval)

    p = sub.add_parser("bench", help="per-stage pipeline latency (JSON + table)")
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--images", type=Path, default=None, help="portraits to build frames from")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/vision.json"))
    p.set_defaults(handler=_bench)


def load_calibration(cfg: KioskConfig, pack_id: str, pack_calibration: Path | None) -> dict:
    """The calibration in force: the configured file, else the pack's bundled one."""
    path = Path(cfg.match.calibration_file) if cfg.match.calibration_file else pack_calibration
    if path is None or not path.is_file():
        raise ConfigError(
            "no calibration file: run `kiosk eval PAIRS --images DIR --calibrate` "
            "and set [match] calibration_file"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))["calibration"]
        threshold = float(data["threshold"])
    except (KeyError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a calibration file ({exc})") from None
    if data.get("pack_id") != pack_id:
        raise ConfigError(
            f"{path}: calibrated for pack {data.get('pack_id')!r}, "
            f"but the active pack is {pack_id!r}"
        )
    return {**data, "threshold": threshold, "path": str(path)}


def _engine(cfg: KioskConfig):
    from kiosk.vision.pipeline import FaceEngine

    return FaceEngine.from_config(cfg)


def _compare(args: argparse.Namespace) -> int:
    from kiosk.vision.image_header import probe_image

    cfg = load_config(args.config)
    for path in (args.a, args.b):  # a bomb or a folder is refused before models load
        probe_image(path)
    from kiosk.vision.embed import cosine_similarity

    engine = _engine(cfg)
    cal = load_calibration(cfg, engine.pack_id, engine.pack.calibration_path)
    faces = []
    for path in (args.a, args.b):
        face = engine.embed_photo(path)
        faces.append(face)
    score = cosine_similarity(faces[0].embedding, faces[1].embedding)
    match = score >= cal["threshold"]
    report = {
        "similarity": round(score, 4),
        "threshold": cal["threshold"],
        "match": match,
        "quality": {args.a: faces[0].quality.as_dict(), args.b: faces[1].quality.as_dict()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if match else 1
    verdict = "[green]same person[/green]" if match else "[red]different people[/red]"
    console.print(f"similarity {score:.4f} (threshold {cal['threshold']:.4f}): {verdict}")
    for path, face in zip((args.a, args.b), faces, strict=True):
        if not face.quality.ok:
            console.print(f"  {path}: quality warning: {', '.join(face.quality.reasons)}")
    return 0 if match else 1


def _eval(args: argparse.Namespace) -> int:
    import numpy as np
    from rich.table import Table

    from kiosk.checkin.calibration_floor import assess
    from kiosk.checkin.matcher import Calibration
    from kiosk.evaluation import evaluation as ev

    cfg = load_config(args.config)
    engine = _engine(cfg)
    target = args.target_fmr if args.target_fmr is not None else cfg.match.target_fmr
    pairs = ev.read_pairs(args.pairs)
    if not args.images.is_dir():
        raise KioskError(f"{args.images}: no such folder")
    if args.calibrate is not None:
        # Refused before any image is read when the pairs cannot show the target at all.
        assess(
            target_fmr=target,
            impostor_scores=[0.0] * sum(1 for p in pairs if not p.same),
            threshold=1.0,
            people=None,
        ).refuse_unless_demonstrable()

    def embed(name: str):
        try:
            return engine.embed_photo(str(args.images / name), long_side=args.long_side).embedding
        except (ImageDecodeError, KioskError) as exc:
            console.print(f"[yellow]failure to acquire[/yellow] {name}: {exc}")
            return None

    with console.status(f"embedding images for {len(pairs)} pairs"):
        result = ev.score_pairs(pairs, embed)
    summary = ev.summarise(result, target)
    bundled = engine.pack.calibration_path
    verdict = assess(
        target_fmr=target,
        impostor_scores=result.impostor,
        threshold=float(summary[f"threshold_at_fmr_{target:g}"]),
        people=None,  # a pairs CSV names images, not people
        bundled_threshold=(
            Calibration.load(bundled).threshold if bundled and bundled.is_file() else None
        ),
    )
    summary.update(verdict.as_fields())
    threshold = verdict.threshold
    if verdict.raised_to_bundled:  # the FNMR the door will see is the one at the file's
        _fmr, fnmr = ev.error_rates(result.genuine, result.impostor, np.array([threshold]))
        summary[f"fnmr_at_fmr_{target:g}"] = float(fnmr[0])
    args.out.mkdir(parents=True, exist_ok=True)
    ev.write_pair_csv(result, threshold, args.out / "pairs_scored.csv")
    ev.plot_roc_det(
        result,
        args.out / "roc_det.png",
        f"{engine.pack_id} on {args.pairs.name}",
        marks=[threshold],
    )
    summary["pack_id"] = engine.pack_id
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))

    table = Table(title=f"{args.pairs.name}: {engine.pack_id}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in (
        "pairs",
        "genuine_pairs",
        "impostor_pairs",
        "fta_rate",
        "auc",
        "eer",
        "fnmr_at_fmr_0.01",
        "fnmr_at_fmr_0.001",
        "gfnmr_at_fmr_0.001",
        "threshold_at_fmr_0.001",
    ):
        if key in summary:
            value = summary[key]
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    if target < summary["min_demonstrable_fmr"]:
        console.print(
            f"[yellow]note:[/yellow] {summary['impostor_pairs']} impostor pairs cannot show "
            f"FMR {target:g}; the threshold sits above every impostor score"
        )
    console.print(
        f"FMR at threshold {threshold:.4f}: {verdict.false_matches}/{verdict.impostor_pairs} "
        f"impostor pairs, 95% upper bound {verdict.fmr_upper_95:.4g} (Clopper-Pearson)"
    )
    if args.calibrate is not None:
        verdict.refuse_unless_demonstrable()
        if verdict.raised_to_bundled:
            console.print(
                f"[yellow]note:[/yellow] measured threshold {verdict.measured_threshold:.4f} "
                f"is below the pack's bundled {verdict.bundled_threshold}; the file keeps "
                "the bundled one (going lower needs a policy signed by the centre)"
            )
        path = Path(args.calibrate) if args.calibrate else args.out / "calibration.toml"
        ev.write_calibration(
            path,
            pack_id=engine.pack_id,
            threshold=threshold,
            target_fmr=target,
            summary=summary,
            source=args.pairs,
            floor=verdict.as_fields(),
        )
        console.print(f"calibration written to {path} (threshold {threshold:.4f})")
    console.print(f"plots and per-pair scores in {args.out}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from rich.table import Table

    from kiosk.config import REPO_ROOT
    from kiosk.evaluation.bench import run_bench

    cfg = load_config(args.config)
    folder = args.images or REPO_ROOT / "tests" / "data"
    portraits = sorted(p for p in folder.glob("*.jpg"))[:8] if folder.is_dir() else []
    if not portraits:
        raise KioskError(f"no portraits (*.jpg) in {folder}; pass --images DIR")
    with console.status(f"benchmarking {args.frames} frames per size"):
        result = run_bench(cfg, portraits, frames=args.frames)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for run in result["runs"]:
        table = Table(title=f"{run['provider']} {run['frame']}: {run['fps']:.0f} fps (median)")
        table.add_column("stage")
        table.add_column("median ms", justify="right")
        table.add_column("p95 ms", justify="right")
        for stage, st in run["stages_ms"].items():
            table.add_row(stage, f"{st['median']:.2f}", f"{st['p95']:.2f}")
        console.print(table)
        console.print(
            "model load: " + ", ".join(f"{k} {v:.0f} ms" for k, v in run["load_ms"].items())
        )
    challenge = result.get("liveness_challenge") or {}
    if "stages_ms" in challenge:
        table = Table(title="liveness challenge, CPU 1280x720 (on top of the pipeline)")
        table.add_column("stage")
        table.add_column("median ms", justify="right")
        table.add_column("p95 ms", justify="right")
        for stage, st in challenge["stages_ms"].items():
            table.add_row(stage, f"{st['median']:.2f}", f"{st['p95']:.2f}")
        for rate, ms in challenge["per_frame_at_fps_ms"].items():
            table.add_row(f"per frame at {rate}", f"{ms:.2f}", "")
        console.print(table)
    console.print(f"peak RSS {result['peak_rss_mb']:.0f} MB; JSON in {args.out}")
    return 0
