"""Bad input costs nothing: memory and time of refusing a decompression bomb and huge
unauthenticated bodies.

Run: ``python benchmarks/bench_bad_input.py``. Two measurements, written to
``benchmarks/out/bad_input.json``:

1. ``kiosk compare`` on a real 30000×30000 PNG (one colour, ~0.9 MB on disk, 2.7 GB
   decoded): peak RSS of the process and the time until it refuses. Targets: < 400 MB,
   < 2 s.
2. A centre under uvicorn receives ten unauthenticated 200 MB POSTs (to ``/api/v1/users``,
   streamed with a Content-Length and chunked): its RSS afterwards vs its idle RSS.
   Target: within 50 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT = REPO_ROOT / "benchmarks" / "out" / "bad_input.json"
MB = 1024 * 1024
PHOTO = "tests/data/img1.jpg"


def write_png_bomb(path: Path, side: int = 30000) -> int:
    """A valid greyscale PNG of `side`×`side` zeros, compressed as it is written."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    packer = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + one byte per pixel
    idat = bytearray()
    for _ in range(side):
        idat += packer.compress(row)
    idat += packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", bytes(idat))
    path.write_bytes(data + chunk(b"IEND", b""))
    return path.stat().st_size


def bench_compare(workdir: Path) -> dict[str, float]:
    bomb = workdir / "bomb.png"
    size = write_png_bomb(bomb)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "compare",
            str(bomb),
            str(REPO_ROOT / "tests/data/img1.jpg"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "bomb_file_bytes": size,
        "exit_code": proc.returncode,
        "message": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "",
        "refusal_s": round(wall, 3),
        "peak_rss_mb": round(max(peak_kb, before) / 1024, 1),
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _post_huge(port: int, size: int, chunked: bool) -> str:
    """Stream a `size`-byte POST without credentials; return the status line."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
    sock.sendall(head.encode())
    block = b"[" * MB
    sent = 0
    try:
        while sent < size:
            piece = (b"%x\r\n" % len(block) + block + b"\r\n") if chunked else block
            sock.sendall(piece)
            sent += len(block)
    except OSError:
        pass  # the centre answered 413 and closed: what we want
    sock.settimeout(30)
    try:
        status = sock.recv(4096).split(b"\r\n", 1)[0].decode()
    except OSError as exc:
        status = f"(no answer: {exc})"
    sock.close()
    return status


def bench_centre(workdir: Path, posts: int = 10, size: int = 200 * MB) -> dict[str, object]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "CENTRE_DATA_DIR": str(workdir / "centre"),
        "CENTRE_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "centre", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(port)
        idle = _rss_mb(proc.pid)
        statuses = [_post_huge(port, size, chunked=i % 2 == 1) for i in range(posts)]
        after = _rss_mb(proc.pid)
        peak = _peak_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "posts": posts,
        "post_bytes": size,
        "statuses": statuses,
        "idle_rss_mb": round(idle, 1),
        "after_rss_mb": round(after, 1),
        "peak_rss_mb": round(peak, 1),
        "growth_mb": round(after - idle, 1),
    }


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the centre did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-centre", action="store_true")
    parser.add_argument("--skip-compare", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_compare:
            result["compare_png_bomb"] = bench_compare(Path(tmp))
        if not args.skip_centre:
            result["centre_unauthenticated_200mb_posts"] = bench_centre(Path(tmp))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
