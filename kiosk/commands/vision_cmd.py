"""`kiosk bench`: the face engine's latency, the door's cost per attempt and cold starts
(`kiosk compare` lives in compare_cmd, `kiosk eval` in eval_cmd)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kiosk.commands.terminal import LazyConsole
from kiosk.config import KioskConfig, load_config
from kiosk.errors import ConfigError, KioskError

# The parser is built without the engine, numpy or rich: each handler imports what it runs.
console = LazyConsole()


def register(sub: argparse._SubParsersAction) -> None:
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
        from kiosk.vision.pipeline import FaceEngine

        with console.status("door attempts, idle and under a one-core load"):
            result["door"] = door_figures(
                cfg, FaceEngine.from_config(cfg), reference=args.reference == "cv2"
            )
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
