"""confirmation_sends: confirmation messages sent per address, for the sign-up limit

Revision ID: 0010_confirmation_sends
Revises: 0009_paused
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_confirmation_sends"
down_revision: str | None = "0009_paused"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "confirmation_sends",
        sa.Column("id", Id, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_confirmation_sends"),
    )
    op.create_index("ix_confirmation_sends_email", "confirmation_sends", ["email"])
    op.create_index("ix_confirmation_sends_sent_at", "confirmation_sends", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_confirmation_sends_sent_at", table_name="confirmation_sends")
    op.drop_index("ix_confirmation_sends_email", table_name="confirmation_sends")
    op.drop_table("confirmation_sends")
