"""schedule: a per-delivery not-before time (delivery at a local hour in each subscriber's zone)

Revision ID: 0002_schedule
Revises: 0002_lists
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_schedule"
down_revision: str | None = "0002_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("not_before")
