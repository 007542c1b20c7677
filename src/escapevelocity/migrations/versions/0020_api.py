"""the versioned API: token kinds, idempotency keys, second factors

Revision ID: 0020_api
Revises: 0008_typed_events

Tokens gain a kind (personal: acts as its member with everything their role allows; service:
named, scoped) and who created them. Tokens made before scopes existed ("" scopes: the mentions
API only) become service tokens with the `ingest` scope, so they keep working as they did.
"""
import sqlalchemy as sa
from alembic import op

revision = "0020_api"
down_revision = "0008_typed_events"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False,
                                   server_default="service"))
        batch.add_column(sa.Column("created_by", sa.String(64)))
    tokens = sa.table("api_tokens", sa.column("scopes"), sa.column("kind"))
    op.execute(tokens.update().where(tokens.c.scopes == "").values(scopes="ingest",
                                                                   kind="service"))
    op.create_table(
        "api_idempotency",
        sa.Column("key", sa.String(64), primary_key=True),  # sha256(principal, route, key)
        sa.Column("created_at", When, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_api_idempotency_created", "api_idempotency", ["created_at"])
    op.create_table(
        "second_factors",
        sa.Column("member", sa.String(64), primary_key=True),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("enrolled_at", When),  # None: enrolment started, not confirmed
        sa.Column("recovery", sa.Text, nullable=False, server_default=""),  # hashes, one a line
        sa.Column("last_step", sa.BigInteger, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("second_factors")
    op.drop_index("ix_api_idempotency_created", "api_idempotency")
    op.drop_table("api_idempotency")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("created_by")
        batch.drop_column("kind")
