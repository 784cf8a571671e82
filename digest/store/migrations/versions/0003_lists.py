"""lists: membership consent and status reason, webhook replay receipts

Revision ID: 0002_lists
Revises: 0002_gather
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_lists"
down_revision: str | None = "0002_gather"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("consent_ip", sa.String(length=64), nullable=True))
    op.create_table(
        "webhook_receipts",
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "key", name=op.f("pk_webhook_receipts")),
    )
    with op.batch_alter_table("webhook_receipts", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_receipts_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_receipts_received_at")
    op.drop_table("webhook_receipts")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("consent_ip")
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("status_reason")
