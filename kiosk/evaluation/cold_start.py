"""Cold-start figures for `kiosk bench`: `kiosk compare` against the cv2 reference script
in the same run, and the door's start to live view, each in a fresh Python process.

Wall time is measured from spawning the process to its answer; CPU time comes from the
OS's accounting of that child (`os.wait4`). The first run of `kiosk compare` builds the
optimised-graph cache and the bytecode of the modules it imports; the figures are the
median of the runs after it, the first is reported on its own.

Bytecode: an installed kiosk has it (pip compiles on install), but a checkout run with
PYTHONDONTWRITEBYTECODE=1 (this project's environment) compiles each kiosk module it
imports on every start, ~30 ms of a cold compare that the reference script, importing
only compiled libraries, never pays. So the children here may write bytecode, as Python
does by default (`__pycache__/`, ignored by git), and the figures are those of an install.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kiosk.config import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"


def _run(argv: list[str], env: dict[str, str], until: str | None = None) -> dict[str, float]:
    """Wall time to exit (or to the line `until`) and CPU time of one child."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    wall = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if until is not None and line.strip() == until and wall is None:
            wall = time.perf_counter() - t0
    _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own accounting
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = wall if wall is not None else time.perf_counter() - t0
    if proc.returncode not in (0, 1):  # compare exits 1 for "different people"
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}")
    # No peak RSS: a forked child's maxrss starts at its parent's size before exec.
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}


def cold_start_figures(
    pack_files: tuple[Path, Path], photos: tuple[Path, Path], data_dir: Path, runs: int = 5
) -> dict[str, Any]:
    """`kiosk compare A B` vs the cv2 script on the same photos, and door start to live."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "KIOSK_PATHS_DATA_DIR": str(data_dir),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    a, b = (str(p) for p in photos)
    compare = [sys.executable, "-m", "kiosk.cli", "compare", a, b, "--json"]
    reference = [
        sys.executable,
        str(BENCHMARKS / "reference_cv2_compare.py"),
        *(str(p) for p in pack_files),
        a,
        b,
    ]
    door = [sys.executable, str(BENCHMARKS / "door_cold_start.py"), str(photos[0].parent)]
    first = _run(compare, env)  # fills the optimised-graph cache and the bytecode
    _run(reference, env)  # the reference's own bytecode, for the same footing
    out: dict[str, Any] = {"compare_first_run": {k: round(v, 3) for k, v in first.items()}}
    compare_runs, reference_runs, door_runs = [], [], []
    for _ in range(runs):  # interleaved, so both see the same machine
        compare_runs.append(_run(compare, env))
        reference_runs.append(_run(reference, env))
        door_runs.append(_run(door, env, until="live"))
    out["compare"] = _median(compare_runs)
    out["reference_cv2_compare"] = _median(reference_runs)
    out["door_to_live_view"] = _median(door_runs)
    out["compare_vs_reference_wall"] = round(
        out["compare"]["wall_s"] / out["reference_cv2_compare"]["wall_s"], 3
    )
    return out


__all__ = ["cold_start_figures"]
