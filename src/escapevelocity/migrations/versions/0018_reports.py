"""reports: KPI rollups kept from each case's state; indexes for the wall and drill-downs

Revision ID: 0018_reports
Revises: 0020_api
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_reports"
down_revision = "0020_api"
branch_labels = None
depends_on = None

DIMS = ("channel", "situation", "sentiment", "author_class", "team", "track")
MEASURES = ("cases", "needs_reply", "no_reply", "responded", "missed", "private", "leads",
            "resolved", "open", "sla_met", "sla_late", "approvals", "approvals_pending",
            "csat_n", "csat_sum", "crisis")


def upgrade() -> None:
    op.create_table(
        "kpi_cells",
        sa.Column("day", sa.String(10), primary_key=True),
        *[sa.Column(d, sa.String(64), primary_key=True) for d in DIMS],
        *[sa.Column(m, sa.BigInteger, nullable=False, server_default="0") for m in MEASURES],
    )
    op.create_table(
        "kpi_counts",
        sa.Column("family", sa.String(16), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_cases_team_opened", "cases", ["team", "state", "respond", "opened_at"])
    op.create_index("ix_cases_state_due", "cases", ["state", "respond", "sla_due"])
    op.create_index("ix_cases_opened", "cases", ["opened_at"])
    # The rollups of the cases that are already there, as the store will keep them.
    from escapevelocity.adapters.store import kpis
    from escapevelocity.adapters.store.base import dt_out
    from escapevelocity.domain.cases import Case

    conn = op.get_bind()
    cases = sa.table("cases", *[sa.column(c) for c in (
        "id", "state", "team", "assignee", "track", "respond", "visibility", "sla_minutes",
        "opened_at", "first_response_at", "resolved_at", "channel", "situation", "sentiment",
        "author_class", "rule_id", "approval_state", "csat", "sla_due")])
    rows = conn.execute(sa.select(cases)).mappings()
    kpis.rebuild(conn, (Case(**{**r, **{k: dt_out(r[k]) if r[k] is not None else None for k in
                                      ("opened_at", "first_response_at", "resolved_at",
                                       "sla_due")}})
                        for r in rows))


def downgrade() -> None:
    op.drop_index("ix_cases_opened", "cases")
    op.drop_index("ix_cases_state_due", "cases")
    op.drop_index("ix_cases_team_opened", "cases")
    op.drop_table("kpi_counts")
    op.drop_table("kpi_cells")
