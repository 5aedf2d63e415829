"""`kiosk compare`, `kiosk eval`, `kiosk bench`: the face engine from the command line."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

from kiosk.commands.terminal import LazyConsole
from kiosk.config import KioskConfig, load_config
from kiosk.errors import ConfigError, KioskError

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
    p.add_argument(
        "--workers", type=int, default=None, help="decode/detect threads (default: min(4, CPUs))"
    )
    p.add_argument(
        "--batch",
        type=int,
        default=0,
        help="faces per recogniser call (default: 16 on CUDA, 1 on CPU)",
    )
    p.set_defaults(handler=_eval)

    p = sub.add_parser(
        "bench", help="pipeline latency, door cost per attempt, cold start (JSON + tables)"
    )
    p.add_argument("--frames", type=int, default=200, help="frames per size for the stages")
    p.add_argument(
        "--parts",
        default="stages,door,cold",
        help="comma-separated: stages (per-stage latency), door (whole attempts, idle and "
        "under a one-core load), cold (cold starts)",
    )
    p.add_argument(
        "--reference",
        choices=("cv2",),
        default=None,
        help="also run OpenCV's FaceDetectorYN + FaceRecognizerSF on the same frames/photos",
    )
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
    from kiosk.evaluation.batch_embed import embed_images

    cfg = load_config(args.config)
    # Images run in parallel, one per core, so each session needs one thread only.
    cfg.runtime.intra_op_threads = 1
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

    def failed(name: str, reason: str) -> None:
        console.print(f"[yellow]failure to acquire[/yellow] {name}: {reason}")

    names = sorted({p.a for p in pairs} | {p.b for p in pairs})
    with console.status(f"embedding {len(names)} images for {len(pairs)} pairs"):
        embeddings = embed_images(
            engine,
            args.images,
            names,
            long_side=args.long_side,
            workers=args.workers,
            batch=args.batch or (16 if engine.provider.startswith("CUDA") else 1),
            on_failure=failed,
        )
        result = ev.score_pairs(pairs, embeddings.__getitem__)
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
    from kiosk.config import REPO_ROOT
    from kiosk.evaluation.bench import machine_info

    cfg = load_config(args.config)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - {"stages", "door", "cold"}
    if unknown:
        raise ConfigError(f"--parts: unknown {', '.join(sorted(unknown))}; use stages, door, cold")
    folder = args.images or REPO_ROOT / "tests" / "data"
    portraits = sorted(p for p in folder.glob("*.jpg"))[:8] if folder.is_dir() else []
    if not portraits:
        raise KioskError(f"no portraits (*.jpg) in {folder}; pass --images DIR")
    result: dict = {"machine": machine_info()}
    if "stages" in parts:
        from kiosk.evaluation.bench import run_bench

        with console.status(f"benchmarking {args.frames} frames per size"):
            result["stages"] = run_bench(cfg, portraits, frames=args.frames)
        _print_stages(result["stages"])
    if "door" in parts:
        from kiosk.demo.attempt_bench import door_figures

        with console.status("door attempts, idle and under a one-core load"):
            result["door"] = door_figures(cfg, _engine(cfg), reference=args.reference == "cv2")
        _print_door(result["door"])
    if "cold" in parts:
        result["cold_start"] = _cold(cfg, portraits, reference=args.reference == "cv2")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    m = result["machine"]
    console.print(
        f"{m['cpu']}, {m['cpu_count']} cores, {' '.join(m['isa'])}; "
        f"load average {m['load_average_1min']}; JSON in {args.out}"
    )
    return 0


def _print_stages(result: dict) -> None:
    from rich.table import Table

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
    console.print(f"peak RSS {result['peak_rss_mb']:.0f} MB")


def _print_door(door: dict) -> None:
    from rich.table import Table

    for label in ("idle", "load"):
        block = door[label]
        ref = block.get("reference_per_frame")
        title = f"door attempts, {label} (load average {block['load_average']})"
        if ref:
            title += f"; cv2 reference {ref['cpu_ms']:.1f} ms CPU a frame"
        table = Table(title=title)
        table.add_column("measure")
        for i, _row in enumerate(block["attempts"], 1):
            table.add_column(f"attempt {i}", justify="right")
        keys = list(block["attempts"][0]) if block["attempts"] else []
        for key in keys:
            table.add_row(key.replace("_", " "), *(str(r[key]) for r in block["attempts"]))
        console.print(table)


def _cold(cfg: KioskConfig, portraits: list, *, reference: bool) -> dict:
    import tempfile

    from kiosk.evaluation.cold_start import cold_start_figures
    from kiosk.evaluation.cv2_reference import Cv2Reference
    from kiosk.vision.packs import resolve_pack

    pack = resolve_pack(cfg)
    files = Cv2Reference.from_pack(pack).files
    pack_files = (pack.root / files["detector"], pack.root / files["recognizer"])
    with console.status("cold starts (fresh processes)"), tempfile.TemporaryDirectory() as tmp:
        figures = cold_start_figures(pack_files, (portraits[0], portraits[1]), Path(tmp))
    if not reference:
        figures.pop("reference_cv2_compare", None)
        figures.pop("compare_vs_reference_wall", None)
    for key, value in figures.items():
        console.print(f"{key}: {value}")
    return figures
