"""Embeddings of still photos kept between `kiosk eval` runs (`kiosk eval --cache`).

Re-running an evaluation (another target FMR, `--calibrate` after a first look, a pair
list that shares photos with the last one) re-embeds photos whose embedding cannot have
changed. The cache returns the stored one, and only when nothing that decides it has
changed: a row is keyed by the photo's SHA-256 (a renamed or copied file hits, a file
edited by one byte misses) and by a context hash of everything else that decides the
result: the model pack manifest's SHA-256 (which pins every model file's own hash), the
face rule, the detector-size rule, the `[vision]` settings, the execution provider and
graph optimisation level, onnxruntime's version and the CPU's instruction set (kernels
differ in the last bits between AVX2 and AVX-512), OpenCV's version, and
`CACHE_FORMAT`. Bump `CACHE_FORMAT` whenever detection, alignment, face choice or
embedding code changes what it computes: stale rows are then never read again.

It is opt-in because a figure someone signs off should come from a cold run unless
they asked otherwise. Photos with no face are not cached (they are re-read each run:
rare, and their reason is reported again). A cache that cannot be opened is reported
and the run goes on without it. Embeddings are biometric templates, so the file is
owner-only like every kiosk database (`kiosk.storage.open_sqlite`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.storage import open_sqlite

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
CACHE_FILE = "embeddings.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS still_faces (
    context TEXT NOT NULL,
    image_sha256 TEXT NOT NULL,
    embedding BLOB NOT NULL,
    box TEXT NOT NULL,
    faces_found INTEGER NOT NULL,
    chosen INTEGER NOT NULL,
    long_side INTEGER NOT NULL,
    PRIMARY KEY (context, image_sha256)
) WITHOUT ROWID
"""


@dataclass(frozen=True)
class ChosenFace:
    """The face a still photo was scored by: its embedding and where it was found (what
    `faces.csv` reports, and what the cache keeps)."""

    embedding: np.ndarray  # (D,) float32, L2-normalised
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in photo pixels
    faces_found: int
    index: int  # rank of the chosen face among those found, largest first
    long_side: int  # detector input long side used


def context_key(facts: Mapping[str, object]) -> str:
    """One hash of everything besides the photo that decides its embedding (see the
    module docstring for what callers put in); `CACHE_FORMAT` is always part of it."""
    text = json.dumps({"cache_format": CACHE_FORMAT, **facts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class EmbeddingCache:
    """Chosen faces by (context, photo SHA-256) in one SQLite file. Safe to call from
    the eval loop's worker threads (one connection behind a lock: lookups are
    microseconds against tens of milliseconds of detection and embedding)."""

    def __init__(self, conn: sqlite3.Connection, context: str) -> None:
        self._conn = conn
        self._context = context
        self._lock = threading.Lock()
        self._broken = False  # after a failed read or write: every photo is embedded

    def _give_up(self, exc: sqlite3.Error) -> None:
        """A cache that fails mid-run (disk full, locked too long, damaged) only costs
        time: say so once and carry on embedding without it."""
        if not self._broken:
            log.warning("embedding cache unusable (%s): embedding every photo from here", exc)
        self._broken = True

    @classmethod
    def open(cls, path: Path, context: str) -> EmbeddingCache:
        """Open or create the cache; sqlite3.Error when the file is not one (the CLI
        reports it and runs without a cache)."""
        # A lost cache row only costs a re-embedding, so no fsync per commit.
        conn = open_sqlite(path, synchronous="NORMAL", check_same_thread=False)
        try:
            conn.execute(_SCHEMA)
        except sqlite3.Error:
            conn.close()
            raise
        return cls(conn, context)

    def get(self, image_sha256: str) -> ChosenFace | None:
        """The stored face for this photo in this context, or None."""
        with self._lock:
            if self._broken:
                return None
            try:
                row = self._conn.execute(
                    "SELECT embedding, box, faces_found, chosen, long_side FROM still_faces "
                    "WHERE context = ? AND image_sha256 = ?",
                    (self._context, image_sha256),
                ).fetchone()
            except sqlite3.Error as exc:
                self._give_up(exc)
                return None
        if row is None:
            return None
        blob, box, faces_found, chosen, long_side = row
        x1, y1, x2, y2 = (float(v) for v in json.loads(box))
        embedding = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return ChosenFace(embedding, (x1, y1, x2, y2), faces_found, chosen, long_side)

    def put_many(self, faces: Iterable[tuple[str, ChosenFace]]) -> None:
        """Store (photo SHA-256, face) rows in one transaction."""
        rows = [
            (
                self._context,
                digest,
                np.ascontiguousarray(face.embedding, dtype="<f4").tobytes(),
                # repr-exact floats: a float32 box value survives JSON unchanged
                json.dumps([float(v) for v in face.box]),
                face.faces_found,
                face.index,
                face.long_side,
            )
            for digest, face in faces
        ]
        if not rows:
            return
        with self._lock:
            if self._broken:
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")  # autocommit connection: one batch
                try:
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO still_faces VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                    )
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._give_up(exc)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


__all__ = ["CACHE_FILE", "CACHE_FORMAT", "ChosenFace", "EmbeddingCache", "context_key"]
