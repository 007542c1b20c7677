"""notifications, their deliveries and preferences; log cursors; the signed-webhook outbox

Revision ID: 0013_notifications
Revises: 0009_next_deadline
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_notifications"
down_revision = "0009_next_deadline"  # the head of main when it landed (brief: 0007)
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("member", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.String(400), nullable=False),
        sa.Column("link", sa.String(200), nullable=False),
        sa.Column("urgency", sa.String(8), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("event_seq", sa.BigInteger()),
        sa.Column("created_at", When, nullable=False),
        sa.Column("read_at", When),
        sa.UniqueConstraint("event_seq", "member", "kind", name="uq_notifications_event_member"),
    )
    op.create_index("ix_notifications_member", "notifications", ["member", "read_at", "id"])
    op.create_table(
        "notification_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", When, nullable=False),
        sa.Column("detail", sa.String(400), nullable=False, server_default=""),
    )
    op.create_index("ix_notification_deliveries_due", "notification_deliveries",
                    ["state", "next_at"])
    op.create_table(
        "notification_prefs",
        sa.Column("member", sa.String(64), primary_key=True),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_table(
        "log_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "webhook_outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", When, nullable=False),
        sa.Column("detail", sa.String(400), nullable=False, server_default=""),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_index("ix_webhook_outbox_due", "webhook_outbox", ["state", "next_at"])


def downgrade() -> None:
    for table in ("webhook_outbox", "log_cursors", "notification_prefs",
                  "notification_deliveries", "notifications"):
        op.drop_table(table)
