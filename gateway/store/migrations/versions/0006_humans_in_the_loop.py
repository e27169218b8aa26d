"""humans in the loop: recording mode and retention, events_url, the event outbox, permissions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every permission a full admin key held before this revision: such a key (bootstrap, first
# start) may monitor sessions and read recordings after the upgrade too.
_ADMIN_BEFORE = {
    "sessions:create", "sessions:connect", "sessions:read", "sessions:write",
    "assistants:read", "assistants:write", "numbers:read", "numbers:write",
    "contacts:read", "contacts:write", "keys:read", "keys:write",
}  # fmt: skip
_NEW = ("sessions:monitor", "recordings:read")


def upgrade() -> None:
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recording", sa.String(length=8), nullable=False, server_default="off")
        )
        batch_op.add_column(sa.Column("recording_retention_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("events_url", sa.String(length=2000), nullable=True))
    op.create_table(
        "event_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("leased_until", sa.DateTime(), nullable=True),
        sa.Column("leased_by", sa.String(length=40), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("failed_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_event_outbox_next_attempt_at", "event_outbox", ["next_attempt_at"])
    keys = sa.table("api_keys", sa.column("id", sa.Integer()), sa.column("permissions", sa.JSON()))
    conn = op.get_bind()
    for key_id, permissions in conn.execute(sa.select(keys.c.id, keys.c.permissions)).all():
        if set(permissions or []) >= _ADMIN_BEFORE:
            granted = sorted({*permissions, *_NEW})
            conn.execute(keys.update().where(keys.c.id == key_id).values(permissions=granted))


def downgrade() -> None:
    op.drop_index("ix_event_outbox_next_attempt_at", table_name="event_outbox")
    op.drop_table("event_outbox")
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.drop_column("events_url")
        batch_op.drop_column("recording_retention_days")
        batch_op.drop_column("recording")
