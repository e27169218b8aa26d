"""assistant interruption: the per-assistant barge-in policy on calls (JSON, empty = defaults)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("interruption", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.drop_column("interruption")
