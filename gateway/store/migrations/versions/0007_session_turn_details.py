"""session overrides, activity and erasure; turn ids, durations and reply latency

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overrides", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("last_activity_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("turn_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("duration_ms", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("latency_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_column("latency_ms")
        batch_op.drop_column("duration_ms")
        batch_op.drop_column("turn_id")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("last_activity_at")
        batch_op.drop_column("overrides")
