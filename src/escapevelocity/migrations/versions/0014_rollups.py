"""rollups: counters kept from the log as it is appended; indexes for the pages at scale

Revision ID: 0014_rollups
Revises: 0012_channels
"""
import json
from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0014_rollups"
down_revision = "0012_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from escapevelocity.domain.rollups import KINDS, deltas

    op.create_index("ix_events_kind", "events", ["kind", "seq"])
    op.create_index("ix_cases_due", "cases", ["sla_due", "opened_at"])
    op.create_index("ix_cases_resolved", "cases", ["state", "resolved_at"])
    rollups = op.create_table(
        "rollups",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    # Counters for the log that is already there, computed as the store will keep them.
    conn = op.get_bind()

    class _E:
        __slots__ = ("data", "kind")

        def __init__(self, kind: str, data: str) -> None:
            self.kind = kind
            try:
                self.data = json.loads(data)
            except ValueError:
                self.data = {}

    events = sa.table("events", sa.column("kind"), sa.column("data"), sa.column("seq"))
    total: Counter = Counter()
    rows = conn.execute(sa.select(events.c.kind, events.c.data)
                        .where(events.c.kind.in_(sorted(KINDS))).order_by(events.c.seq))
    total.update(deltas(_E(k, d) for k, d in rows))
    if total:
        op.bulk_insert(rollups, [{"name": n, "key": k, "count": c}
                                 for (n, k), c in sorted(total.items())])


def downgrade() -> None:
    op.drop_table("rollups")
    op.drop_index("ix_cases_resolved", "cases")
    op.drop_index("ix_cases_due", "cases")
    op.drop_index("ix_events_kind", "events")
