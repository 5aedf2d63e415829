"""Enrolment: a template from one or more photos of an applicant, with quality gating.

Why gate harder than at the door: the enrolment photo is compared with every frame the
applicant will ever show the kiosk, so one blurred, dark or turned photo makes every
later check-in weaker (more false rejects, more overrides). A bad photo is refused with
the quality reason a clerk can act on ("uneven_light", "look_at_camera").

Why several photos fuse into ONE template (mean embedding, renormalised) rather than
staying separate: the 1:N stand-in check takes the maximum over every template in the
roster, so each extra template per person is another chance for a look-alike to score
high. Photos that do not agree with each other (cosine below the calibrated threshold)
are refused: they are probably not the same person.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from kiosk.checkin.roster import Template
from kiosk.errors import ImageDecodeError, KioskError, NoFaceError
from kiosk.ledger.vault import TemplateVault
from kiosk.vision.pipeline import FaceEngine

log = logging.getLogger(__name__)

# Vault "session" under which templates enrolled on this device wait until a centre-signed
# roster includes them. Check-in only ever uses templates from a signed roster.
PENDING_SESSION = "pending-enrolment"
PHOTO_LONG_SIDE = 640


class EnrolmentRefused(KioskError):
    """One or more enrolment photos are unusable; `checks` says which and why."""

    code = "enrolment_refused"

    def __init__(self, message: str, checks: Sequence[PhotoCheck] = ()) -> None:
        super().__init__(message)
        self.checks = list(checks)


@dataclass(frozen=True)
class PhotoCheck:
    """The verdict on one enrolment photo (no pixels, no embedding)."""

    photo: str
    ok: bool
    reason: str | None  # quality reason code, "no_face", "unreadable" or "pose"
    quality_score: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class Enrolment:
    applicant_id: str
    template: Template
    checks: tuple[PhotoCheck, ...]
    agreement: float | None  # lowest cosine between two photos (None for one photo)


def check_photo(
    engine: FaceEngine, photo: Path | str, *, max_pose_deg: float
) -> tuple[PhotoCheck, np.ndarray | None]:
    """Quality-gate one photo; its embedding only if it passes."""
    name = Path(photo).name
    try:
        obs = engine.embed_photo(str(photo), long_side=PHOTO_LONG_SIDE)
    except NoFaceError:
        return PhotoCheck(name, False, "no_face", None, "no face found"), None
    except ImageDecodeError as exc:
        return PhotoCheck(name, False, "unreadable", None, str(exc)), None
    q = obs.quality
    if not q.ok:
        detail = f"quality {q.score:.0f}/100, failing: {', '.join(q.reasons)}"
        return PhotoCheck(name, False, q.prompt, q.score, detail), None
    pose = q.pose
    if max(abs(pose.yaw), abs(pose.pitch)) > max_pose_deg:
        detail = f"yaw {pose.yaw:.0f}°, pitch {pose.pitch:.0f}° (limit ±{max_pose_deg:.0f}°)"
        return PhotoCheck(name, False, "look_at_camera", q.score, detail), None
    if obs.embedding is None:
        return PhotoCheck(name, False, "no_face", q.score, "no embedding"), None
    return PhotoCheck(name, True, None, q.score), obs.embedding


def enrol(
    engine: FaceEngine,
    photos: Sequence[Path | str],
    *,
    applicant_id: str,
    agreement_threshold: float,
    max_pose_deg: float = 15.0,
    on_photo: Callable[[], None] | None = None,
) -> Enrolment:
    """One L2-normalised template from `photos`; EnrolmentRefused if any photo is unusable
    or the photos disagree (every photo must pass, so a clerk sees each problem).
    `on_photo` is called after each photo is checked (a progress bar's advance)."""
    if not photos:
        raise EnrolmentRefused("enrolment needs at least one photo")
    checks: list[PhotoCheck] = []
    vectors: list[np.ndarray] = []
    for photo in photos:
        check, vector = check_photo(engine, photo, max_pose_deg=max_pose_deg)
        if on_photo is not None:
            on_photo()
        checks.append(check)
        if vector is not None:
            vectors.append(vector)
    bad = [c for c in checks if not c.ok]
    if bad:
        listing = "; ".join(f"{c.photo}: {c.reason} ({c.detail})" for c in bad)
        raise EnrolmentRefused(f"enrolment photo refused: {listing}", checks)
    agreement = None
    if len(vectors) > 1:
        agreement = min(float(a @ b) for a, b in itertools.combinations(vectors, 2))
        if agreement < agreement_threshold:
            raise EnrolmentRefused(
                f"the photos do not show the same person (lowest similarity {agreement:.3f} "
                f"< threshold {agreement_threshold:.3f})",
                checks,
            )
    mean = np.mean(vectors, axis=0)
    template = Template(engine.pack_id, (mean / np.linalg.norm(mean)).astype(np.float32))
    log.info("enrolled %s from %d photo(s), pack %s", applicant_id, len(vectors), engine.pack_id)
    return Enrolment(applicant_id, template, tuple(checks), agreement)


def store_pending(
    vault: TemplateVault, enrolment: Enrolment, *, now: datetime, retention: timedelta
) -> None:
    """Keep an enrolment encrypted at rest until the centre puts it in a signed roster;
    it is purged with everything else when `retention` ends."""
    vault.put(
        PENDING_SESSION,
        enrolment.applicant_id,
        enrolment.template.pack_id,
        enrolment.template.vector,
        expires_at=now + retention,
    )


__all__ = [
    "PENDING_SESSION",
    "Enrolment",
    "EnrolmentRefused",
    "PhotoCheck",
    "check_photo",
    "enrol",
    "store_pending",
]
