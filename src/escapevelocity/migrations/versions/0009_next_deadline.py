"""next deadline per case: the SLA tick reads only the cases that are due

Revision ID: 0009_next_deadline
Revises: 0010_sessions
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_next_deadline"
down_revision = "0010_sessions"
branch_labels = None
depends_on = None

OPEN = "('queued', 'assigned', 'claimed', 'replied')"


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("next_deadline", sa.DateTime(timezone=True)))
    # Every open case is due once: the first passes compute each one's next deadline (a few
    # thousand a pass, earliest first), then the tick reads only what falls due.
    op.execute(f"UPDATE cases SET next_deadline = COALESCE(updated_at, opened_at) "
               f"WHERE state IN {OPEN}")
    op.create_index("ix_cases_next_deadline", "cases", ["next_deadline"])
    op.create_index("ix_cases_claims", "cases", ["state", "claim_until"])
    # The learning job's cursor over corrections seeks ix_events_kind (events.kind, seq),
    # which 0014_rollups creates.


def downgrade() -> None:
    op.drop_index("ix_cases_claims", "cases")
    op.drop_index("ix_cases_next_deadline", "cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("next_deadline")
