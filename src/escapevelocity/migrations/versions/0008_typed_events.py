"""typed events: the log's `case_id` column becomes `stream` (it also holds "incident:<id>"
and "playbook:<n>"), and incident notes' `kind` payload key becomes `note_kind` (it clashed
with the event union's tag field).

Revision ID: 0008_typed_events
Revises: 0013_notifications
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0008_typed_events"
down_revision = "0013_notifications"  # in the order migrations landed on main
branch_labels = None
depends_on = None


def _rename_payload_key(old: str, new: str) -> None:
    conn = op.get_bind()
    events = sa.table("events", sa.column("seq"), sa.column("kind"), sa.column("data"))
    rows = conn.execute(sa.select(events.c.seq, events.c.data)
                        .where(events.c.kind == "incident_note")).all()
    for seq, data in rows:
        d = json.loads(data)
        if old in d:
            d[new] = d.pop(old)
            conn.execute(events.update().where(events.c.seq == seq)
                         .values(data=json.dumps(d, separators=(",", ":"))))


def upgrade() -> None:
    op.drop_index("ix_events_case", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.alter_column("case_id", new_column_name="stream", existing_type=sa.String(32),
                           existing_nullable=False)
    op.create_index("ix_events_stream", "events", ["stream", "seq"])
    _rename_payload_key("kind", "note_kind")


def downgrade() -> None:
    _rename_payload_key("note_kind", "kind")
    op.drop_index("ix_events_stream", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.alter_column("stream", new_column_name="case_id", existing_type=sa.String(32),
                           existing_nullable=False)
    op.create_index("ix_events_case", "events", ["case_id", "seq"])
