"""record_rollup: check-ins and overrides per day, session, room, proctor and door

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The same counts `centre.crud.record_rollup.rebuild` makes; from here on ingest keeps them.
# Written out rather than imported so that this revision keeps meaning what it meant.
BACKFILL = """
INSERT INTO record_rollup (day, session_id, room, proctor_id, device_id,
                           checkins, accepted, rejected, needs_proctor, overrides)
SELECT substr(ts, 1, 10), COALESCE(session_id, ''), COALESCE(room, ''),
       COALESCE(proctor_id, ''), device_id,
       SUM(CASE WHEN type = 'checkin' THEN 1 ELSE 0 END),
       SUM(CASE WHEN type = 'checkin' AND decision = 'accepted' THEN 1 ELSE 0 END),
       SUM(CASE WHEN type = 'checkin' AND decision = 'rejected' THEN 1 ELSE 0 END),
       SUM(CASE WHEN type = 'checkin' AND decision = 'needs_proctor' THEN 1 ELSE 0 END),
       SUM(CASE WHEN type = 'override' THEN 1 ELSE 0 END)
FROM records
WHERE type IN ('checkin', 'override')
GROUP BY substr(ts, 1, 10), COALESCE(session_id, ''), COALESCE(room, ''),
         COALESCE(proctor_id, ''), device_id
"""


def upgrade() -> None:
    op.create_table(
        "record_rollup",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("proctor_id", sa.String(length=128), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("checkins", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("needs_proctor", sa.Integer(), nullable=False),
        sa.Column("overrides", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "session_id", "room", "proctor_id", "device_id"),
    )
    # The room filter of the report and chart, over a month's days.
    op.create_index("ix_record_rollup_room_day", "record_rollup", ["room", "day"])
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index("ix_record_rollup_room_day", table_name="record_rollup")
    op.drop_table("record_rollup")
