"""channels: stored connections (settings, query, sealed secrets, cursor, health) and the
webhook deliveries seen, for replay protection

Revision ID: 0012_channels
Revises: 0007_provisional
"""
import sqlalchemy as sa
from alembic import op

When = sa.DateTime(timezone=True)

revision = "0012_channels"
down_revision = "0007_provisional"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("settings", sa.Text, nullable=False, server_default="{}"),
        sa.Column("query", sa.Text, nullable=False, server_default=""),
        sa.Column("secrets", sa.Text, nullable=False, server_default=""),
        sa.Column("cursor", sa.Text),
        sa.Column("health", sa.String(24), nullable=False, server_default="new"),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("last_success", When),
        sa.Column("last_poll", When),
        sa.Column("next_poll", When),
        sa.Column("live_since", When),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_index("ix_connections_next_poll", "connections", ["enabled", "next_poll"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("connection", sa.String(64), primary_key=True),
        sa.Column("delivery_id", sa.String(200), primary_key=True),
        sa.Column("received_at", When, nullable=False),
    )
    op.create_index("ix_webhook_deliveries_received", "webhook_deliveries", ["received_at"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("connections")
