"""outbound calls: call direction, parties, verdicts, limits; assistant and number call limits

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Every permission before calls:*: a key holding all of them is a full admin key, which may
# place and manage calls too after the upgrade (as 0003 did for keys:*).
_ADMIN_BEFORE = {
    "sessions:create", "sessions:connect", "sessions:read", "sessions:write",
    "assistants:read", "assistants:write", "numbers:read", "numbers:write",
    "contacts:read", "contacts:write", "keys:read", "keys:write",
}  # fmt: skip


def _grant_calls() -> None:
    keys = sa.table("api_keys", sa.column("id", sa.Integer()), sa.column("permissions", sa.JSON()))
    conn = op.get_bind()
    for key_id, permissions in conn.execute(sa.select(keys.c.id, keys.c.permissions)).all():
        if set(permissions or []) >= _ADMIN_BEFORE:
            granted = sorted({*permissions, "calls:create", "calls:read", "calls:write"})
            conn.execute(keys.update().where(keys.c.id == key_id).values(permissions=granted))


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("direction", sa.String(length=10), nullable=False, server_default="inbound")
        )
        batch_op.add_column(sa.Column("from_number", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("assistant_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("number_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("api_key_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("answered_by", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("max_duration_s", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "machine_detection", sa.String(length=16), nullable=False, server_default="off"
            )
        )
        batch_op.add_column(sa.Column("voicemail_message", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("voicemail_played", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("greeting", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("instructions", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("idempotency_fingerprint", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("answered_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_calls_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_calls_assistant_id", ["assistant_id"], unique=False)
        batch_op.create_unique_constraint("uq_calls_idempotency_key", ["idempotency_key"])
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_concurrent_calls", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("calling_hours", sa.JSON(), nullable=True))
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_concurrent_calls", sa.Integer(), nullable=True))
    _grant_calls()


def downgrade() -> None:
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.drop_column("max_concurrent_calls")
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.drop_column("calling_hours")
        batch_op.drop_column("max_concurrent_calls")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_constraint("uq_calls_idempotency_key", type_="unique")
        batch_op.drop_index("ix_calls_assistant_id")
        batch_op.drop_index("ix_calls_created_at")
        for name in (
            "ended_at", "answered_at", "idempotency_fingerprint", "idempotency_key",
            "instructions", "greeting", "voicemail_played", "voicemail_message",
            "machine_detection", "max_duration_s", "end_reason", "answered_by", "api_key_id",
            "number_id", "assistant_id", "from_number", "direction",
        ):  # fmt: skip
            batch_op.drop_column(name)
