"""Ledger speed: signed durable appends per second and verification throughput.

Run: ``python benchmarks/bench_ledger.py [--n 3000] [--dir /path/on/the/kiosk/disk]``.
Appends use the real store (WAL, ``synchronous=FULL``: every append is fsync'd before it
returns), so the number depends on the disk; run it on the disk the kiosk will use.
Writes ``benchmarks/out/ledger.json`` and prints a table. Target: >= 500 appends/s.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from kiosk.ledger.keys import DeviceKeys, KeyPolicy  # noqa: E402
from kiosk.ledger.store import LedgerStore  # noqa: E402
from kiosk.protocol.canonical import canonical_json  # noqa: E402
from kiosk.protocol.chain import verify_chain  # noqa: E402
from kiosk.protocol.envelope import new_record, sign_record  # noqa: E402

TARGET_APPENDS_PER_S = 500


def checkin_body(i: int) -> dict:
    """A realistic check-in body (no image, no template), ~600 bytes canonical."""
    return {
        "applicant_id": f"APP-{i:06d}",
        "session_id": "SES-2025-06-01-101",
        "decision": "accepted",
        "score": 0.6312345,
        "threshold": 0.4129,
        "liveness": {"mode": "active+passive", "passed": True, "score": 0.93},
        "quality": {"inter_eye_px": 61.2, "sharpness": 88.1, "yaw": -3.4, "luminance": 131.0},
        "pack": "default-sface-2021dec",
        "timings_ms": {"detect": 6.1, "align": 0.4, "embed": 11.8, "total": 19.9},
    }


def bench(n: int, workdir: Path) -> dict:
    keys = DeviceKeys.load_or_create(workdir / "data", KeyPolicy.plaintext_for_demo())
    path = workdir / "bench-ledger.sqlite"
    latencies = []
    with LedgerStore(path, keys) as store:
        start = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            store.append("checkin", checkin_body(i))
            latencies.append(time.perf_counter() - t)
        append_s = time.perf_counter() - start

        start = time.perf_counter()
        verified = store.verify()
        verify_store_s = time.perf_counter() - start

        envs = list(store.iter_envelopes())
    start = time.perf_counter()
    verify_chain(envs, keys.history[0].public_key, device=keys.device_id)
    verify_mem_s = time.perf_counter() - start

    # the CPU part alone: canonicalise + sign, without SQLite
    start = time.perf_counter()
    for i in range(n):
        rec = new_record("checkin", checkin_body(i), device=keys.device_id, seq=i + 1, prev=None)
        sign_record(rec, keys.private_key)
    sign_only_s = time.perf_counter() - start

    lat_ms = sorted(x * 1000 for x in latencies)
    return {
        "n": n,
        "record_bytes": len(envs[0].canonical()),
        "appends_per_s": n / append_s,
        "append_latency_ms": {
            "median": statistics.median(lat_ms),
            "p95": lat_ms[int(0.95 * (n - 1))],
            "p99": lat_ms[int(0.99 * (n - 1))],
            "max": lat_ms[-1],
        },
        "build_sign_only_per_s": n / sign_only_s,
        "verify_store_records_per_s": verified / verify_store_s,
        "verify_chain_in_memory_records_per_s": n / verify_mem_s,
        "canonical_json_bytes_example": len(canonical_json(checkin_body(0))),
        "target_appends_per_s": TARGET_APPENDS_PER_S,
        "meets_target": n / append_s >= TARGET_APPENDS_PER_S,
        "synchronous": "FULL",
        "journal_mode": "WAL",
        "python": platform.python_version(),
        "machine": platform.platform(),
        "workdir": str(workdir),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="records to append")
    parser.add_argument("--dir", type=Path, help="directory on the disk to test (default: temp)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks/out/ledger.json")
    args = parser.parse_args()
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            result = bench(args.n, Path(tmp))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = bench(args.n, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    table = Table(title=f"Ledger benchmark ({result['n']} records, WAL + synchronous=FULL)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    ok = "[green]yes[/]" if result["meets_target"] else "[red]NO[/]"
    lat = result["append_latency_ms"]
    table.add_row("signed durable appends / s", f"{result['appends_per_s']:,.0f}")
    table.add_row(f"meets target ≥ {TARGET_APPENDS_PER_S}/s", ok)
    table.add_row("append latency median / p95 / p99 (ms)",
                  f"{lat['median']:.2f} / {lat['p95']:.2f} / {lat['p99']:.2f}")  # fmt: skip
    table.add_row("build + sign only / s (no disk)", f"{result['build_sign_only_per_s']:,.0f}")
    table.add_row("verify from store / s", f"{result['verify_store_records_per_s']:,.0f}")
    table.add_row("verify_chain in memory / s",
                  f"{result['verify_chain_in_memory_records_per_s']:,.0f}")  # fmt: skip
    table.add_row("envelope size (bytes)", str(result["record_bytes"]))
    Console().print(table)
    Console().print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
