"""Shared fixtures and helpers for the centre and sync tests (imported by them; no tests here).

The database fixture is parametrised over SQLite and PostgreSQL; the PostgreSQL case runs
in its own schema (dropped afterwards) and is skipped when KIOSK_TEST_POSTGRES_URL is unset.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from centre.core.config import CentreSettings
from centre.core.security import Role
from centre.crud.users import add_user
from kiosk.ledger.keys import DeviceKeys
from kiosk.protocol.canonical import format_ts
from kiosk.protocol.envelope import Envelope, new_record, sign_record
from kiosk.protocol.requests import sign_request

PG_ENV = "KIOSK_TEST_POSTGRES_URL"


def _pg_schema_url(base: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy.engine import make_url

    schema = "t_" + uuid.uuid4().hex[:12]
    url = make_url(base)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False), schema


def _pg_drop(base: str, schema: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    plain = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'centre.sqlite'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (no PostgreSQL server)")
    url, schema = _pg_schema_url(base)
    try:
        yield url
    finally:
        _pg_drop(base, schema)


def make_settings(tmp_path: Path, db_url: str, **kw: Any) -> CentreSettings:
    kw.setdefault("key_passphrase", "test-only centre passphrase")
    return CentreSettings(data_dir=tmp_path / "centre-data", db_url=db_url, **kw)


class Centre:
    """A centre app under test with a TestClient and helpers to make staff and devices."""

    def __init__(self, settings: CentreSettings, admin_name: str = "admin") -> None:
        from fastapi.testclient import TestClient

        from centre.app import create_app

        self.settings = settings
        self.app = create_app(settings)
        self.ctx = self.app.state.centre
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.admin_token = self.add_user(admin_name, Role.admin)

    def close(self) -> None:
        self.client.close()
        self.ctx.engine.dispose()

    def add_user(self, name: str, role: Role) -> str:
        with self.ctx.session() as db:
            _, token = add_user(db, name, role)
            db.commit()
        return token

    def staff(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    def enrolment_token(self, room: str | None = None) -> str:
        r = self.client.post("/api/v1/enrolment-tokens", json={"room": room}, headers=self.staff())
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def enroll(self, keys: DeviceKeys, room: str | None = None) -> dict[str, Any]:
        body = json.dumps(
            {
                "token": self.enrolment_token(room),
                "device_id": keys.device_id,
                "public_key": keys.public_key_b64(),
            }
        ).encode()
        r = signed(self.client, keys, "POST", "/api/v1/devices/enroll", body)
        assert r.status_code == 201, r.text
        return r.json()

    def push(
        self,
        keys: DeviceKeys,
        envelopes: list[Any],
        *,
        device_id: str | None = None,
        raw: bytes | None = None,
    ) -> Any:
        device_id = device_id or keys.device_id
        items = [e.to_dict() if isinstance(e, Envelope) else e for e in envelopes]
        body = raw if raw is not None else json.dumps({"records": items}).encode()
        return signed(self.client, keys, "POST", f"/api/v1/devices/{device_id}/records", body)

    def count_records(self, device_id: str | None = None) -> int:
        from sqlalchemy import func, select

        from centre.models import StoredRecord

        with self.ctx.session() as db:
            q = select(func.count()).select_from(StoredRecord)
            if device_id:
                q = q.where(StoredRecord.device_id == device_id)
            return int(db.scalar(q) or 0)

    def incidents(self) -> list[dict[str, Any]]:
        r = self.client.get("/api/v1/incidents", headers=self.staff())
        assert r.status_code == 200, r.text
        return r.json()["incidents"]

    def device(self, device_id: str) -> dict[str, Any]:
        r = self.client.get("/api/v1/devices", headers=self.staff())
        return next(d for d in r.json()["devices"] if d["device_id"] == device_id)


@pytest.fixture
def centre(tmp_path: Path, db_url: str) -> Iterator[Centre]:
    c = Centre(make_settings(tmp_path, db_url))
    try:
        yield c
    finally:
        c.close()


def signed(
    client: Any,
    keys: DeviceKeys,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    now: float | None = None,
) -> Any:
    headers = sign_request(keys.private_key, keys.device_id, method, path, body, now=now)
    headers["Content-Type"] = "application/json"
    return client.request(method, path, content=body, headers=headers)


def device_keys(root: Path, name: str = "kiosk") -> DeviceKeys:
    return DeviceKeys.load_or_create(root / name)


def make_chain(
    keys: DeviceKeys,
    n: int,
    *,
    start_seq: int = 1,
    prev: str | None = None,
    record_type: str = "checkin",
    body: dict[str, Any] | None = None,
    ts: str | None = None,
) -> list[Envelope]:
    """`n` signed, chained envelopes for `keys`, as the kiosk's store would write them."""
    out: list[Envelope] = []
    for i in range(n):
        b = body if body is not None else checkin_body(i)
        rec = new_record(record_type, b, device=keys.device_id, seq=start_seq + i, prev=prev, ts=ts)
        env = sign_record(rec, keys.private_key)
        prev = env.digest()
        out.append(env)
    return out


