"""Enrolment, the device registry, and batch ingest of signed records."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from centre.api.deps import (
    Admin,
    ApiError,
    CentreContext,
    DbSession,
    authenticate_device,
    context,
    parse_json,
    read_body,
)
from centre.crud import devices as crud_devices
from centre.crud.heads import HeadRefused, parse_signed_head, report_head
from centre.crud.ingest import ACCEPTED, DUPLICATE, REJECTED, BatchIngestor, announced_keys
from centre.models import Device
from kiosk.protocol.errors import CodedError
from kiosk.protocol.requests import RequestAuthError, parse_auth_headers, verify_request

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")

ENROL_BODY_LIMIT = 16 * 1024


class EnrolmentTokenIn(BaseModel):
    room: str | None = Field(default=None, max_length=64)
    label: str | None = Field(default=None, max_length=200)
    ttl_s: float | None = Field(default=None, gt=0, le=30 * 24 * 3600)


def device_dict(d: Device) -> dict[str, Any]:
    return {
        "device_id": d.id,
        "status": d.status,
        "room": d.room,
        "label": d.label,
        "public_key": d.public_key,
        "head_seq": d.head_seq,
        "max_seq": d.max_seq,
        "enrolled_at": d.enrolled_at.isoformat() if d.enrolled_at else None,
        "last_seen_at": d.last_seen_at.isoformat() if d.last_seen_at else None,
    }


@router.post("/enrolment-tokens", status_code=201)
def create_enrolment_token(
    *, payload: EnrolmentTokenIn, request: Request, db: DbSession, user: Admin
) -> dict[str, Any]:
    ctx = context(request)
    row, token = crud_devices.create_enrolment_token(
        db,
        ttl_s=payload.ttl_s or ctx.settings.enrolment_token_ttl_s,
        room=payload.room,
        label=payload.label,
    )
    db.commit()
    log.info("enrolment token created by %s for room %s", user.name, payload.room)
    return {"token": token, "room": row.room, "expires_at": row.expires_at.isoformat()}


def _opt_str(value: object) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _enroll(ctx: CentreContext, request: Request, body: bytes) -> dict[str, Any]:
    doc = parse_json(body)
    if not isinstance(doc, dict) or not all(
        isinstance(doc.get(k), str) for k in ("token", "device_id", "public_key")
    ):
        raise ApiError(422, "bad_enrolment", "body needs token, device_id and public_key strings")
    # Proof of possession: the request is signed by the key being enrolled.
    try:
        device_id, ts, sig = parse_auth_headers(request.headers)
        if device_id != doc["device_id"]:
            raise ApiError(403, "device_mismatch", "signed device id differs from the body")
        pub_raw = crud_devices.validate_public_key(doc["public_key"])
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        verify_request(
            Ed25519PublicKey.from_public_bytes(pub_raw),
            device_id,
            ts,
            sig,
            request.method,
            request.url.path,
            body,
            window_s=ctx.settings.request_window_s,
        )
    except RequestAuthError as exc:
        raise ApiError(401, exc.code, str(exc)) from None
    except CodedError as exc:
        raise ApiError(400, exc.code, str(exc)) from None
    with ctx.write_lock(), ctx.session() as db:
        try:
            device = crud_devices.enroll_device(
                db,
                token=doc["token"],
                device_id=doc["device_id"],
                public_key_b64=doc["public_key"],
                label=_opt_str(doc.get("label")),
                key_history=doc.get("key_history"),
            )
            db.commit()
        except crud_devices.EnrolmentError as exc:
            db.rollback()
            status = 409 if exc.code == "device_key_conflict" else 403
            raise ApiError(status, exc.code, str(exc)) from None
        log.info("device %s enrolled (room %s)", device.id, device.room)
        return {
            "device_id": device.id,
            "room": device.room,
            "centre_public_key": ctx.key.public_key_b64(),
            "centre_key_id": ctx.key.key_id,
        }


@router.post("/devices/enroll", status_code=201)
async def enroll(*, request: Request) -> dict[str, Any]:
    ctx = context(request)
    body = await read_body(request, ENROL_BODY_LIMIT)
    return await run_in_threadpool(_enroll, ctx, request, body)


@router.get("/devices")
def list_devices(*, db: DbSession, _: Admin) -> dict[str, Any]:
    return {"devices": [device_dict(d) for d in crud_devices.list_devices(db)]}


def _set_status(db: Session, device_id: str, status: str) -> dict[str, Any]:
    try:
        device = crud_devices.set_device_status(db, device_id, status)
    except CodedError as exc:
        raise ApiError(404, exc.code, str(exc)) from None
    db.commit()
    return device_dict(device)


@router.post("/devices/{device_id}/revoke")
def revoke_device(
    *, device_id: str, request: Request, db: DbSession, user: Admin
) -> dict[str, Any]:
    with context(request).write_lock():
        out = _set_status(db, device_id, "revoked")
    log.warning("device %s revoked by %s", device_id, user.name)
    return out


@router.post("/devices/{device_id}/reinstate")
def reinstate_device(
    *, device_id: str, request: Request, db: DbSession, user: Admin
) -> dict[str, Any]:
    with context(request).write_lock():
        out = _set_status(db, device_id, "active")
    log.warning("device %s reinstated by %s", device_id, user.name)
    return out


def _ingest(ctx: CentreContext, request: Request, device_id: str, body: bytes) -> dict[str, Any]:
    doc = parse_json(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
        raise ApiError(422, "bad_batch", 'body must be {"records": [envelope, ...]}')
    envelopes = doc["records"]
    if len(envelopes) > ctx.settings.max_batch:
        raise ApiError(
            413,
            "batch_too_large",
            f"{len(envelopes)} records in one batch; the limit is {ctx.settings.max_batch}",
        )
    for attempt in range(3):
        with ctx.write_lock(), ctx.session() as db:
            device = authenticate_device(
                ctx,
                db,
                request,
                body,
                device_id,
                lock=True,
                extra_keys=lambda dev, db=db: announced_keys(db, dev, envelopes),
            )
            try:
                results = BatchIngestor(
                    db, device, max_future_skew_s=ctx.settings.max_future_skew_s
                ).ingest(envelopes)
                db.commit()
            except (IntegrityError, OperationalError) as exc:
                # A concurrent retry of the same batch raced us; the next pass sees its rows.
                db.rollback()
                log.warning(
                    "ingest for %s conflicted (attempt %d): %s",
                    device_id,
                    attempt + 1,
                    exc.__class__.__name__,
                )
                continue
            counts = {
                s: sum(1 for r in results if r.status == s) for s in (ACCEPTED, DUPLICATE, REJECTED)
            }
            log.info("ingest %s: %s (head %d)", device_id, counts, device.head_seq)
            return {
                "device_id": device_id,
                "head_seq": device.head_seq,
                **counts,
                "results": [r.to_dict() for r in results],
            }
    raise ApiError(503, "busy", "the centre could not store this batch right now; retry")


@router.post("/devices/{device_id}/records")
async def ingest_records(*, device_id: str, request: Request) -> dict[str, Any]:
    """Store a batch of signed envelopes; answers per record (accepted/duplicate/rejected)."""
    ctx = context(request)
    body = await read_body(request, ctx.settings.max_body_bytes)
    return await run_in_threadpool(_ingest, ctx, request, device_id, body)


def _device_status(ctx: CentreContext, request: Request, device_id: str) -> dict[str, Any]:
    with ctx.session() as db:
        device = authenticate_device(ctx, db, request, b"", device_id)
        return {
            "device_id": device.id,
            "status": device.status,
            "room": device.room,
            "head_seq": device.head_seq,
            "max_seq": device.max_seq,
        }


@router.get("/devices/{device_id}/status")
async def device_status(*, device_id: str, request: Request) -> dict[str, Any]:
    """What the centre holds for this device (signed by the device itself)."""
    ctx = context(request)
    return await run_in_threadpool(_device_status, ctx, request, device_id)


def _head(ctx: CentreContext, request: Request, device_id: str, body: bytes) -> dict[str, Any]:
    doc = parse_json(body)
    with ctx.write_lock(), ctx.session() as db:
        device = authenticate_device(ctx, db, request, body, device_id, lock=True)
        try:
            signed = parse_signed_head(doc, device, db)
        except HeadRefused as exc:
            raise ApiError(422, exc.code, str(exc)) from None
        verdict = report_head(db, device, signed)
        db.commit()
    return {"device_id": device_id, **verdict.to_dict()}


@router.post("/devices/{device_id}/head")
async def report_ledger_head(*, device_id: str, request: Request) -> dict[str, Any]:
    """The device's signed ledger head (seq, hash): the centre keeps the highest and raises
    an incident when a device reports less, or another hash at a known seq."""
    ctx = context(request)
    body = await read_body(request, ctx.settings.max_body_bytes)
    return await run_in_threadpool(_head, ctx, request, device_id, body)
