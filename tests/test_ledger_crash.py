"""Crash safety: writers killed with SIGKILL mid-append never lose an acknowledged record.

Each round starts two writer processes appending to the same ledger file (so the
cross-process BEGIN IMMEDIATE path is exercised too); a writer prints a seq only after
`append` has returned. The parent kills both at a random moment, and at the end every
printed seq must be in the ledger, seq must be gap-free and the chain must verify.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore

REPO_ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 15

WRITER = """
import sys
import time
from pathlib import Path
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore

data_dir, ledger, tag, acks = sys.argv[1:5]
store = LedgerStore(Path(ledger), DeviceKeys.load(Path(data_dir)))
out = open(acks, "w", buffering=1)  # line-buffered: each line is one write(2)
i = 0
while True:
    env = store.append("checkin", {"writer": tag, "i": i})
    out.write(f"{env.record.seq} {tag} {i}\\n")
    i += 1
    time.sleep(0.001)  # let the other writer take the lock (SQLite's busy wait backs off)
"""


def _start(data_dir: Path, ledger: Path, tag: str, acks: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir), str(ledger), tag, str(acks)],
        stderr=subprocess.PIPE,
        env=env,
    )


def _wait_first_ack(proc: subprocess.Popen[bytes], acks: Path) -> None:
    deadline = time.monotonic() + 15
    while not (acks.exists() and b"\n" in acks.read_bytes()):
        if proc.poll() is not None:
            pytest.fail(f"writer died: {proc.stderr.read().decode()}")
        assert time.monotonic() < deadline, "writer never appended"
        time.sleep(0.005)


def _acknowledged(acks: Path) -> list[tuple[int, str, int]]:
    out = []
    for line in acks.read_text().splitlines(keepends=True):
        if line.endswith("\n"):  # a line cut by the kill was never fully acknowledged
            seq, tag, i = line.split()
            out.append((int(seq), tag, int(i)))
    return out


@pytest.mark.slow
def test_sigkilled_writers_lose_no_acknowledged_record(tmp_path: Path) -> None:
    data_dir, ledger = tmp_path / "data", tmp_path / "ledger.sqlite"
    keys = DeviceKeys.load_or_create(data_dir)
    LedgerStore(ledger, keys).close()
    rng = random.Random(os.environ.get("KIOSK_CRASH_SEED", time.time_ns()))
    acked: list[tuple[int, str, int]] = []
    started = time.monotonic()
    for rnd in range(ROUNDS):
        ack_files = [tmp_path / f"acks-{rnd}-{w}.txt" for w in range(2)]
        procs = [_start(data_dir, ledger, f"r{rnd}w{w}", a) for w, a in enumerate(ack_files)]
        for p, a in zip(procs, ack_files, strict=True):
            _wait_first_ack(p, a)  # each writer is really appending
        time.sleep(rng.uniform(0.0, 0.1))
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)
        for p, a in zip(procs, ack_files, strict=True):
            p.wait(timeout=10)
            assert p.returncode == -signal.SIGKILL, p.stderr.read().decode()
            p.stderr.close()
            acked.extend(_acknowledged(a))
    assert time.monotonic() - started < 60

    seqs = [a[0] for a in acked]
    assert len(seqs) == len(set(seqs)), "two writers were given the same seq"
    with LedgerStore(ledger, DeviceKeys.load(data_dir)) as store:
        envs = list(store.iter_envelopes())
        stored = {e.record.seq: e for e in envs}
        assert [e.record.seq for e in envs] == list(range(1, len(envs) + 1))  # gap-free
        missing = [s for s in seqs if s not in stored]
        assert not missing, f"acknowledged but lost: {missing[:10]}"
        for seq, tag, i in acked:
            assert stored[seq].record.body == {"writer": tag, "i": i}
        assert store.verify() == len(envs)
        # the ledger still accepts appends after all that
        assert store.append("device_event", {"event": "recovered"}).record.seq == len(envs) + 1
    assert len(acked) >= ROUNDS * 2  # every writer acknowledged at least its first append
