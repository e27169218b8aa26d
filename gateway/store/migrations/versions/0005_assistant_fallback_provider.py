"""assistants.fallback_provider: the provider a session fails over to

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fallback_provider", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.drop_column("fallback_provider")
