"""search side table (PostgreSQL): the words of each mention in a narrow table of their own,
`mention_terms` (id, case_id, created_at, words), so a search reads them without the wide
mention rows

Revision ID: 0025_search_side
Revises: 0024_notification_stream

A search with words walks a word's hits newest first (the primary key backwards, the words
checked on each row) until the page is full. With the tsvector on `mentions`, each hit it
looked at read a whole mention row (the JSON body, the signals: ~1 kB), so a common word
under three filters read ~40 MB of heap for one page and its p99 over 1,000,000 mentions
reached 336 ms on a loaded machine. In `mention_terms` a row is ~150 bytes (the tsvector
stripped of positions, which no query uses: words are ANDed, never a phrase), so the same walk
reads a fraction of the pages and they stay in shared buffers.

Each row's words also hold two block lexemes ('b 244', 'B 15': the mention id >> 12 and
>> 16), so the GIN index itself can answer "the hits of these words among ids in this range":
a search ANDs its words with the blocks of the id range it walks (adapters/store/search.py),
and reads only the hits in that range instead of either every row from the newest down (a
word in 1.5% of mentions: 250,000 rows for 4,000 hits) or every hit of the word in the table.

An AFTER trigger on `mentions` keeps it in the writer's transaction, whatever the insert path
(ingest, COPY, imports, copies of whole rows); an upsert, so a copy of both tables put
back side table first (the test fixtures: schema.metadata.sorted_tables has mention_terms
before mentions) leaves one row a mention. `mentions.words`
and its GIN index go (two GIN indexes a mention would double the ingest's index work).
The cost: ingest's COPY of 5,000 mentions ~0.8x as fast (a second row and its key to write;
a statement-level trigger over the new rows measured the same, so the simpler row trigger).
SQLite is unchanged: its FTS5 table `mention_words` is already narrow and ordered by id.
"""
from alembic import op

revision = "0025_search_side"
down_revision = "0024_notification_stream"
branch_labels = None
depends_on = None

# The mention's words, exactly as 0016 computed them (a body that is not JSON: no words).
_WORDS = ("to_tsvector('simple'::regconfig, coalesce(NEW.body::json ->> 'text', ''))")


def _blocks(id_: str) -> str:
    """The two block lexemes of mention `id_`: 'b <id >> 12>' and 'B <id >> 16>' (blocks of
    4,096 and 65,536 ids). The space keeps them apart from words: the parser never makes a
    lexeme with a space, and a search's words are letters and digits only."""
    return f"array_to_tsvector(ARRAY['b ' || ({id_} >> 12), 'B ' || ({id_} >> 16)])"


UP = [
    "CREATE TABLE mention_terms (id bigint PRIMARY KEY, case_id varchar(32) NOT NULL, "
    "created_at timestamptz NOT NULL, words tsvector)",
    "INSERT INTO mention_terms (id, case_id, created_at, words) "
    f"SELECT id, case_id, created_at, coalesce(strip(words), '') || {_blocks('id')} "
    "FROM mentions",
    "CREATE INDEX ix_mention_terms_words ON mention_terms USING gin (words)",
    "DROP TRIGGER IF EXISTS mention_words ON mentions",
    "DROP FUNCTION IF EXISTS mention_words()",
    "DROP INDEX IF EXISTS ix_mentions_words",
    "ALTER TABLE mentions DROP COLUMN IF EXISTS words",
    "CREATE FUNCTION mention_terms() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE w tsvector; BEGIN "
    f"BEGIN w := strip({_WORDS}); "
    "EXCEPTION WHEN invalid_text_representation THEN w := ''; END; "
    f"w := w || {_blocks('NEW.id')}; "
    "INSERT INTO mention_terms (id, case_id, created_at, words) "
    "VALUES (NEW.id, NEW.case_id, NEW.created_at, w) ON CONFLICT (id) DO UPDATE SET "
    "case_id = EXCLUDED.case_id, created_at = EXCLUDED.created_at, words = EXCLUDED.words; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER mention_terms AFTER INSERT OR UPDATE OF body, case_id, created_at "
    "ON mentions FOR EACH ROW EXECUTE FUNCTION mention_terms()",
    "CREATE FUNCTION mention_terms_gone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "DELETE FROM mention_terms WHERE id = OLD.id; RETURN NULL; END $$",
    "CREATE TRIGGER mention_terms_gone AFTER DELETE ON mentions "
    "FOR EACH ROW EXECUTE FUNCTION mention_terms_gone()",
    "ANALYZE mention_terms",
]
# Back to 0016's column, trigger and index; the words are computed again from the bodies
# (the side table's are stripped of positions).
DOWN = [
    "DROP TRIGGER IF EXISTS mention_terms_gone ON mentions",
    "DROP FUNCTION IF EXISTS mention_terms_gone()",
    "DROP TRIGGER IF EXISTS mention_terms ON mentions",
    "DROP FUNCTION IF EXISTS mention_terms()",
    "DROP TABLE IF EXISTS mention_terms",
    "ALTER TABLE mentions ADD COLUMN words tsvector",
    "CREATE FUNCTION mention_words() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"BEGIN NEW.words := {_WORDS}; "
    "EXCEPTION WHEN invalid_text_representation THEN NEW.words := NULL; END; "
    "RETURN NEW; END $$",
    "CREATE TRIGGER mention_words BEFORE INSERT OR UPDATE OF body ON mentions "
    "FOR EACH ROW EXECUTE FUNCTION mention_words()",
    "UPDATE mentions SET body = body",
    "CREATE INDEX ix_mentions_words ON mentions USING gin (words)",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for sql in UP:
            op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for sql in DOWN:
            op.execute(sql)
