"""server-side sessions, shared sign-in throttle, API token last use and revocation

Revision ID: 0010_sessions
Revises: 0014_rollups
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_sessions"
down_revision = "0014_rollups"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("member", sa.String(64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("last_seen", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("revoked_at", When),
    )
    op.create_index("ix_sessions_member", "sessions", ["member"])
    op.create_table(
        "login_failures",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("at", When, nullable=False),
    )
    op.create_index("ix_login_failures_key", "login_failures", ["key", "at"])
    op.create_index("ix_login_failures_at", "login_failures", ["at"])
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("last_used_at", When))
        batch.add_column(sa.Column("revoked_at", When))
        batch.add_column(sa.Column("expires_at", When))
        batch.add_column(sa.Column("member", sa.String(64)))
        batch.add_column(sa.Column("scopes", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        for name in ("scopes", "member", "expires_at", "revoked_at", "last_used_at"):
            batch.drop_column(name)
    op.drop_index("ix_login_failures_at", "login_failures")
    op.drop_index("ix_login_failures_key", "login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_sessions_member", "sessions")
    op.drop_table("sessions")
