"""search: full text over mentions (SQLite FTS5, PostgreSQL tsvector + GIN), saved views,
linked author identities, the index search orders cases by

Revision ID: 0016_search
Revises: 0018_reports
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_search"
down_revision = "0018_reports"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)

# A row whose body is not JSON (a damaged or hand-made row) is indexed as no words: the
# trigger must never refuse the row it indexes (accepted mentions are never lost).
def _text(row: str) -> str:
    return (f"CASE WHEN json_valid({row}body) THEN coalesce(json_extract({row}body, '$.text'), '')"
            " ELSE '' END")


# SQLite: a contentless FTS5 table keyed by the mention's row id, kept by triggers, so every
# insert path (ingest, imports, copies) writes the words in the same transaction as the row.
SQLITE_UP = [
    "CREATE VIRTUAL TABLE mention_words USING fts5(text, content='', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER mention_words_ai AFTER INSERT ON mentions BEGIN "
    "INSERT INTO mention_words(rowid, text) "
    f"VALUES (new.id, {_text('new.')}); END",
    "CREATE TRIGGER mention_words_ad AFTER DELETE ON mentions BEGIN "
    "INSERT INTO mention_words(mention_words, rowid, text) "
    f"VALUES ('delete', old.id, {_text('old.')}); END",
    "CREATE TRIGGER mention_words_au AFTER UPDATE OF body ON mentions BEGIN "
    "INSERT INTO mention_words(mention_words, rowid, text) "
    f"VALUES ('delete', old.id, {_text('old.')}); "
    "INSERT INTO mention_words(rowid, text) "
    f"VALUES (new.id, {_text('new.')}); END",
    "INSERT INTO mention_words(rowid, text) "
    f"SELECT id, {_text('')} FROM mentions",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS mention_words_au", "DROP TRIGGER IF EXISTS mention_words_ad",
               "DROP TRIGGER IF EXISTS mention_words_ai", "DROP TABLE IF EXISTS mention_words"]
# PostgreSQL: a tsvector column set by a BEFORE trigger (computed in the row's own INSERT, so
# in the writer's transaction) and a GIN index. A trigger, not a generated column, so copies of
# whole rows (INSERT ... SELECT *: the test fixtures' snapshots, backups) still work.
PG_UP = [
    "ALTER TABLE mentions ADD COLUMN words tsvector",
    "CREATE FUNCTION mention_words() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "BEGIN NEW.words := to_tsvector('simple'::regconfig, coalesce(NEW.body::json ->> 'text', "
    "'')); EXCEPTION WHEN invalid_text_representation THEN NEW.words := NULL; END; "
    "RETURN NEW; END $$",
    "CREATE TRIGGER mention_words BEFORE INSERT OR UPDATE OF body ON mentions "
    "FOR EACH ROW EXECUTE FUNCTION mention_words()",
    "UPDATE mentions SET body = body",  # the trigger indexes every stored row
    "CREATE INDEX ix_mentions_words ON mentions USING gin (words)",
]
PG_DOWN = ["DROP INDEX IF EXISTS ix_mentions_words",
           "DROP TRIGGER IF EXISTS mention_words ON mentions",
           "DROP FUNCTION IF EXISTS mention_words()",
           "ALTER TABLE mentions DROP COLUMN IF EXISTS words"]


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("owner_kind", sa.String(8), nullable=False),  # member / team
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("query", sa.Text, nullable=False),  # the URL query string
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Index("ix_saved_views_owner", "owner_kind", "owner"),
    )
    op.create_table(
        "author_links",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("handle", sa.String(200), primary_key=True),
        sa.Column("person", sa.String(32), nullable=False),
        sa.Column("linked_by", sa.String(64), nullable=False),
        sa.Column("linked_at", When, nullable=False),
        sa.Index("ix_author_links_person", "person"),
    )
    # ix_cases_opened (newest first) comes with 0018_reports, which this one follows
    for sql in SQLITE_UP if op.get_bind().dialect.name == "sqlite" else PG_UP:
        op.execute(sql)


def downgrade() -> None:
    for sql in SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else PG_DOWN:
        op.execute(sql)
    op.drop_table("author_links")
    op.drop_table("saved_views")
