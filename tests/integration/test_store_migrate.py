"""Migrate on start: a database already at the scripts' heads is left alone without Alembic
(issue 14, start-up); any other goes through `alembic upgrade heads` as before."""

from __future__ import annotations

from importlib.resources import files

from escapevelocity.adapters.store import SqlStore
from escapevelocity.adapters.store.base import script_heads


def _alembic_heads() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    here = files("escapevelocity") / "migrations"
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here))
    return set(ScriptDirectory.from_config(cfg).get_heads())


def test_the_heads_read_from_the_scripts_are_alembics():
    assert script_heads() == _alembic_heads()


def test_alembic_runs_only_for_a_database_behind_the_heads(db_url, monkeypatch):
    from alembic import command

    calls: list[str] = []
    real = command.upgrade
    run = True

    def upgrade(cfg, revision, *args, **kwargs):
        calls.append(revision)
        if run:
            real(cfg, revision, *args, **kwargs)

    monkeypatch.setattr(command, "upgrade", upgrade)
    store = SqlStore(db_url)
    store.migrate()  # new (sqlite) or emptied but versioned (postgres): at the heads after
    heads = _versions(store)
    assert heads == _alembic_heads()
    try:
        calls.clear()
        store.migrate()
        assert calls == [], "a database at the heads was upgraded again"

        # behind the heads: Alembic is asked (not run here: the schema is the newest)
        run = False
        _set_versions(store, {"0001"})
        store.migrate()
        assert calls == ["heads"]
    finally:
        _set_versions(store, heads)
        store.close()


def _versions(store: SqlStore) -> set[str]:
    with store.engine.begin() as conn:
        return {r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}


def _set_versions(store: SqlStore, revisions: set[str]) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM alembic_version")
        for revision in revisions:
            conn.exec_driver_sql(f"INSERT INTO alembic_version VALUES ('{revision}')")


def test_a_script_it_cannot_read_leaves_the_heads_to_alembic(tmp_path):
    (tmp_path / "0001_a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "0002_b.py").write_text('revision: str = "b"\ndown_revision = "a"  # after a\n')
    (tmp_path / "__init__.py").write_text("")
    assert script_heads(tmp_path) == {"b"}
    (tmp_path / "0003_c.py").write_text('revision = "c"\ndown_revision = "b"\n')
    (tmp_path / "0003_d.py").write_text('revision = "d"\ndown_revision = "b"\n')
    assert script_heads(tmp_path) == {"c", "d"}  # two heads: both must be applied
    (tmp_path / "0004_merge.py").write_text('revision = "m"\ndown_revision = ("c", "d")\n')
    assert script_heads(tmp_path) == {"m"}
    (tmp_path / "0005_e.py").write_text('revision = "e"\ndown_revision = (\n    "m",\n)\n')
    assert script_heads(tmp_path) is None
    (tmp_path / "0005_e.py").write_text('revision = make()\ndown_revision = "m"\n')
    assert script_heads(tmp_path) is None
    (tmp_path / "0005_e.py").write_text('"""no revision here"""\n')
    assert script_heads(tmp_path) is None
