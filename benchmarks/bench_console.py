"""Console page times on a big centre database: N records from 500 doors.

Seeds the records table directly (bulk INSERT of realistic rows: check-ins, refusals,
overrides that point at the check-in they overrode, clock events; unsigned, because the
pages never verify signatures), plus incidents, then signs in as an administrator and
times each page through the ASGI app (no network). The overrides and incidents pages must
stay fast because they aggregate and page in SQL over indexes.

    python benchmarks/bench_console.py --records 1000000            # SQLite in a temp dir
    python benchmarks/bench_console.py --db postgresql+psycopg://kiosk:kiosk@127.0.0.1/bench

Use an empty database for --db (its records table is filled). Writes
benchmarks/out/bench_console.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

log = logging.getLogger("bench_console")
DOORS = 500
DAYS = 30
CHUNK = 20_000


def _rows(n: int, rng: random.Random, start: datetime) -> Any:
    """Yield record rows in per-door seq order; ~3 % overrides, ~1 % clock events."""
    per_door = max(n // DOORS, 1)
    step = DAYS * 86400 / per_door
    made = 0
    for door in range(DOORS):
        device_id, room = f"door-{door:03d}", f"R-{door // 2:03d}"
        last_refused: str | None = None
        for seq in range(1, per_door + 1):
            if made >= n:
                return
            made += 1
            ts = (start + timedelta(seconds=seq * step)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            session = f"S-{door}-{seq // 200}"
            proctor = f"P-{(door * 3 + seq // 200) % 400:03d}"
            roll = rng.random()
            rec_id = str(uuid.UUID(int=rng.getrandbits(128)))
            if roll < 0.03 and last_refused:
                rtype, decision, body = "override", None, {"note": "looked fine"}
                extra = {
                    "proctor_id": proctor,
                    "reason": "appearance_changed",
                    "overrides": last_refused,
                }
                last_refused = None
            elif roll < 0.04:
                rtype, decision = "device_event", None
                body = {"event": "clock_skew", "skew_s": round(rng.uniform(-3, 3), 3)}
                extra = {}
            else:
                rtype = "checkin"
                decision = rng.choices(("accepted", "rejected", "needs_proctor"), (85, 10, 5))[0]
                body = {"decision": decision, "score": 0.6, "liveness": "passed"}
                extra = {"proctor_id": proctor}
                if decision != "accepted":
                    last_refused = rec_id
            envelope = json.dumps(
                {"record": {"type": rtype, "seq": seq, "ts": ts, "body": body}, "sig": "-"},
                separators=(",", ":"),
            )
            yield {
                "id": rec_id,
                "device_id": device_id,
                "seq": seq,
                "type": rtype,
                "ts": ts,
                "digest": rec_id.replace("-", "") * 2,
                "prev": None,
                "chained": True,
                "envelope": envelope,
                "received_at": start,
                "session_id": session,
                "room": room,
                "applicant_id": f"A-{door:03d}-{seq:06d}",
                "decision": decision,
                "proctor_id": extra.get("proctor_id"),
                "reason": extra.get("reason"),
                "overrides": extra.get("overrides"),
            }


def seed(ctx: Any, n: int) -> dict[str, Any]:
    from sqlalchemy import insert

    from centre.crud.incidents import raise_incident
    from centre.models import Device, StoredRecord

    rng = random.Random(0)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=DAYS)
    t0 = time.perf_counter()
    with ctx.session() as db:
        per_door = max(n // DOORS, 1)
        db.execute(
            insert(Device),
            [
                {
                    "id": f"door-{d:03d}",
                    "public_key": "A" * 43 + "=",
                    "status": "active",
                    "room": f"R-{d // 2:03d}",
                    "label": None,
                    "enrolled_at": start,
                    "last_seen_at": start + timedelta(days=DAYS),
                    "head_seq": per_door,
                    "head_digest": None,
                    "max_seq": per_door,
                }
                for d in range(DOORS)
            ],
        )
        chunk: list[dict[str, Any]] = []
        for row in _rows(n, rng, start):
            chunk.append(row)
            if len(chunk) == CHUNK:
                db.execute(insert(StoredRecord), chunk)
                chunk = []
        if chunk:
            db.execute(insert(StoredRecord), chunk)
        for i in range(max(n // 1000, 10)):
            kind = ("gap", "fork", "bad_signature", "from_future")[i % 4]
            raise_incident(db, f"door-{i % DOORS:03d}", kind, seq=i, detail=f"seeded {kind}")
        db.commit()
    return {"seconds": round(time.perf_counter() - t0, 1)}


def time_pages(client: Any, pages: list[str], repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in pages:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise SystemExit(f"{path} answered {r.status_code}")
        out[path] = {
            "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1),
            "bytes": len(r.content),
        }
        log.info("%-55s median %8.1f ms  max %8.1f ms", path, out[path]["median_ms"], max(times))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default="", help="database URL (default: temporary SQLite)")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5, help="timed loads per page")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "bench_console.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("centre", "alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    from console_support import ConsoleCentre
    from test_centre_support import make_settings

    from centre.core.security import Role

    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db or f"sqlite:///{Path(tmp) / 'centre.sqlite'}"
        centre = ConsoleCentre(make_settings(Path(tmp), db_url))
        try:
            seeded = seed(centre.ctx, args.records)
            log.info(
                "seeded %d records from %d doors in %.1f s", args.records, DOORS, seeded["seconds"]
            )
            # What autovacuum would do after a bulk load: statistics, and (PostgreSQL) the
            # visibility map that lets index-only scans skip the table.
            with centre.ctx.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("ANALYZE" if centre.settings.is_sqlite else "VACUUM ANALYZE")
            centre.staff_with_password("bench", Role.admin)
            client = centre.sign_in("bench")
            with centre.ctx.session() as db:
                from sqlalchemy import select

                from centre.models import StoredRecord

                some_override = db.scalar(
                    select(StoredRecord.id).where(StoredRecord.type == "override").limit(1)
                )
            pages = [
                "/console/dashboard",
                "/console/overrides",
                "/console/overrides?page=200",
                "/console/overrides?proctor=P-007",
                "/console/overrides?room=R-010",
                f"/console/overrides/{some_override}",
                "/console/overrides.csv",
                "/console/incidents",
                "/console/incidents?page=10&kind=gap",
                "/console/devices",
            ]
            times = time_pages(client, pages, args.repeat)
        finally:
            centre.close()
    out = {
        "benchmark": "console_pages",
        "database": db_url.split(":", 1)[0].split("+")[0],
        "records": args.records,
        "doors": DOORS,
        "seed_seconds": seeded["seconds"],
        "repeat": args.repeat,
        "pages": times,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
