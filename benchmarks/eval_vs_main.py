"""`kiosk eval` here vs an older checkout (round-1 main), interleaved, wall and CPU.

Runs `python -m kiosk.cli eval PAIRS --images DIR` alternately in the old tree and in
this one (old, new, old, new, ...), so both see the same machine load, and writes one
JSON with every run's wall and CPU (user + sys of the child, from getrusage), the load
average before it, and whether the per-pair scores (pairs_scored.csv) of each new mode
are byte-identical to the old run's. Round 1 detected every photo at 640 px and scored
the largest face, so the new mode that must reproduce its scores is
`--face largest --long-side 640`; the default mode (the still rule, centre face) is
timed too, and its scores differ by design.

    git -C /work/main worktree add --detach /work/wt/oldmain 6c4c1a5
    python benchmarks/make_eval_timing_set.py /tmp/eval_timing
    python benchmarks/eval_vs_main.py /work/wt/oldmain /tmp/eval_timing --rounds 2 \
        --out benchmarks/out/eval_vs_main.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
SAME_SCORES = ["--face", "largest", "--long-side", "640"]
NEW_MODES = {
    "new_same_scores": SAME_SCORES,
    "new_default": [],
    # Re-run with every embedding already cached (filled once before the first round).
    "new_same_scores_warm": [*SAME_SCORES, "--cache"],
}


def timed_eval(
    tree: Path, pairs: Path, images: Path, out: Path, extra: list[str], env: dict[str, str]
) -> dict:
    """One `kiosk eval` in `tree`: wall and CPU seconds, the load average before it."""
    env = {**os.environ, **env, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", "kiosk.cli", "eval", str(pairs), "--images", str(images)]
    cmd += ["--out", str(out), *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load_before": load}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old_tree", type=Path, help="checkout of the old kiosk (round-1 main)")
    parser.add_argument("set", type=Path, help="folder with pairs.csv and images/")
    parser.add_argument(
        "--new-tree",
        type=Path,
        default=HERE,
        help="the tree to time as new (default: this one; pass a `git archive` copy to "
        "keep editing here meanwhile)",
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/eval_vs_main"))
    parser.add_argument("--out", type=Path, default=HERE / "benchmarks/out/eval_vs_main.json")
    args = parser.parse_args()
    pairs, images = args.set / "pairs.csv", args.set / "images"
    # The warm mode's cache lives in its own data dir, filled by one untimed run.
    cache_env = {"KIOSK_PATHS_DATA_DIR": str(args.work / "cache_data")}
    fill = args.work / "cache_fill"
    timed_eval(args.new_tree, pairs, images, fill, NEW_MODES["new_same_scores_warm"], cache_env)
    runs: list[dict] = []
    for r in range(args.rounds):
        old_out = args.work / f"old{r}"
        old = timed_eval(args.old_tree, pairs, images, old_out, [], {})
        runs.append({"tree": "old", "round": r, **old})
        print(runs[-1], flush=True)
        old_scores = (old_out / "pairs_scored.csv").read_bytes()
        for mode, extra in NEW_MODES.items():
            out = args.work / f"{mode}{r}"
            env = cache_env if "--cache" in extra else {}
            run = {"tree": mode, "round": r}
            run |= timed_eval(args.new_tree, pairs, images, out, extra, env)
            run["pairs_scored_identical_to_old"] = (
                out / "pairs_scored.csv"
            ).read_bytes() == old_scores
            runs.append(run)
            print(runs[-1], flush=True)
    images_n = len(list(images.glob("*.jpg")))
    result = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
        "new_tree": str(args.new_tree),
        "set": {"images": images_n, "pairs": sum(1 for _ in pairs.open()) - 1},
        "runs": runs,
    }
    for mode in ("old", *NEW_MODES):
        mine = [x for x in runs if x["tree"] == mode]
        result[f"{mode}_median"] = {
            k: statistics.median(x[k] for x in mine) for k in ("wall_s", "cpu_s")
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
