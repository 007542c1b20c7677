"""cases by opening time: the incident page's affected cases since onset

Revision ID: 0017_admin
Revises: 0008_typed_events
"""
from alembic import op

revision = "0017_admin"
down_revision = "0008_typed_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_opened", "cases", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_opened", "cases")
