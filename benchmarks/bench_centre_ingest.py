"""Centre ingest throughput: verified records stored per second (target ≥ 5,000/s on PostgreSQL).

Measures the ingest path itself (strict parse, Ed25519 verification, chain walk, duplicate
checks, bulk insert, commit) in `--procs` worker processes, one device each, as a centre
behind uvicorn workers would run it; records are generated and signed before the clock
starts. HTTP framing is left out on purpose (bench_sync.py measures the wire).

    KIOSK_CENTRE_DB=postgresql+psycopg://kiosk:kiosk@127.0.0.1/kiosk_test \\
        python benchmarks/bench_centre_ingest.py --records 20000 --procs 2

Writes benchmarks/out/bench_centre_ingest.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

log = logging.getLogger("bench_centre_ingest")


def _body(i: int) -> dict[str, Any]:
    return {
        "applicant_id": f"A-{i:06d}",
        "session_id": f"S-{i // 300}",
        "room": "R-101",
        "decision": "accepted" if i % 10 else "rejected",
        "score": 0.6123,
        "threshold": 0.36,
        "liveness": "passed",
        "quality": {"overall": 81, "sharpness": 73.5},
        "pack": "default",
        "timings": {"detect_ms": 12.5, "embed_ms": 30.1},
    }


def _worker(args: tuple[str, str, int, int, Any, Any]) -> dict[str, Any]:
    db_url, data_dir, n, batch, ready, go = args
    from centre.core.config import CentreSettings
    from centre.crud.devices import create_enrolment_token, enroll_device
    from centre.crud.ingest import BatchIngestor
    from centre.db import make_engine, session_factory
    from centre.models import Device
    from kiosk.ledger.keys import DeviceKeys, KeyPolicy
    from kiosk.protocol.envelope import new_record, sign_record

    keys = DeviceKeys.load_or_create(
        Path(data_dir) / uuid.uuid4().hex, KeyPolicy.plaintext_for_demo()
    )
    settings = CentreSettings(
        data_dir=Path(data_dir),
        db_url=db_url,
        migrate_on_start=False,
        key_passphrase="benchmark-only centre passphrase",
    )
    engine = make_engine(settings)
    sessions = session_factory(engine)
    with sessions() as db:
        _, token = create_enrolment_token(db, ttl_s=60)
        enroll_device(
            db, token=token, device_id=keys.device_id, public_key_b64=keys.public_key_b64()
        )
        db.commit()
    prev = None
    wire: list[dict[str, Any]] = []
    for i in range(n):
        env = sign_record(
            new_record("checkin", _body(i), device=keys.device_id, seq=i + 1, prev=prev),
            keys.private_key,
        )
        prev = env.digest()
        wire.append(json.loads(json.dumps(env.to_dict())))
    batches = [wire[i : i + batch] for i in range(0, n, batch)]
    ready.wait()
    go.wait()
    t0 = time.perf_counter()
    accepted = 0
    for b in batches:
        with sessions() as db:
            device = db.get(Device, keys.device_id, with_for_update=not settings.is_sqlite)
            results = BatchIngestor(db, device).ingest(b)
            db.commit()
        accepted += sum(r.status == "accepted" for r in results)
    t1 = time.perf_counter()
    engine.dispose()
    return {"accepted": accepted, "start": t0, "end": t1}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--db",
        default=os.environ.get("KIOSK_CENTRE_DB", ""),
        help="database URL (default: KIOSK_CENTRE_DB, else a temporary SQLite file)",
    )
    ap.add_argument("--records", type=int, default=20_000, help="records per process")
    ap.add_argument("--procs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "bench_centre_ingest.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("centre").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from centre.core.config import CentreSettings
    from centre.db import migrate

    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db or f"sqlite:///{Path(tmp) / 'centre.sqlite'}"
        migrate(CentreSettings(data_dir=Path(tmp), db_url=db_url))
        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager:
            ready = manager.Barrier(args.procs + 1)
            go = manager.Barrier(args.procs + 1)
            with ctx.Pool(args.procs) as pool:
                job = pool.map_async(
                    _worker,
                    [(db_url, tmp, args.records, args.batch, ready, go) for _ in range(args.procs)],
                )
                ready.wait()  # every worker has signed its records
                go.wait()
                results = job.get()
    total = sum(r["accepted"] for r in results)
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    out = {
        "benchmark": "centre_ingest",
        "database": db_url.split(":", 1)[0].split("+")[0],
        "procs": args.procs,
        "records_per_proc": args.records,
        "batch": args.batch,
        "accepted": total,
        "seconds": round(wall, 3),
        "records_per_s": round(total / wall, 1),
        "per_proc_records_per_s": [
            round(r["accepted"] / (r["end"] - r["start"]), 1) for r in results
        ],
        "target_records_per_s": 5000,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    log.info(
        "%s ingest: %d records in %.2f s = %.0f verified records/s (%d procs) -> %s",
        out["database"],
        total,
        wall,
        out["records_per_s"],
        args.procs,
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