def checkin_body(
    i: int,
    *,
    session: str = "S-1",
    room: str = "R-101",
    decision: str = "accepted",
    proctor: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "applicant_id": f"A-{i:05d}",
        "session_id": session,
        "room": room,
        "decision": decision,
        "score": 0.61,
        "threshold": 0.36,
        "liveness": "passed",
        "quality": {"overall": 81},
        "pack": "default",
        "timings": {"total_ms": 310},
    }
    if proctor:
        body["proctor_id"] = proctor
    return body


def future_ts(minutes: float) -> str:
    return format_ts(datetime.now(UTC) + timedelta(minutes=minutes))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class UvicornThread:
    """A real uvicorn server on 127.0.0.1 in a background thread; `stop()` shuts it down."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        import uvicorn

        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_keep_alive=30,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class FaultProxy:
    """A loopback HTTP/1.1 proxy in front of the centre that injects network faults.

    Modes: ``pass``; ``down`` (listener closed: connection refused); ``error500`` (answers
    500 itself, the centre never sees the request); ``slow`` (forwards, the centre commits,
    the answer is held `delay_s`, past the client's timeout); ``drop`` (forwards, the
    centre commits, then the connection is cut before the kiosk sees the answer).
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.mode = "pass"
        self.delay_s = 2.0
        self.seen: dict[str, int] = {}
        self.forwarded = threading.Event()  # set whenever the centre answered a request
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()
        return self

    def set_mode(self, mode: str) -> None:
        if mode == "down":
            self.mode = mode
            self._close_all()
            return
        if self.mode == "down":
            self.mode = mode
            self.start()
        self.mode = mode

    def stop(self) -> None:
        self.mode = "down"
        self._close_all()

    def _close_all(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for c in list(self._conns):
                with contextlib.suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)
                c.close()
            self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_message(sock: socket.socket, buf: bytearray) -> bytes | None:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            buf.extend(chunk)
        head_end = buf.index(b"\r\n\r\n") + 4
        length = 0
        for line in bytes(buf[:head_end]).split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(buf) < head_end + length:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            buf.extend(chunk)
        msg = bytes(buf[: head_end + length])
        del buf[: head_end + length]
        return msg

    def _serve(self, conn: socket.socket) -> None:
        buf = bytearray()
        try:
            while True:
                request = self._read_message(conn, buf)
                if request is None:
                    return
                mode = self.mode
                self.seen[mode] = self.seen.get(mode, 0) + 1
                if mode == "error500":
                    body = b'{"error":"internal","detail":"injected"}'
                    conn.sendall(
                        b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: "
                        b"application/json\r\nContent-Length: "
                        + str(len(body)).encode()
                        + b"\r\n\r\n"
                        + body
                    )
                    continue
                if mode == "down":
                    return
                with socket.create_connection(("127.0.0.1", self.upstream_port)) as up:
                    up.sendall(request)
                    response = self._read_message(up, bytearray())
                self.forwarded.set()
                if response is None or mode == "drop":
                    return
                if mode == "slow":
                    time.sleep(self.delay_s)
                conn.sendall(response)
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()
