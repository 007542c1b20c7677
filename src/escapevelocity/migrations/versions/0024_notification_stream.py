"""notification stream: the notifications' `case_id` column becomes `stream`, as the events'
did in 0008: a crisis page's notification is about "incident:<id>" and a channel-health
alert about "connection:<name>", not a case.

Revision ID: 0024_notification_stream
Revises: 0022_search_paths
"""
import sqlalchemy as sa
from alembic import op

revision = "0024_notification_stream"
down_revision = "0022_search_paths"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("case_id", new_column_name="stream", existing_type=sa.String(64),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("stream", new_column_name="case_id", existing_type=sa.String(64),
                           existing_nullable=False)
