"""audit: who did what to which subscriber or list, from the desk or the command line; items in
a source's last fetch; deliveries found by subscriber

Revision ID: 0007_audit
Revises: 0006_in_doubt
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_audit"
down_revision: str | None = "0006_in_doubt"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", Id, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("subscriber_id", Id, nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("list_id", Id, nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_subscriber_id", "audit", ["subscriber_id"])
    op.create_index("ix_audit_at", "audit", ["at"])
    with op.batch_alter_table("source_health", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_items", sa.Integer(), nullable=True))
    op.create_index("ix_deliveries_subscriber_id", "deliveries", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_subscriber_id", table_name="deliveries")
    with op.batch_alter_table("source_health", schema=None) as batch_op:
        batch_op.drop_column("last_items")
    op.drop_index("ix_audit_at", table_name="audit")
    op.drop_index("ix_audit_subscriber_id", table_name="audit")
    op.drop_table("audit")
