"""Loading and validating: YAML text or a mapping in, a `Playbook` or every `PlaybookError`
(with file, line and rule) out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from escapevelocity.domain import yamlsafe
from escapevelocity.domain.playbook.compiler import _Compiler
from escapevelocity.domain.playbook.decide import Playbook
from escapevelocity.domain.playbook.errors import PlaybookError, _Lines
from escapevelocity.domain.playbook.spec import Calendar, PlaybookSpec, Track, Window


def compile_playbook(data: Mapping[str, Any] | str, *, version: str | None = None,
                     source: str | None = None, stored: bool = False) -> Playbook:
    """Validate and compile. Raises PlaybookError naming the file, line and rule at fault.
    `stored`: a version saved already, whose names are not held to the store's lengths again
    (SQLite took longer ones before they were checked; it must still triage)."""
    playbook, errors = validate_playbook(data, version=version, source=source, stored=stored)
    if errors:
        raise errors[0]
    assert playbook is not None
    return playbook


def validate_playbook(data: Mapping[str, Any] | str, *, version: str | None = None,
                      source: str | None = None, stored: bool = False
                      ) -> tuple[Playbook | None, list[PlaybookError]]:
    """Every error found (not just the first), and the playbook when there were none."""
    return _build(data, version=version, source=source, stored=stored)


def load_playbook(path: str, *, version: str | None = None) -> Playbook:
    with open(path, encoding="utf-8") as fh:
        return compile_playbook(fh.read(), version=version, source=path)


def default_playbook_path() -> str:
    from importlib.resources import files

    return str(files("escapevelocity") / "playbooks" / "default.yaml")


# A playbook is a document people read: these bound what one request can make the checker do
# (issue 15: a 6 KB alias bomb took 190 s, a 4,500-rule playbook 7 s, of a web worker).
LIMITS = yamlsafe.Limits(max_bytes=512_000, max_aliases=500, max_depth=40, max_nodes=100_000)
MAX_RULES = 1_000  # over every rule list: the base rules, the crisis overlay, the spokes'


def _parse(text: str, source: str | None) -> tuple[Any, _Lines]:
    import yaml

    try:
        data, node = yamlsafe.compose(text, LIMITS)
    except yamlsafe.YamlLimitError as exc:
        mark = exc.problem_mark
        raise PlaybookError(str(exc.problem), line=mark.line + 1 if mark else None,
                            source=source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PlaybookError(f"not valid YAML: {getattr(exc, 'problem', exc)}",
                            line=mark.line + 1 if mark else None, source=source) from None
    return data, _Lines(node)


def _rule_count(data: Any) -> int:
    if not isinstance(data, Mapping):
        return 0
    lists = [data.get("rules")]
    overlays = data.get("overlays")
    if isinstance(overlays, Mapping):
        crisis = overlays.get("crisis")
        lists.append(crisis.get("rules") if isinstance(crisis, Mapping) else None)
        spokes = overlays.get("spokes")
        if isinstance(spokes, list):
            lists += [s.get("rules") for s in spokes if isinstance(s, Mapping)]
    return sum(len(rules) for rules in lists if isinstance(rules, list))


def _rule_at(data: Any, path: str) -> tuple[str | None, str]:
    """The rule a document path falls in ('$.overlays.crisis.rules[2]…') and that rule's path."""
    found = re.match(r"(\$(?:\.overlays\.crisis|\.overlays\.spokes\[\d+\])?\.rules\[(\d+)\])",
                     path)
    if not found:
        return None, ""
    node: Any = data
    for name, index in re.findall(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]", found.group(1)):
        try:
            node = node[name] if name else node[int(index)]
        except (KeyError, IndexError, TypeError):
            return None, found.group(1)
    rule = node.get("id") if isinstance(node, dict) else None
    return (str(rule) if rule is not None else f"#{int(found.group(2)) + 1}"), found.group(1)


def _build(data: Mapping[str, Any] | str, *, version: str | None,
           source: str | None, stored: bool = False
           ) -> tuple[Playbook | None, list[PlaybookError]]:
    lines = _Lines(None)
    if isinstance(data, str):
        try:
            data, lines = _parse(data, source)
        except PlaybookError as exc:
            return None, [exc]
    if not isinstance(data, Mapping):
        return None, [PlaybookError("a playbook is a mapping with name, tracks, rules and "
                                    "default", line=1, source=source)]
    rules = _rule_count(data)
    if rules > MAX_RULES:
        return None, [PlaybookError(f"refused: {rules:,} rules; a playbook holds at most "
                                    f"{MAX_RULES:,}", source=source)]
    try:
        spec = msgspec.convert(data, PlaybookSpec)
    except msgspec.ValidationError as exc:
        text = str(exc)
        found = re.search(r"at `(\$[^`]*)`", text)
        path = found.group(1) if found else "$"
        text, path = _name_the_key(data, text, path)
        rule, _ = _rule_at(data, path)
        message = re.sub(r" - at `\$[^`]*`", "", text)
        where = path.replace("$.", "").replace("$", "the document")
        return None, [PlaybookError(f"schema: {message} (at {where})", rule=rule,
                                    line=lines.at(path), source=source)]
    compiler = _Compiler(spec, lines, source, stored=stored)
    playbook = compiler.build(data, version)
    return (None, compiler.errors) if compiler.errors else (playbook, [])


# msgspec reports a bad value inside a mapping as `$.tracks[...]`; find which key it was.
_KEYED = {"tracks": Track, "calendars": Calendar, "windows": list[Window],
          "templates": str, "lists": list[str]}


def _name_the_key(data: Mapping[str, Any], text: str, path: str) -> tuple[str, str]:
    found = re.match(r"\$\.(\w+)\[\.\.\.\]", path)
    if not found or found.group(1) not in _KEYED or not isinstance(data.get(found.group(1)),
                                                                     Mapping):
        return text, path
    field_name = found.group(1)
    for key, value in data[field_name].items():
        try:
            msgspec.convert(value, _KEYED[field_name])
        except msgspec.ValidationError as exc:
            inner = re.search(r"at `\$([^`]*)`", str(exc))
            sub = inner.group(1) if inner else ""
            new_path = f"$.{field_name}.{key}{sub}"
            return str(exc).replace(f"at `${sub}`", f"at `{new_path}`"), new_path
    return text, path
