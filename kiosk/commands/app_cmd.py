"""`kiosk run`, `kiosk demo` and `kiosk calibrate`: the Qt app's entry points.

`kiosk demo` falls back to a headless run (state changes printed with rich) when there
is no display, so the README's first command works on a server too. Qt is imported only
once a window is really needed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from kiosk.config import load_config

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="the kiosk door: full-screen applicant screen",
        description="Start the door: the camera, the applicant screen in kiosk lockdown "
        "(leaving needs a proctor PIN), the proctor panel, the signed ledger and sync. "
        "Needs models, a calibration, device keys and an imported roster.",
    )
    run.add_argument("--camera", help="camera source: device index, video file or image folder")
    run.add_argument("--windowed", action="store_true", help="a normal window (development)")
    run.add_argument(
        "--no-lockdown", action="store_true", help="allow Esc/close without a PIN (development)"
    )
    run.add_argument("--language", choices=("kk", "ru", "en"), help="start language")
    run.set_defaults(handler=_run)

    demo = sub.add_parser(
        "demo",
        help="the whole door on bundled demo photos: no camera, no centre needed",
        description="Run the real door (engine, liveness, matcher, ledger) on the bundled "
        "demo camera and demo roster, in a window or, with --headless, as printed lines. "
        "Writes to a throw-away data folder, never to this kiosk's ledger.",
    )
    demo.add_argument("--headless", action="store_true", help="print the flow, no window")
    demo.add_argument("--loop", action="store_true", help="replay the demo camera endlessly")
    demo.add_argument("--language", choices=("kk", "ru", "en"), help="start language")
    demo.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the demo's data folder (ledger, keys, proctors) in DIR instead of a "
        "temporary one, e.g. to try `kiosk ledger verify` on it",
    )
    demo.set_defaults(handler=_demo)

    cal = sub.add_parser(
        "calibrate",
        help="technician mode: overlays, latency, self-test",
        description="Technician window: live detection overlays, quality measures and "
        "latency; capture a calibration set at this door and write a signed calibration. "
        "With --self-test, check cameras, models, keys and the centre, print and exit.",
    )
    cal.add_argument("--camera", help="camera source (default: [camera] source)")
    cal.add_argument("--template", help="photo whose face is the similarity reference")
    cal.add_argument("--self-test", action="store_true", help="run the self-test, print, exit")
    cal.add_argument(
        "--keep-images",
        action="store_true",
        help="also store the captured frames of the calibration set (default: embeddings only)",
    )
    cal.set_defaults(handler=_calibrate)


def quiet_opencv() -> None:
    """Silence OpenCV's own log: probing an absent camera prints several WARN/ERROR lines
    per backend on stderr, burying the self-test's one line per missing device."""
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def display_available(environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """Whether a window can be shown: Linux needs X11 or Wayland; an offscreen Qt platform
    (tests, CI) counts as no display."""
    env = os.environ if environ is None else environ
    if env.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")):
        return False
    if sys.platform.startswith("linux"):
        return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    return True


def _run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.camera:
        cfg.camera.source = args.camera
    from kiosk.app.door import build_door, refuse_demo_centre_key

    refuse_demo_centre_key(cfg.data_dir)
    door = build_door(cfg)
    return _show_window(
        door,
        language=args.language or cfg.ui.language,
        locked=not args.no_lockdown,
        fullscreen=cfg.ui.fullscreen and not args.windowed,
    )


def _demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    cfg = load_config(args.config)
    # soft_wrap: piped output keeps each line whole instead of breaking mid-field at 80.
    console = Console(soft_wrap=True)
    if args.headless or not display_available():
        from kiosk.demo.headless import run_headless

        if not args.headless:
            console.print("[yellow]no display found: running the demo headless[/]")
        return run_headless(cfg, console, keep=args.keep, language=args.language or cfg.ui.language)
    from kiosk.demo.door import DEMO_PROCTOR_ID, DEMO_PROCTOR_PIN, build_demo_door

    demo = build_demo_door(cfg, loop=args.loop, data_dir=args.keep)
    console.print(f"kiosk demo: room {demo.flow.room}; demo data in {demo.data_dir}")
    console.print(
        "proctor panel: hold the top-left corner for 3 s (or Ctrl+Shift+P), "
        f"number [bold]{DEMO_PROCTOR_ID}[/], PIN [bold]{DEMO_PROCTOR_PIN}[/] "
        "(also the way out of the full-screen window)"
    )
    try:
        return _show_window(
            demo.door,
            language=args.language or cfg.ui.language,
            locked=True,
            fullscreen=False,
            demo=True,
            close_door=False,
        )
    finally:
        demo.close()


def _show_window(
    door: object,
    *,
    language: str,
    locked: bool,
    fullscreen: bool,
    demo: bool = False,
    close_door: bool = True,
) -> int:
    from kiosk.ui.app import KioskWindow, ensure_application
    from kiosk.ui.i18n import Translator

    app = ensure_application(sys.argv[:1])
    window = KioskWindow(door, Translator(language), locked=locked, demo=demo)  # type: ignore[arg-type]
    window.resize(1280, 800)
    window.enter_kiosk_mode(fullscreen=fullscreen)
    window.start()
    try:
        return int(app.exec())
    finally:
        window.shutdown()
        if close_door:
            door.close()  # type: ignore[attr-defined]


def _calibrate(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.camera:
        cfg.camera.source = args.camera
    if args.self_test or not display_available():
        from rich.console import Console
        from rich.markup import escape

        from kiosk.app.selftest import run_self_test

        console = Console(soft_wrap=True)
        quiet_opencv()  # the failed camera check below says it in one line
        results = run_self_test(cfg)
        for r in results:
            colour = {"pass": "green", "fail": "red", "skip": "yellow"}[r.status]
            # Details hold config names such as "[sync] centre_url": not rich markup.
            console.print(f"[{colour}]{r.status.upper():4}[/] {r.name:8} {escape(r.detail)}")
        return 0 if all(r.status != "fail" for r in results) else 1
    from kiosk.ui.app import ensure_application
    from kiosk.ui.calibration import CalibrationWindow

    app = ensure_application(sys.argv[:1])
    window = CalibrationWindow.from_config(
        cfg,
        template=args.template,
        keep_images=args.keep_images,
        config_file=Path(args.config) if args.config else None,
    )
    window.resize(1800, 900)
    window.show()
    window.start()
    try:
        return int(app.exec())
    finally:
        window.shutdown()
