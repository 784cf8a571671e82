"""summaries: a model's answers, cached per article and prompt

Revision ID: 0008_summaries
Revises: 0007_audit
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_summaries"
down_revision: str | None = "0007_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "summaries",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("article", sa.String(2000), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_summaries"),
    )


def downgrade() -> None:
    op.drop_table("summaries")
