"""The rules' one Python text (enrich.py, severity.py, language.py) runs compiled by Cython
when built (domain/compiled.py, setup.py), and the compiled build is worth only what it
answers the same as the .py: every field of every Signals, on generated posts with authors on
every list, on hostile input and on built text (Hypothesis), the Python rules loaded from the
.py files beside the extensions. A missing or stale build fails here (it does not skip); a
stale one is refused at import (the .py runs instead)."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator

import msgspec
import pytest
from hypothesis import given, settings
from test_hotpath import AT, DEMO, HOSTILE, TEXT, mention  # the same inputs as the kernels'

from escapevelocity.bench.signals import tweet_length
from escapevelocity.demo.generator import generate
from escapevelocity.domain import compiled
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.records import Author, Mention
from escapevelocity.domain.vocabulary import Vocabulary


@contextlib.contextmanager
def python_rules() -> Iterator[type[Enricher]]:
    """The Enricher of the rules' .py files (in compiled.RULES order, each importing the
    others' .py), in this process; the compiled modules are back in place afterwards."""
    saved = {name: sys.modules[name] for name in compiled.RULES}
    try:
        for name in compiled.RULES:
            spec = importlib.util.spec_from_file_location(name, compiled.source_of(name))
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        yield sys.modules["escapevelocity.domain.enrich"].Enricher
    finally:
        sys.modules.update(saved)


@functools.cache
def pairs() -> tuple[tuple[Enricher, Enricher], ...]:
    """(compiled rules, Python rules) per vocabulary, both over the compiled kernels; built
    on first use, not at import (every pytest-xdist worker imports this module, one runs it)."""
    with python_rules() as PythonEnricher:
        return tuple((Enricher(v), PythonEnricher(v)) for v in (Vocabulary(), DEMO))


@pytest.fixture(scope="module", autouse=True)
def _built_before_any_test() -> None:
    """Built before any test here patches the modules or what an Enricher reads."""
    pairs()


def assert_same(m: Mention) -> None:
    for built, python in pairs():
        expected, got = python.rules(m), built.rules(m)
        if got != expected:
            diff = {f: (getattr(expected, f), getattr(got, f))
                    for f in expected.__struct_fields__
                    if getattr(expected, f) != getattr(got, f)}
            pytest.fail(f"compiled rules differ on {m.text[:200]!r}: {diff}")


def test_the_rules_run_compiled_and_built_from_the_current_text():
    running = compiled.running()
    assert set(running) == set(compiled.RULES)
    assert set(running.values()) == {"compiled"}, (
        f"{running}: a rule module is not built, or its .py changed since: run `make install`")
    for built, python in pairs():
        assert type(built).__module__ == type(python).__module__
        assert not type(python).rules.__code__.co_filename.endswith(".so")


def test_a_stale_build_is_refused(monkeypatch):
    """A build whose text is not the .py beside it is replaced by the .py as it is imported."""
    name = "escapevelocity.domain.severity"
    saved = sys.modules[name]
    try:
        with pytest.warns(RuntimeWarning, match="make install"):
            compiled.keep_or_replace(name, "0" * 64)
        assert sys.modules[name] is not saved
        assert sys.modules[name].__file__.endswith("severity.py")
    finally:
        sys.modules[name] = saved
    compiled.keep_or_replace(name, compiled.sha256(compiled.source_of(name)))
    assert sys.modules[name] is saved  # the current build is kept


def test_ev_pure_python_runs_the_rules_text():
    out = subprocess.run(
        [sys.executable, "-c", "from escapevelocity.domain import compiled, enrich; "
                               "print(sorted(set(compiled.running().values())))"],
        env={**os.environ, "EV_PURE_PYTHON": "1"}, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['python']"


def test_same_signals_on_generated_posts_and_authors_on_every_list():
    posts = list(generate(2_000, seed=31, start=AT))
    posts += tweet_length(list(generate(2_000, seed=32, start=AT)))
    v = DEMO
    handles = [h for group in (v.bots, v.trolls, v.competitors, v.partners, v.journalists,
                               v.employees, v.customers) for h in sorted(group)[:3]]
    for i, m in enumerate(posts[::3]):
        posts.append(msgspec.structs.replace(m, author=Author(
            handle="@" + handles[i % len(handles)].upper() if i % 2 else handles[i % len(handles)],
            bio=("", "Reporter at the Chronicle", "dad, runner")[i % 3],
            followers=(0, 50, 10_000, 10**7, 10**30)[i % 5])))
    for m in posts:
        assert_same(m)


@pytest.mark.parametrize("text", HOSTILE)
def test_same_signals_on_hostile_input(text):
    assert_same(mention(text))


@settings(max_examples=1_000, deadline=None)
@given(TEXT)
def test_same_signals_on_built_text(text):
    assert_same(mention(text))
