"""`kiosk compare` and `kiosk bench`: the face engine from the command line (`kiosk eval`
lives in eval_cmd)."""

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


COMPARE_DESCRIPTION = """\
Compare the face in photo A with the face in photo B using the active model pack and its
calibration. When a photo holds several faces, --face chooses one and the output says
which. The result is a threshold decision, not proof of identity: "match at threshold T
(target FMR F)" means the similarity reached the threshold calibrated for that false
match rate."""

EXIT_CODES = (
    "exit codes: 0 match, 1 no match at the threshold, "
    "2 error (unreadable photo, no face, no calibration)"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="compare the faces in two photos (1:1, at the calibrated threshold)",
        description=COMPARE_DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("photo_a", metavar="PHOTO_A", help="first photo (JPEG/PNG)")
    p.add_argument("photo_b", metavar="PHOTO_B", help="second photo (JPEG/PNG)")
    p.add_argument(
        "--face",
        choices=("largest", "centre"),
        default="largest",
        help="face to use when a photo holds several: largest (default, the door's rule) "
        "or centre (nearest the middle)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_compare)

    p = sub.add_parser(
        "bench",
        help="pipeline latency, door cost per attempt, cold start (JSON + tables)",
        description="Time decode, detect, align, quality and embed on 640x480 and 1280x720 "
        "frames built from portraits; whole door attempts idle and under load; cold starts.",
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
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON file to write (default: <data_dir>/bench/vision.json)",
    )
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
    from kiosk.vision.stills import detect_still

    cfg = load_config(args.config)
    for path in (args.photo_a, args.photo_b):  # a bomb or a folder is refused before models load
        probe_image(path)
    from kiosk.vision.embed import cosine_similarity

    engine = _engine(cfg)
    cal = load_calibration(cfg, engine.pack_id, engine.pack.calibration_path)
    stills = [detect_still(engine, path, args.face) for path in (args.photo_a, args.photo_b)]
    score = cosine_similarity(stills[0].embedding, stills[1].embedding)
    match = score >= cal["threshold"]
    target = cal.get("target_fmr")
    at = f"threshold {cal['threshold']:.4f}" + (f" (target FMR {target:g})" if target else "")
    photos = (args.photo_a, args.photo_b)
    if args.json:
        report = {
            "similarity": round(score, 4),
            "threshold": cal["threshold"],
            "target_fmr": target,
            "match": match,
            "faces": {
                path: {"faces_found": s.faces_found, "used": s.index + 1, "rule": args.face,
                       "box": [round(float(v)) for v in s.face.box]}
                for path, s in zip(photos, stills, strict=True)
            },
            "quality": {
                path: s.face.quality.as_dict() for path, s in zip(photos, stills, strict=True)
            },
        }  # fmt: skip
        print(json.dumps(report, indent=2))
        return 0 if match else 1
    verdict = f"[green]match at {at}[/green]" if match else f"[red]no match at {at}[/red]"
    console.print(f"similarity {score:.4f}: {verdict}")
    for path, s in zip(photos, stills, strict=True):
        if s.faces_found > 1:
            console.print(
                f"  {path}: {s.faces_found} faces; used the {args.face} one, {s.describe()}",
                markup=False,
            )
        reasons = [r for r in s.face.quality.reasons if r != "only_one_person"]
        if reasons:
            console.print(f"  {path}: quality warning: {', '.join(reasons)}", markup=False)
    return 0 if match else 1


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
    # Under the data dir unless told: never into whatever folder the command runs from.
    args.out = args.out or cfg.data_dir / "bench" / "vision.json"
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
