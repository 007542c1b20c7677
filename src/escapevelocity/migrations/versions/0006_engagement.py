"""engagement: tags, flags, approval, follow-up and CRM columns on the case projection

Revision ID: 0006_engagement
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_engagement"
down_revision = "0001"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
COLUMNS = (
    ("tags", sa.Text(), False, ""),
    ("flags", sa.Text(), False, ""),
    ("approval_state", sa.String(16), False, ""),
    ("approval_draft", sa.String(32), True, None),
    ("approver", sa.String(64), True, None),
    ("approval_due", WHEN, True, None),
    ("followup_state", sa.String(16), False, ""),
    ("followup_due", WHEN, True, None),
    ("csat", sa.Integer(), True, None),
    ("crm_id", sa.String(128), True, None),
)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        for name, type_, nullable, default in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=nullable,
                                       server_default=default if default is not None else None))
    op.create_index("ix_cases_approval_due", "cases", ["approval_state", "approval_due"])
    op.create_index("ix_cases_followup_due", "cases", ["followup_state", "followup_due"])


def downgrade() -> None:
    op.drop_index("ix_cases_followup_due", "cases")
    op.drop_index("ix_cases_approval_due", "cases")
    with op.batch_alter_table("cases") as batch:
        for name, *_ in reversed(COLUMNS):
            batch.drop_column(name)
