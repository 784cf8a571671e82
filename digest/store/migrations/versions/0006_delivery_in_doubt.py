"""delivery in doubt: when a delivery's last answer was lost (the provider may have accepted it)

Revision ID: 0006_in_doubt
Revises: 0005_users
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_in_doubt"
down_revision: str | None = "0005_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_doubt_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("in_doubt_since")
