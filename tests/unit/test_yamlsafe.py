"""The bounded YAML loader: documents small on the wire but huge once expanded are refused
before they are expanded; ordinary documents load exactly as `yaml.safe_load` reads them."""

from __future__ import annotations

import time
from importlib.resources import files

import pytest
import yaml

from escapevelocity.domain import yamlsafe
from escapevelocity.domain.playbook import PlaybookError, compile_playbook


def alias_bomb(levels: int = 6, width: int = 9) -> str:
    """`&x1 {any: [*x0, *x0, …]}` nested `levels` deep: width**levels nodes from a few KB."""
    lines = ["name: bomb", "x0: &x0 {keyword: laugh}"]
    for i in range(1, levels + 1):
        refs = ", ".join([f"*x{i - 1}"] * width)
        lines.append(f"x{i}: &x{i} {{any: [{refs}]}}")
    lines.append(f"rules: [{{id: r, when: *x{levels}, then: {{track: t}}}}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels,width", [(6, 9), (6, 150), (9, 4), (4, 40), (30, 2)])
def test_alias_bombs_of_any_shape_are_refused_quickly(levels, width):
    text = alias_bomb(levels, width)
    start = time.perf_counter()
    with pytest.raises(yamlsafe.YamlLimitError, match="refused") as err:
        yamlsafe.load(text)
    assert time.perf_counter() - start < 0.5
    assert err.value.problem_mark is not None  # the message names a line


def test_deep_nesting_and_self_reference_are_refused():
    with pytest.raises(yamlsafe.YamlLimitError, match="nested"):
        yamlsafe.load("a: " + "[" * 200 + "]" * 200)
    with pytest.raises(yamlsafe.YamlLimitError, match="contains it"):
        yamlsafe.load("a: &a [1, *a]")
    with pytest.raises(yamlsafe.YamlLimitError, match="larger"):
        yamlsafe.load("a: b\n" * 10, yamlsafe.Limits(max_bytes=20))
    with pytest.raises(yamlsafe.YamlLimitError, match="aliases"):
        yamlsafe.load("a: &a 1\nb: [" + ", ".join(["*a"] * 20) + "]",
                      yamlsafe.Limits(max_aliases=10))


def test_a_few_aliases_and_merge_keys_still_load():
    text = "base: &b {x: 1}\nuse: [*b, *b]\nm:\n  <<: *b\n  y: 2\n"
    assert yamlsafe.load(text) == yaml.safe_load(text)


@pytest.mark.parametrize("name", ["playbooks/default.yaml", "demo/org.yaml",
                                  "demo/vocabulary.yaml", "domain/lexicon.yaml"])
def test_shipped_documents_read_the_same(name):
    text = files("escapevelocity").joinpath(name).read_text("utf-8")
    assert yamlsafe.load(text) == yaml.safe_load(text)


def test_the_playbook_compiler_refuses_bombs_and_too_many_rules_with_a_reason():
    with pytest.raises(PlaybookError, match="refused"):
        compile_playbook(alias_bomb())
    many = ("name: big\ntracks: {t: {team: support, sla_minutes: 60}}\nrules:\n"
            + "".join(f"  - {{id: r{i}, when: {{keyword: w{i}}}, then: {{track: t}}}}\n"
                      for i in range(1_001))
            + "default: {track: t}\n")
    with pytest.raises(PlaybookError, match="1,001 rules"):
        compile_playbook(many)


def test_every_reader_of_member_yaml_refuses_a_bomb():
    from escapevelocity.domain.brand import BrandError, parse_yaml
    from escapevelocity.drill.scenario import DrillError
    from escapevelocity.drill.scenario import load as load_scenario

    with pytest.raises(BrandError, match="refused"):
        parse_yaml(alias_bomb())
    with pytest.raises(DrillError, match="refused"):
        load_scenario(alias_bomb())
