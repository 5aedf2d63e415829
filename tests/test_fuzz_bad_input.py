"""Fuzzing what the first fuzzers missed (issue 13): huge integers in headers and query
strings, oversized bodies on every route, deeply nested JSON, and image headers that lie.
Fixed, derandomised budgets (tests/fuzz_budget.py) so CI time stays the same each run."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from fuzz_budget import fuzz
from hypothesis import given
from hypothesis import strategies as st
from test_centre_support import Centre, make_settings

from centre.api.body_limit import DEFAULT_LIMIT, BodySizeLimit
from kiosk.errors import ImageDecodeError
from kiosk.ledger.keys import DeviceKeys
from kiosk.vision import imageio
from kiosk.vision.image_header import MAX_PIXELS, read_header

BUDGET = fuzz(25)
# Far outside int64 and float range, both signs, and the edges around them.
huge_integers = st.integers(min_value=-(10**400), max_value=10**400) | st.sampled_from(
    [2**63, 2**63 - 1, -(2**63) - 1, 2**64, 10**20, 10**4000]
)


@pytest.fixture(scope="module")
def fuzz_centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Centre]:
    root = tmp_path_factory.mktemp("fuzz-bad-input")
    centre = Centre(make_settings(root, f"sqlite:///{root / 'centre.sqlite'}"))
    try:
        yield centre
    finally:
        centre.close()


@pytest.fixture(scope="module")
def device(fuzz_centre: Centre, tmp_path_factory: pytest.TempPathFactory) -> DeviceKeys:
    import os

    # module-scoped: made before the per-test environment fixture sets the passphrase
    os.environ.setdefault("KIOSK_KEY_PASSPHRASE", "test-only key passphrase")
    keys = DeviceKeys.load_or_create(tmp_path_factory.mktemp("fuzz-bad-kiosk"))
    fuzz_centre.enroll(keys)
    return keys


def _number_text(n: int) -> str:
    # str() refuses > 4300 digits by default; the centre must cope with what a client sends.
    return str(n) if abs(n) < 10**4000 else "9" * 4001


@BUDGET
@given(ts=huge_integers, route=st.sampled_from(["records", "status", "roster", "enroll"]))
def test_huge_timestamps_on_device_routes_are_4xx(
    fuzz_centre: Centre, device: DeviceKeys, ts: int, route: str
) -> None:
    method, path = {
        "records": ("POST", f"/api/v1/devices/{device.device_id}/records"),
        "status": ("GET", f"/api/v1/devices/{device.device_id}/status"),
        "roster": ("GET", "/api/v1/rosters/R-1/latest"),
        "enroll": ("POST", "/api/v1/devices/enroll"),
    }[route]
    headers = {
        "X-Kiosk-Device": device.device_id,
        "X-Kiosk-Timestamp": _number_text(ts),
        "X-Kiosk-Signature": "AAAA",
    }
    r = fuzz_centre.client.request(method, path, headers=headers, content=b'{"records": []}')
    assert 400 <= r.status_code < 500, r.text


@BUDGET
@given(
    name=st.sampled_from(["after_seq", "limit"]),
    value=huge_integers.map(_number_text) | st.text(max_size=12),
    path=st.sampled_from(["/api/v1/records", "/api/v1/incidents"]),
)
def test_huge_query_numbers_are_4xx_or_ok(
    fuzz_centre: Centre, name: str, value: str, path: str
) -> None:
    r = fuzz_centre.client.get(path, params={name: value}, headers=fuzz_centre.staff())
    assert r.status_code < 500, r.text


def _every_route(centre: Centre) -> list[tuple[str, str]]:
    """(method, path) of every operation in the app's OpenAPI schema, parameters filled."""
    out = []
    for path, operations in centre.app.openapi()["paths"].items():
        for method in operations:
            out.append((method.upper(), re.sub(r"\{[^}]+\}", "x", path)))
    return out


def _limits(centre: Centre) -> BodySizeLimit:
    """The app's own body-limit middleware settings (the routes and their limits)."""
    entry = next(m for m in centre.app.user_middleware if m.cls is BodySizeLimit)
    return BodySizeLimit(centre.app, **entry.kwargs)


def test_an_oversized_body_is_413_on_every_route(fuzz_centre: Centre) -> None:
    """Every route the app has, with and without credentials: one byte over its limit is
    refused before the route (and its authentication) runs; the limit itself is not."""
    routes = _every_route(fuzz_centre)
    assert ("POST", "/api/v1/users") in routes and len(routes) >= 15
    limits = _limits(fuzz_centre)
    for method, path in routes:
        limit = limits.limit_for(path)
        for headers in ({}, fuzz_centre.staff()):
            r = fuzz_centre.client.request(
                method, path, content=b"x" * (limit + 1), headers=headers
            )
            assert r.status_code == 413, (method, path, r.status_code)
            assert r.json()["error"] == "body_too_large"
    assert limits.limit_for("/api/v1/users") == DEFAULT_LIMIT
    r = fuzz_centre.client.post("/api/v1/users", content=b"x" * DEFAULT_LIMIT)
    assert r.status_code == 401  # at the limit: on to authentication


@BUDGET
@given(
    depth=st.integers(min_value=1, max_value=200_000),
    opener=st.sampled_from(["[", '{"a":']),
    path=st.sampled_from(
        ["/api/v1/users", "/api/v1/enrolment-tokens", "/api/v1/devices/enroll", "/api/v1/rosters/R"]
    ),
)
def test_deep_json_never_5xx(fuzz_centre: Centre, depth: int, opener: str, path: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = (opener * depth + ("1" if opener != "[" else "") + closer * depth).encode()
    for headers in ({}, fuzz_centre.staff()):
        r = fuzz_centre.client.post(path, content=body, headers=headers)
        assert r.status_code < 500, (path, depth, r.status_code)


# --- image headers -----------------------------------------------------------------------------


def _png(width: int, height: int, payload: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(payload))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


_SMALL = cv2.imencode(".jpg", np.full((64, 48, 3), 120, np.uint8))[1].tobytes()


@BUDGET
@given(
    width=st.integers(0, 2**32 - 1),
    height=st.integers(0, 2**32 - 1),
    payload=st.binary(max_size=256),
)
def test_png_headers_that_lie_are_refused_without_decoding_a_bomb(
    width: int, height: int, payload: bytes
) -> None:
    data = _png(width, height, payload)
    if width * height > MAX_PIXELS:
        real = imageio.cv2.imdecode
        imageio.cv2.imdecode = _never  # type: ignore[assignment]
        try:
            with pytest.raises(ImageDecodeError, match="too large"):
                imageio.decode_image(data)
        finally:
            imageio.cv2.imdecode = real
        return
    try:
        image = imageio.decode_image(data)
    except ImageDecodeError:
        return
    assert image.shape[:2] == (height, width)


def _never(*_: object) -> None:
    raise AssertionError("decoder called for an image over the pixel limit")


@BUDGET
@given(data=st.data())
def test_mutated_jpeg_bytes_give_an_image_or_a_clear_error(data: st.DataObject) -> None:
    raw = bytearray(_SMALL)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(2, len(raw)))
    blob = bytes(raw[:cut]) + data.draw(st.sampled_from([b"", b"\xff\xd9"]))
    try:
        header = read_header(blob)
    except ImageDecodeError:
        header = None
    try:
        image = imageio.decode_image(blob)
    except ImageDecodeError:
        return
    assert header is not None and image.shape[:2] == (header.height, header.width)
