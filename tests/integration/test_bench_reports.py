"""The reports bench grows its workspace by copying cases shifted back by whole days, with
their rollups copied in SQL: at a small size, those rollups equal the ones the rebuild
computes from the copied cases (so the bench times what a real workspace would read)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from needs import require

from escapevelocity.adapters.store import schema as t
from escapevelocity.bench import reports as bench


def _kept(store) -> tuple[list, list]:
    with store.begin() as tx:
        cells = sorted(tuple(r) for r in tx.conn.execute(sa.select(t.kpi_cells))
                       if any(r[7:]))
        counts = sorted(tuple(r) for r in tx.conn.execute(sa.select(t.kpi_counts)) if r[3])
    return cells, counts


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres",
                                                         marks=pytest.mark.postgres)])
def test_copied_rollups_equal_the_rebuild(kind, tmp_path, request):
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'b.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        require(bool(url), "PostgreSQL")
        engine = sa.create_engine(url)
        with engine.begin() as conn:  # the session's database, emptied
            present = set(sa.inspect(conn).get_table_names())
            tables = [x.name for x in t.metadata.sorted_tables if x.name in present]
            if tables:
                conn.execute(sa.text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY"))
        engine.dispose()
    ws, count, _ = bench.build(url, 1200, seed_mentions=400, progress=lambda _: None)
    try:
        copied = _kept(ws.store)
        bench.rebuild_rollups(ws)
        assert _kept(ws.store) == copied
        assert count >= 1200 and len({c[0] for c in copied[0]}) >= 4  # spread over days
    finally:
        ws.store.close()
