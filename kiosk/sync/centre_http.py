"""Signed HTTP to the centre: one request, its answer checked, the centre's clock observed.

Why apart from the client: the push loop, enrolment and roster pulls all speak to the
centre the same way (every request signed with the device key, transport failures and
5xx become `CentreUnavailable`, 4xx become `CentreProtocolError` with the centre's code),
and that contract is easier to read and test without the outbox logic around it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from kiosk.errors import CentreProtocolError, CentreUnavailable, KioskError
from kiosk.ledger.clock import ClockGuard
from kiosk.ledger.keys import DeviceKeys
from kiosk.protocol.bounded_json import loads_bounded
from kiosk.protocol.requests import sign_request

log = logging.getLogger(__name__)

API = "/api/v1"


class CentreHttp:
    """Signed requests from one device to one centre."""

    def __init__(
        self,
        keys: DeviceKeys,
        base_url: str,
        *,
        timeout_s: float,
        clock_guard: ClockGuard,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.keys = keys
        self.base_url = base_url.rstrip("/")
        self.clock_guard = clock_guard
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            transport=transport,
            headers={"User-Agent": "exam-door-kiosk-sync/1"},
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, body: bytes = b"") -> httpx.Response:
        """A signed request; transport failures become `CentreUnavailable`."""
        request = self._http.build_request(
            method, API + path, content=body or None, headers={"Content-Type": "application/json"}
        )
        signed_path = request.url.raw_path.decode("ascii")
        request.headers.update(
            sign_request(self.keys.private_key, self.keys.device_id, method, signed_path, body)
        )
        sent_wall = time.time()
        try:
            response = self._http.send(request)
        except httpx.TimeoutException as exc:
            raise CentreUnavailable(
                f"the centre did not answer in time ({exc.__class__.__name__})",
                code="centre_timeout",
            ) from None
        except httpx.TransportError as exc:
            raise CentreUnavailable(f"cannot reach the centre at {self.base_url}: {exc}") from None
        try:
            self.clock_guard.observe_centre(
                response.headers.get("date"), sent_wall=sent_wall, received_wall=time.time()
            )
        except KioskError as exc:  # a full ledger must not turn into a sync failure here
            log.warning("could not record a clock event: %s", exc)
        return response


def json_of(resp: httpx.Response) -> Any:
    """The answer's JSON; `CentreProtocolError` when it is not JSON."""
    try:
        return loads_bounded(resp.content)
    except ValueError:
        raise CentreProtocolError(
            f"the centre answered HTTP {resp.status_code} with something that is not JSON"
        ) from None


def raise_for_status(resp: httpx.Response, what: str) -> None:
    """5xx/408/429 → `CentreUnavailable` (retry later); other 4xx → `CentreProtocolError`
    carrying the centre's error code (retrying would change nothing)."""
    if resp.status_code < 400:
        return
    try:
        doc = loads_bounded(resp.content)
        code, detail = doc.get("error", "http_error"), doc.get("detail", "")
    except (ValueError, AttributeError):
        code, detail = "http_error", resp.text[:200]
    if resp.status_code >= 500 or resp.status_code in (408, 429):
        raise CentreUnavailable(f"{what}: the centre is unwell (HTTP {resp.status_code} {code})")
    raise CentreProtocolError(
        f"{what}: refused by the centre (HTTP {resp.status_code} {code}: {detail})",
        code=f"centre_{code}",
    )


__all__ = ["API", "CentreHttp", "json_of", "raise_for_status"]
