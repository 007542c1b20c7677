"""cases by opening time: the incident page's affected cases since onset

Revision ID: 0017_admin
Revises: 0016_search
"""
from alembic import op

revision = "0017_admin"
down_revision = "0016_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_opened", "cases", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_opened", "cases")
