"""The kiosk's sync client: pushes the ledger outbox to the centre, pulls signed rosters.

Guarantees, and how they are kept:

* **nothing lost** — a record leaves the outbox (state ``acked``) only after the centre
  has answered *for that record* with ``accepted`` or ``duplicate``; any other outcome
  (timeout, dropped connection, 5xx, a garbled answer) puts the batch back to pending;
* **nothing doubled** — the centre stores by record id, so re-sending a batch whose answer
  was lost is acknowledged as ``duplicate`` and stored once;
* **resumes after a crash** — all state lives in the SQLite outbox; records caught in
  ``sent`` when the process died are re-queued when the client starts;
* **never blocks the door** — `start()` runs the loop in a daemon thread; the check-in flow
  only appends to the ledger, which works offline for as long as the disk lasts;
* **polite when the centre is down** — exponential backoff with full jitter, capped.

Records the centre *rejects* (bad signature, fork, …) stay in ``sent``: they are evidence
a person must look at (the centre raises an incident), and retrying them every few seconds
would change nothing. They are re-queued on the next start and every
`requeue_rejected_s`, so a transient cause (a centre clock that was wrong) heals itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from kiosk.errors import CentreProtocolError, CentreUnavailable, KioskError
from kiosk.ledger.centre_key_pin import load_centre_key, pin_centre_key
from kiosk.ledger.clock import ClockGuard
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore
from kiosk.storage import atomic_write_text
from kiosk.sync.backoff import Backoff
from kiosk.sync.centre_http import CentreHttp, json_of, raise_for_status
from kiosk.sync.push_results import PushResult, read_push_results

log = logging.getLogger(__name__)

URGENT_TYPES = frozenset({"override", "device_event"})


class SyncClient:
    """Push/pull against one centre for one device.

    Example::

        client = SyncClient(store, keys, cfg.sync.centre_url, batch_size=cfg.sync.batch_size)
        client.start()          # background; returns at once
        ...
        client.stop()
    """

    def __init__(
        self,
        store: LedgerStore,
        keys: DeviceKeys,
        base_url: str,
        *,
        batch_size: int = 500,
        timeout_s: float = 10.0,
        interval_s: float = 10.0,
        max_backoff_s: float = 300.0,
        base_backoff_s: float = 1.0,
        requeue_rejected_s: float = 900.0,
        data_dir: Path | None = None,
        transport: httpx.BaseTransport | None = None,
        clock_guard: ClockGuard | None = None,
    ) -> None:
        if not base_url:
            raise CentreUnavailable("no centre URL configured ([sync] centre_url); working offline")
        self.store = store
        self.keys = keys
        self.base_url = base_url.rstrip("/")
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.requeue_rejected_s = requeue_rejected_s
        self.data_dir = Path(data_dir) if data_dir is not None else keys.directory.parent
        self.backoff = Backoff(base_backoff_s, max_backoff_s)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # Notified after every loop pass (a batch pushed, an attempt failed, the loop
        # ended), so a caller can wait for an outcome instead of polling a clock.
        self._progress = threading.Condition()
        self.last_error: str | None = None
        self.last_success_at: float | None = None
        # Every centre answer carries its Date: a kiosk clock far from it (or stepped) is
        # a signed device_event, because record timestamps are evidence.
        self.clock_guard = clock_guard if clock_guard is not None else ClockGuard(store)
        self._centre = CentreHttp(
            keys,
            self.base_url,
            timeout_s=timeout_s,
            clock_guard=self.clock_guard,
            transport=transport,
        )
        # Overrides and device events go to the centre at once, not at the next interval:
        # a record deleted on the kiosk before it synced is what an insider would try.
        self._unlisten = store.add_listener(self._on_append)

    @classmethod
    def from_config(cls, cfg: Any, store: LedgerStore, keys: DeviceKeys) -> SyncClient:
        """The client a configured kiosk runs: `[sync]` settings, the kiosk's data dir."""
        s = cfg.sync
        return cls(
            store,
            keys,
            s.centre_url,
            batch_size=s.batch_size,
            timeout_s=s.timeout_s,
            interval_s=s.interval_s,
            max_backoff_s=s.max_backoff_s,
            data_dir=cfg.data_dir,
        )

    # -- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        self.stop()
        self._unlisten()
        self._centre.close()

    def _on_append(self, env: Any) -> None:
        if env.record.type in URGENT_TYPES:
            self.notify()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- push ------------------------------------------------------------------------------

    def push_once(self) -> PushResult:
        """Send one batch of pending records; ack exactly those the centre confirms."""
        envs = self.store.pending(self.batch_size)
        if not envs:
            return PushResult()
        ids = [e.record.id for e in envs]
        self.store.mark_sent(ids)
        try:
            body = json.dumps(
                {"records": [e.to_dict() for e in envs]}, ensure_ascii=False, separators=(",", ":")
            ).encode("utf-8")
            resp = self._centre.request("POST", f"/devices/{self.keys.device_id}/records", body)
            raise_for_status(resp, "push")
            acked, result = read_push_results(json_of(resp), envs)
        except BaseException:
            # Whatever happened, the centre did not confirm: everything goes back to pending.
            self.store.requeue_sent()
            raise
        self.store.mark_acked(acked)
        self.last_success_at = time.time()
        if result.rejected:
            log.warning(
                "centre rejected %d record(s): %s",
                result.rejected,
                "; ".join(f"seq {r.get('seq')}: {r.get('reason')}" for r in result.rejections[:5]),
            )
        log.info(
            "pushed %d: %d accepted, %d duplicate, %d rejected (centre head %s)",
            result.sent,
            result.accepted,
            result.duplicate,
            result.rejected,
            result.head_seq,
        )
        return result

    def report_head(self) -> dict[str, Any]:
        """Send the ledger's signed head (seq, hash) to the centre, the second witness; the
        centre answers with the highest seq it has seen and any incident it raised."""
        body = json.dumps(self.store.signed_head().to_dict(), separators=(",", ":")).encode()
        resp = self._centre.request("POST", f"/devices/{self.keys.device_id}/head", body)
        raise_for_status(resp, "head")
        doc = json_of(resp)
        if not isinstance(doc, dict):
            raise CentreProtocolError("the centre's answer to a head report is not an object")
        if doc.get("incidents"):
            log.error("the centre raised %s on this device's ledger head", doc["incidents"])
        return doc

    def push_all(self, *, max_batches: int | None = None) -> PushResult:
        """Push until nothing is pending or a batch makes no progress; errors propagate."""
        total = PushResult()
        while max_batches is None or total.batches < max_batches:
            r = self.push_once()
            total.add(r)
            if r.sent == 0 or r.acked == 0:
                break
        return total

    # -- background runner -----------------------------------------------------------------

    def start(self) -> None:
        """Run the push loop in a daemon thread; returns immediately."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kiosk-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to stop; waits at most `timeout` s (a request in flight is bounded
        by the HTTP timeout)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None

    def notify(self) -> None:
        """A record was appended: push soon instead of at the next interval."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Block until `condition()` holds, re-checking after every pass of the background
        loop; False if `timeout` seconds pass first. For the self-test and tests, which
        must wait for "the outbox drained" without guessing how long that takes."""
        with self._progress:
            return self._progress.wait_for(condition, timeout)

    def _passed(self) -> None:
        with self._progress:
            self._progress.notify_all()

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._passed()

    def _loop(self) -> None:
        last_requeue = time.monotonic()
        try:
            requeued = self.store.requeue_sent()
            if requeued:
                log.info("resuming: %d record(s) caught mid-push were re-queued", requeued)
        except KioskError as exc:
            log.error("sync cannot read the outbox: %s", exc)
        while not self._stop.is_set():
            try:
                self.clock_guard.poll()
            except KioskError as exc:
                log.warning("could not record a clock event: %s", exc)
            if time.monotonic() - last_requeue > self.requeue_rejected_s:
                last_requeue = time.monotonic()
                try:
                    self.store.requeue_sent()
                except KioskError as exc:
                    log.warning("could not re-queue rejected records: %s", exc)
            try:
                r = self.push_once()
                # Every contact (a push, or this heartbeat when there was nothing to send)
                # reports the signed head.
                self.report_head()
            except KioskError as exc:
                self.last_error = f"[{exc.code}] {exc}"
                delay = self.backoff.next_delay()
                log.warning("sync failed (%s); retrying in %.1f s", self.last_error, delay)
                self._passed()
                self._sleep(delay)
                continue
            except Exception as exc:  # a bug must not kill the thread and silently stop sync
                self.last_error = f"unexpected: {exc!r}"
                log.exception("sync loop error")
                self._passed()
                self._sleep(self.backoff.next_delay())
                continue
            self.backoff.reset()
            self.last_error = None
            self._passed()
            if r.sent == self.batch_size and r.acked > 0:
                continue  # more waiting: keep going without a pause
            self._sleep(self.interval_s)

    # -- enrolment, status, rosters --------------------------------------------------------

    def enroll(self, token: str, *, label: str | None = None) -> dict[str, Any]:
        """Register this device's key with a one-time token and pin the centre's key."""
        body = {
            "token": token,
            "device_id": self.keys.device_id,
            "public_key": self.keys.public_key_b64(),
            "key_history": [
                {"public_key": e.public_key_b64, "from_seq": e.from_seq} for e in self.keys.history
            ],
        }
        if label:
            body["label"] = label
        resp = self._centre.request("POST", "/devices/enroll", json.dumps(body).encode("utf-8"))
        raise_for_status(resp, "enrolment")
        doc = json_of(resp)
        if not isinstance(doc, dict) or not isinstance(doc.get("centre_public_key"), str):
            raise CentreProtocolError("the enrolment answer carries no centre key")
        pin_centre_key(self.data_dir, doc["centre_public_key"])
        log.info(
            "enrolled %s at %s; centre key %s pinned",
            self.keys.device_id,
            self.base_url,
            doc.get("centre_key_id"),
        )
        return doc

    def centre_status(self) -> dict[str, Any]:
        """What the centre holds for this device (head of its verified chain, …)."""
        resp = self._centre.request("GET", f"/devices/{self.keys.device_id}/status")
        raise_for_status(resp, "status")
        doc = json_of(resp)
        if not isinstance(doc, dict):
            raise CentreProtocolError("the status answer is not a JSON object")
        return doc

    def roster_path(self, room: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in room)
        return self.data_dir / "rosters" / f"{safe}.signed.json"

    def pull_roster(
        self, room: str, *, roster_store: Any = None, now: datetime | None = None
    ) -> tuple[str, Any]:
        """Fetch the newest roster for `room`, verify it with the pinned centre key, keep it.

        Returns (outcome, `Roster`) with outcome "updated" or "up to date". With a
        `RosterStore` the roster goes through `RosterStore.accept` (anti-rollback version
        kept across restarts, templates into the encrypted vault); without one, the signed
        document is written atomically to `roster_path(room)`. A roster older than the one
        already accepted is refused (`RosterRollback`), as is one not signed by the pinned key.
        """
        from kiosk.checkin.roster import parse_signed_roster
        from kiosk.protocol.roster import check_not_rollback

        resp = self._centre.request("GET", f"/rosters/{room}/latest")
        raise_for_status(resp, f"roster for {room}")
        doc = json_of(resp)
        centre_key = load_centre_key(self.data_dir)
        now = now or datetime.now(UTC)
        roster = parse_signed_roster(doc, centre_key, now=now)
        s = roster.session
        if roster_store is not None:
            current = roster_store.version(s.centre, s.room)
        else:
            current = self._file_roster_version(room, centre_key, now)
        if roster.version == current:
            return "up to date", roster
        check_not_rollback(roster.roster_id, roster.version, current, room)
        if roster_store is not None:
            roster = roster_store.accept(doc, centre_key, now=now)
        else:
            text = json.dumps(doc, ensure_ascii=False, sort_keys=True)
            self.roster_path(room).parent.mkdir(parents=True, exist_ok=True)
            # names and IINs: owner-only, like every file the kiosk writes
            atomic_write_text(self.roster_path(room), text)
        log.info(
            "roster %s version %d for room %s accepted", roster.roster_id, roster.version, room
        )
        return "updated", roster

    def _file_roster_version(self, room: str, centre_key: Any, now: datetime) -> int:
        from kiosk.checkin.roster import parse_signed_roster

        path = self.roster_path(room)
        if not path.exists():
            return 0
        try:
            stored = parse_signed_roster(path.read_text(encoding="utf-8"), centre_key, now=now)
        except KioskError as exc:
            log.warning("stored roster %s is unusable (%s); replacing it", path, exc)
            return 0
        return stored.version


__all__ = ["SyncClient"]
