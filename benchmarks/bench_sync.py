"""Sync throughput kiosk → centre on loopback (target ≥ 2,000 records/s).

A real centre (`python -m centre`, one uvicorn process) on 127.0.0.1, one kiosk ledger with
`--records` signed records in its SQLite outbox, and `SyncClient.push_all` timed from the
first pending record to the last ack (HTTP, request signing, centre verification and
storage, per-record acks written back to the outbox).

    python benchmarks/bench_sync.py --records 20000
    KIOSK_CENTRE_DB=postgresql+psycopg://… python benchmarks/bench_sync.py

Writes benchmarks/out/bench_sync.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

log = logging.getLogger("bench_sync")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the centre exited during start-up")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the centre did not start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument(
        "--db",
        default=os.environ.get("KIOSK_CENTRE_DB", ""),
        help="centre database URL (default: SQLite in a temporary dir)",
    )
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "bench_sync.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("centre", "kiosk", "alembic", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)

    from centre.core.config import CentreSettings
    from centre.crud.devices import create_enrolment_token
    from centre.db import make_engine, migrate, session_factory
    from kiosk.ledger.keys import DeviceKeys, KeyPolicy
    from kiosk.ledger.store import LedgerStore
    from kiosk.sync.client import SyncClient

    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory() as centre_dir, tempfile.TemporaryDirectory(dir=shm) as kd:
        settings = CentreSettings(
            data_dir=Path(centre_dir), db_url=args.db, key_passphrase="benchmark-only passphrase"
        )
        migrate(settings)
        engine = make_engine(settings)
        with session_factory(engine)() as db:
            _, token = create_enrolment_token(db, ttl_s=600)
            db.commit()
        engine.dispose()
        port = _free_port()
        env = {
            **os.environ,
            "KIOSK_PATHS_DATA_DIR": centre_dir,
            "KIOSK_CENTRE_DB": args.db,
            "PYTHONPATH": str(REPO),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "centre", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_up(url, server)
            keys = DeviceKeys.load_or_create(Path(kd), KeyPolicy.plaintext_for_demo())
            store = LedgerStore(Path(kd) / "ledger.sqlite", keys)
            t = time.perf_counter()
            for i in range(args.records):
                store.append(
                    "checkin",
                    {
                        "applicant_id": f"A-{i:06d}",
                        "session_id": f"S-{i // 300}",
                        "room": "R-101",
                        "decision": "accepted",
                        "score": 0.61,
                        "threshold": 0.36,
                        "liveness": "passed",
                        "quality": {"overall": 81},
                        "pack": "default",
                        "timings": {"total_ms": 300.5},
                    },
                )
            fill_s = time.perf_counter() - t
            with SyncClient(store, keys, url, batch_size=args.batch, timeout_s=60) as client:
                client.enroll(token)
                t0 = time.perf_counter()
                result = client.push_all()
                wall = time.perf_counter() - t0
            counts = store.counts()
            store.close()
        finally:
            server.terminate()
            server.wait(10)
    out = {
        "benchmark": "sync_loopback",
        "database": (args.db or "sqlite").split(":", 1)[0].split("+")[0],
        "records": args.records,
        "batch": args.batch,
        "batches": result.batches,
        "accepted": result.accepted,
        "acked_in_outbox": counts["acked"],
        "seconds": round(wall, 3),
        "records_per_s": round(result.acked / wall, 1),
        "target_records_per_s": 2000,
        "ledger_fill_records_per_s": round(args.records / fill_s, 1),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    log.info(
        "sync (%s centre): %d records in %.2f s = %.0f records/s -> %s",
        out["database"],
        result.acked,
        wall,
        out["records_per_s"],
        args.out,
    )
    return 0 if counts["acked"] == args.records else 1


if __name__ == "__main__":
    sys.exit(main())
