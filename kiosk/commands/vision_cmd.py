"""`kiosk compare` and `kiosk bench`: the face engine from the command line (`kiosk eval`
lives in eval_cmd)."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

from kiosk.commands.terminal import LazyConsole, progress_bar
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
        help="per-stage pipeline latency on door-camera-like frames (JSON + table)",
        description="Time decode, detect, align, quality and embed on 640x480 and 1280x720 "
        "frames built from portraits, for every available execution provider.",
    )
    p.add_argument("--frames", type=int, default=200, help="frames timed per size (default 200)")
    p.add_argument(
        "--images",
        type=Path,
        default=None,
        help="folder of portraits (*.jpg) to build frames from (default: tests/data)",
    )
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
    from kiosk.evaluation.stills import detect_still
    from kiosk.vision.image_header import probe_image

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
    from rich.table import Table

    from kiosk.config import REPO_ROOT
    from kiosk.evaluation.bench import SIZES, bench_providers, run_bench

    cfg = load_config(args.config)
    folder = args.images or REPO_ROOT / "tests" / "data"
    portraits = sorted(p for p in folder.glob("*.jpg"))[:8] if folder.is_dir() else []
    if not portraits:
        raise KioskError(f"no portraits (*.jpg) in {folder}; pass --images DIR")
    out = args.out or cfg.paths.resolved_data_dir() / "bench" / "vision.json"
    warmup = 10
    total = len(bench_providers()) * len(SIZES) * (warmup + args.frames)
    with progress_bar("timing frames", total) as advance:
        result = run_bench(cfg, portraits, frames=args.frames, warmup=warmup, on_frame=advance)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    for run in result["runs"]:
        table = Table(
            title=f"{run['provider']} {run['frame']}: {run['fps']:.0f} fps", title_justify="left"
        )
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
        table = Table(title="liveness challenge, CPU 1280x720", title_justify="left")
        table.add_column("stage")
        table.add_column("median ms", justify="right")
        table.add_column("p95 ms", justify="right")
        for stage, st in challenge["stages_ms"].items():
            table.add_row(stage, f"{st['median']:.2f}", f"{st['p95']:.2f}")
        for rate, ms in challenge["per_frame_at_fps_ms"].items():
            table.add_row(f"per frame at {rate}", f"{ms:.2f}", "")
        console.print(table)
    console.print(f"peak RSS {result['peak_rss_mb']:.0f} MB; JSON in {out}", markup=False)
    return 0
