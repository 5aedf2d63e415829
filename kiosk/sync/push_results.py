"""What the centre answered to one pushed batch, read strictly.

Why strict: a record leaves the outbox only when the centre confirmed *that record*
(same index, same id, ``accepted`` or ``duplicate``); an answer that does not line up
with what was sent is a protocol error and the whole batch goes back to pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.errors import CentreProtocolError

ACK_STATUSES = frozenset({"accepted", "duplicate"})


@dataclass
class PushResult:
    """What one push (or a drain of several) achieved."""

    sent: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    batches: int = 0
    head_seq: int | None = None
    rejections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def acked(self) -> int:
        return self.accepted + self.duplicate

    def add(self, other: PushResult) -> None:
        self.sent += other.sent
        self.accepted += other.accepted
        self.duplicate += other.duplicate
        self.rejected += other.rejected
        self.batches += other.batches
        self.head_seq = other.head_seq if other.head_seq is not None else self.head_seq
        self.rejections.extend(other.rejections)


def read_push_results(doc: Any, envs: list[Any]) -> tuple[list[str], PushResult]:
    """(ids the centre acknowledged, counts) from the centre's answer `doc` to `envs`."""
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list) or len(results) != len(envs):
        raise CentreProtocolError("the centre's answer does not list one result per record")
    out = PushResult(sent=len(envs), batches=1, head_seq=doc.get("head_seq"))
    acked: list[str] = []
    for i, (env, res) in enumerate(zip(envs, results, strict=True)):
        if (
            not isinstance(res, dict)
            or res.get("index", i) != i
            or res.get("id") not in (env.record.id, None)
        ):
            raise CentreProtocolError(f"the centre's result {i} does not match the record sent")
        status = res.get("status")
        if status in ACK_STATUSES and res.get("id") == env.record.id:
            acked.append(env.record.id)
            if status == "accepted":
                out.accepted += 1
            else:
                out.duplicate += 1
        else:
            out.rejected += 1
            out.rejections.append(
                {
                    "id": env.record.id,
                    "seq": env.record.seq,
                    "reason": res.get("reason"),
                    "detail": res.get("detail"),
                }
            )
    return acked, out


__all__ = ["ACK_STATUSES", "PushResult", "read_push_results"]
