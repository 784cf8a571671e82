"""paused memberships: a subscriber who paused gets no issue frozen before this moment

Revision ID: 0009_paused
Revises: 0008_summaries
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_paused"
down_revision: str | None = "0008_summaries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("paused_until")
