"""console: passwords, sessions, append-only incident acknowledgements, report indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The acknowledgement log is evidence: the database itself refuses to rewrite it.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER incident_acks_no_update BEFORE UPDATE ON incident_acks
       BEGIN SELECT RAISE(ABORT, 'incident_acks is append-only'); END""",
    """CREATE TRIGGER incident_acks_no_delete BEFORE DELETE ON incident_acks
       BEGIN SELECT RAISE(ABORT, 'incident_acks is append-only'); END""",
]
PG_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION incident_acks_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'incident_acks is append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER incident_acks_no_change BEFORE UPDATE OR DELETE ON incident_acks
       FOR EACH ROW EXECUTE FUNCTION incident_acks_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "console_credentials",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("staff_users.id"), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("staff_users.id"), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_table(
        "incident_acks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("acked_by", sa.String(length=100), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incident_acks_incident", "incident_acks", ["incident_id", "id"])
    # The console's override list filters overrides by proctor/room and time and joins each
    # to the refused check-in by id (primary key); the per-day chart groups by ts.
    op.create_index("ix_records_type_proctor_ts", "records", ["type", "proctor_id", "ts"])
    op.create_index("ix_records_type_room_ts", "records", ["type", "room", "ts"])
    # Covers the override report's GROUP BY (crud/reports.py) in its column order, so both
    # databases stream the groups off the index: no envelope read, no sort.
    op.create_index(
        "ix_records_report", "records", ["session_id", "room", "proctor_id", "type", "decision"]
    )
    # The newest clock event per door on the dashboard.
    op.create_index("ix_records_type_device_seq", "records", ["type", "device_id", "seq"])
    op.create_index("ix_incidents_kind_id", "incidents", ["kind", "id"])
    triggers = PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_incidents_kind_id", table_name="incidents")
    op.drop_index("ix_records_type_device_seq", table_name="records")
    op.drop_index("ix_records_report", table_name="records")
    op.drop_index("ix_records_type_room_ts", table_name="records")
    op.drop_index("ix_records_type_proctor_ts", table_name="records")
    op.drop_index("ix_incident_acks_incident", table_name="incident_acks")
    op.drop_table("incident_acks")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS incident_acks_append_only()")
    op.drop_table("console_sessions")
    op.drop_table("console_credentials")
