"""provisional signals: mentions whose learned models' sentence vectors are still to be read

Revision ID: 0007_provisional
Revises: 0006_engagement
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_provisional"
down_revision = "0006_engagement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mentions") as batch:
        batch.add_column(sa.Column("provisional", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    # The refine job reads the few provisional rows; a partial index keeps that a short scan.
    op.create_index("ix_mentions_provisional", "mentions", ["id"],
                    postgresql_where=sa.text("provisional"), sqlite_where=sa.text("provisional"))


def downgrade() -> None:
    op.drop_index("ix_mentions_provisional", "mentions")
    with op.batch_alter_table("mentions") as batch:
        batch.drop_column("provisional")
