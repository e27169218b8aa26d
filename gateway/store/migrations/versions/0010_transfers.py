"""transfers: each transfer a call asks for (call_transfers), and the assistant's named
transfer destinations and ring timeout

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("transfer_destinations", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("transfer_ring_timeout_s", sa.Integer(), nullable=True))
    op.create_table(
        "call_transfers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("destination_name", sa.String(length=100), nullable=True),
        sa.Column("destination_number", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("leg_sid", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("call_transfers", schema=None) as batch_op:
        batch_op.create_index("ix_call_transfers_call_sid", ["call_sid"], unique=False)
        batch_op.create_index("ix_call_transfers_session_id", ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_call_transfers_session_id")
        batch_op.drop_index("ix_call_transfers_call_sid")
    op.drop_table("call_transfers")
    with op.batch_alter_table("assistants", schema=None) as batch_op:
        batch_op.drop_column("transfer_ring_timeout_s")
        batch_op.drop_column("transfer_destinations")
