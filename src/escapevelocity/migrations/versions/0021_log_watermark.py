"""log readers keep a watermark, not a plain cursor: the highest seq handled and the holes below
it still waited for (domain/watermark.py), so an event that commits late is not skipped

Revision ID: 0021_log_watermark
Revises: 0016_search
"""
import sqlalchemy as sa
from alembic import op

revision = "0021_log_watermark"
down_revision = "0016_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL high: a row from before (its cursor is both marks, no hole known)
    with op.batch_alter_table("log_cursors") as batch:
        batch.add_column(sa.Column("high", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("holes", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("log_cursors") as batch:
        batch.drop_column("holes")
        batch.drop_column("high")
