"""browser keys: key kind, allowed origins, publishable scope; keys:* for full admin keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every permission that existed before keys:read and keys:write: a key holding all of them was
# made as a full admin key (bootstrap, first start), so it may manage keys too after upgrade.
_ADMIN_BEFORE = {
    "sessions:create", "sessions:connect", "sessions:read", "sessions:write",
    "assistants:read", "assistants:write", "numbers:read", "numbers:write",
    "contacts:read", "contacts:write",
}  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=12), nullable=False, server_default="secret")
        )
        batch_op.add_column(
            sa.Column("allowed_origins", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("assistant_ids", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("session_modes", sa.JSON(), nullable=False, server_default="[]")
        )
    keys = sa.table("api_keys", sa.column("id", sa.Integer()), sa.column("permissions", sa.JSON()))
    conn = op.get_bind()
    for key_id, permissions in conn.execute(sa.select(keys.c.id, keys.c.permissions)).all():
        if set(permissions or []) >= _ADMIN_BEFORE:
            granted = sorted({*permissions, "keys:read", "keys:write"})
            conn.execute(keys.update().where(keys.c.id == key_id).values(permissions=granted))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("session_modes")
        batch_op.drop_column("assistant_ids")
        batch_op.drop_column("allowed_origins")
        batch_op.drop_column("kind")
