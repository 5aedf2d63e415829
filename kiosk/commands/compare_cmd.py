"""`kiosk compare A B`: one 1:1 decision on two photos at the calibrated threshold.

Its own module because a cold `kiosk compare` is timed against OpenCV doing the same
(issue 17): the run imports this module, the config and the vision runtime, and nothing
else of the kiosk; its answer is printed with `print` (rich costs ~40 ms to import).
"""

from __future__ import annotations

import argparse
import gc
import os
import tomllib
from pathlib import Path

from kiosk.config import KioskConfig, load_config
from kiosk.errors import ConfigError

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
    # exit_at_once: compare writes only its answer, so the process ends without the
    # interpreter's teardown (see kiosk/cli.py main).
    p.set_defaults(handler=_compare, exit_at_once=True)


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


def _compare(args: argparse.Namespace) -> int:
    """`_decide`, started the way a one-shot command should be (measured on 2 cores):

    - numpy's OpenBLAS starts a thread per core that spins waiting for work (~35 ms of
      CPU, and on two cores it takes the core the recogniser is opening on); compare
      asks BLAS for one 128-value dot product, so one thread. Read when numpy is first
      imported, so it changes nothing in a process that already has numpy.
    - The cyclic GC walks the growing heap again and again while numpy, OpenCV and ORT
      import (~40 ms) and frees nothing: compare keeps what it allocates until it exits.
    """
    added = "OPENBLAS_NUM_THREADS" not in os.environ
    if added:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _decide(args)
    finally:
        if collecting:
            gc.enable()
        if added:  # numpy has read it by now; the process's environment is as it was
            os.environ.pop("OPENBLAS_NUM_THREADS", None)


def _decide(args: argparse.Namespace) -> int:
    from kiosk.vision.image_header import probe_image

    cfg = load_config(args.config)
    photos = (args.photo_a, args.photo_b)
    for path in photos:  # a bomb or a folder is refused before models load
        probe_image(path)
    from kiosk.vision.embed import cosine_similarity
    from kiosk.vision.pipeline import FaceEngine
    from kiosk.vision.stills import detect_stills

    # Only the two models compare runs are loaded, so only those two are checked.
    engine = FaceEngine.from_config(cfg, whole_pack=False, one_shot=True)
    cal = load_calibration(cfg, engine.pack_id, engine.pack.calibration_path)
    stills = detect_stills(engine, photos, args.face)
    score = cosine_similarity(stills[0].embedding, stills[1].embedding)
    match = score >= cal["threshold"]
    target = cal.get("target_fmr")
    at = f"threshold {cal['threshold']:.4f}" + (f" (target FMR {target:g})" if target else "")
    if args.json:
        import json

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
    print(f"similarity {score:.4f}: {'match' if match else 'no match'} at {at}")
    for path, s in zip(photos, stills, strict=True):
        if s.faces_found > 1:
            print(f"  {path}: {s.faces_found} faces; used the {args.face} one, {s.describe()}")
        reasons = [r for r in s.face.quality.reasons if r != "only_one_person"]
        if reasons:
            print(f"  {path}: quality warning: {', '.join(reasons)}")
    return 0 if match else 1
