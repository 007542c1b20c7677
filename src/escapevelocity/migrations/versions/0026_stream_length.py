"""stream length: an event's stream is a prefix and a name ("governance:spoke:<team id>",
"governance:channel:<connection>", "person:<id>", …) and the names are allowed up to 32
characters each, so 32 for the whole stream refused real ones on PostgreSQL (a spoke for a
team id of 16 characters or more failed with "value too long") while SQLite, which does not
enforce VARCHAR lengths, took them. Both columns that hold a stream go to
domain/events.MAX_STREAM, which the events now check on construction on every backend.

Revision ID: 0026_stream_length
Revises: 0025_search_side
"""
import sqlalchemy as sa
from alembic import op

revision = "0026_stream_length"
down_revision = "0025_search_side"
branch_labels = None
depends_on = None

MAX_STREAM = 200  # domain/events.MAX_STREAM when this was written: a migration keeps its own


def upgrade() -> None:
    # PostgreSQL widens a VARCHAR in place (no row is touched); SQLite, whose declared types
    # are names only, rebuilds the two tables once so that what it declares is what
    # schema.py says (a copy of every event: 6.6 s for a million on the 2-core machine).
    with op.batch_alter_table("events") as batch:
        batch.alter_column("stream", type_=sa.String(MAX_STREAM), existing_type=sa.String(32),
                           existing_nullable=False)
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("stream", type_=sa.String(MAX_STREAM), existing_type=sa.String(64),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("stream", type_=sa.String(64), existing_type=sa.String(MAX_STREAM),
                           existing_nullable=False)
    with op.batch_alter_table("events") as batch:
        batch.alter_column("stream", type_=sa.String(32), existing_type=sa.String(MAX_STREAM),
                           existing_nullable=False)
