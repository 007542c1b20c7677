"""reports on business calendars: case topics, SLA calendar and business times; the KPI
rollups recomputed with them

Revision ID: 0023_reports_calendar
Revises: 0021_log_watermark

The business minutes of the cases already answered or resolved are computed on the active
playbook's calendars (as the store will keep them from now on), then every KPI rollup is
recomputed from the rows. Topics come from the log: each case's decision (and a first
signals revision) carries them, as the projection reads them.
"""
import sqlalchemy as sa
from alembic import op

revision = "0023_reports_calendar"
down_revision = "0021_log_watermark"
branch_labels = None
depends_on = None

TIMES = ("opened_at", "first_response_at", "resolved_at", "sla_due")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("topics", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("sla_calendar", sa.String(64), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("first_response_minutes", sa.Float))
        batch.add_column(sa.Column("resolution_minutes", sa.Float))
    import json

    from escapevelocity.adapters.store import kpis
    from escapevelocity.adapters.store.base import dt_out
    from escapevelocity.domain import kpis as kpi_maths
    from escapevelocity.domain.cases import Case, replace, topics_of

    conn = op.get_bind()
    events = sa.table("events", sa.column("seq"), sa.column("stream"), sa.column("kind"),
                      sa.column("data"))
    topics: dict[str, str] = {}
    for kind in ("decided", "signals_revised"):
        q = (sa.select(events.c.stream, events.c.data).where(events.c.kind == kind)
             .order_by(events.c.seq).execution_options(yield_per=5000))
        for stream, data in conn.execute(q):
            d = json.loads(data)
            if kind == "decided" or d.get("first"):
                topics[stream] = topics_of(d.get("signals") or {})
    calendar_of = kpis.calendars(conn)
    cases = sa.table("cases", *[sa.column(c) for c in (
        "id", "state", "team", "assignee", "track", "respond", "visibility", "sla_minutes",
        "opened_at", "first_response_at", "resolved_at", "channel", "situation", "sentiment",
        "author_class", "rule_id", "approval_state", "csat", "sla_due", "topics",
        "sla_calendar", "first_response_minutes", "resolution_minutes")])
    rows = []
    for r in conn.execute(sa.select(cases)).mappings():
        row = Case(**{**r, **{k: dt_out(r[k]) if r[k] is not None else None for k in TIMES},
                      "topics": topics.get(r["id"], "")})
        rows.append(replace(row, **kpi_maths.business_times(row, calendar_of)))
    changed = [{"i": r.id, "t": r.topics, "c": r.sla_calendar,
                "f": r.first_response_minutes, "r": r.resolution_minutes} for r in rows
               if r.topics or r.first_response_minutes is not None
               or r.resolution_minutes is not None]
    for i in range(0, len(changed), 5000):
        conn.execute(cases.update().where(cases.c.id == sa.bindparam("i")).values(
            topics=sa.bindparam("t"), sla_calendar=sa.bindparam("c"),
            first_response_minutes=sa.bindparam("f"), resolution_minutes=sa.bindparam("r")),
            changed[i:i + 5000])
    kpis.rebuild(conn, rows)


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        for column in ("resolution_minutes", "first_response_minutes", "sla_calendar", "topics"):
            batch.drop_column(column)
