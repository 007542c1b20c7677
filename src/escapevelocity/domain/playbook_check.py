"""`ev playbook check`: what a playbook gets wrong before it decides a single real mention.

Schema and reference errors come from the compiler (all of them, with lines). The rest is a
sound analysis over the finite signal space — primary situation and up to one secondary
situation × sentiment label × author class × channel × message type — where each rule's
condition is evaluated three-valued: conditions on anything else (keywords, PII, reach, time,
history) are treated as "could go either way". Over that space, as bit sets:

- a rule **can never fire** when every cell where it could match is already decided by an
  earlier stopping rule that surely matches there (or its condition is unsatisfiable);
- a **gap** is a cell (one situation) where no stopping rule can match a plain mention (no
  keywords, PII, topics, reach or history; time and score conditions still count as
  "either way"): such mentions fall to the default decision;
- **contradictions** are decisions that fight themselves (no reply but a template, a
  `stop: false` rule that sets a track, public replies to a rule that requires PII).
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from escapevelocity.domain.playbook import (
    AUTHOR_CLASSES,
    NO_RESPONSE_REASONS,
    SENTIMENTS,
    SITUATIONS,
    Cond,
    Playbook,
    PlaybookError,
    Rule,
    validate_playbook,
)
from escapevelocity.domain.records import CHANNELS, KINDS

PLACEHOLDERS = ("author_name", "author_handle", "channel", "brand", "agent_name", "case_id")
_IGNORED_WHEN_CONTINUING = ("track", "respond", "reason", "visibility", "team", "priority",
                            "sla_minutes", "approval", "template")


@dataclass(frozen=True)
class Finding:
    severity: str  # error, warning
    code: str  # schema, shadowed, never, contradiction, unused, unknown, gap
    message: str
    rule: str | None = None
    line: int | None = None

    def where(self, source: str | None) -> str:
        return ":".join(str(p) for p in (source, self.line) if p)


@dataclass(frozen=True)
class Gap:
    situation: str
    sentiment: str
    author_class: str
    channels: tuple[str, ...]  # channels where some message type falls to the default
    kinds: tuple[str, ...]
    cells: int


@dataclass
class Report:
    source: str | None
    playbook: Playbook | None
    findings: list[Finding] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    gap_cells: int = 0
    cells: int = 0  # single-situation cells considered for gaps

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_file(path: str, *, teams: set[str] | None = None) -> Report:
    with open(path, encoding="utf-8") as fh:
        return check_source(fh.read(), source=path, teams=teams)


def check_source(text: str | dict, *, source: str | None = None,
                 teams: set[str] | None = None) -> Report:
    """Every finding for one playbook. `teams`: the organisation's team ids, when known."""
    playbook, errors = validate_playbook(text, source=source, version="check")
    report = Report(source, playbook)
    report.findings += [Finding("error", "schema", e.message, e.rule, e.line) for e in errors]
    if playbook is None:
        return report
    _references(playbook, report, teams)
    _contradictions(playbook, report)
    _reachability(playbook, report)
    return report


# --- references -------------------------------------------------------------------------------

def _all_rules(pb: Playbook) -> list[Rule]:
    seen: dict[str, Rule] = {}
    for rules in (pb.rules, *pb.by_level.values()):
        for r in rules:
            seen.setdefault(r.id, r)
    return list(seen.values())


def _conds(cond: Cond | None) -> list[Cond]:
    if cond is None:
        return []
    out = [cond]
    for c in cond.children:
        out += _conds(c)
    return out


def _references(pb: Playbook, report: Report, teams: set[str] | None) -> None:
    spec, rules = pb.spec, _all_rules(pb)
    add = report.findings.append
    if teams is not None:
        named = {t.team for t in spec.tracks.values()} | {r.then.team for r in rules if r.then.team}
        named |= {s.team for s in spec.overlays.spokes} | set(spec.teams)
        for team in sorted(named - teams):
            add(Finding("error", "unknown", f"team {team!r} is not in the organisation "
                                            f"(teams: {', '.join(sorted(teams))})"))
    elif not spec.teams:
        add(Finding("warning", "unknown", "no 'teams' list: team names are not checked"))
    used_tracks = {r.then.track for r in rules} | {spec.default.track}
    for name in sorted(set(spec.tracks) - used_tracks):
        add(Finding("warning", "unused", f"track {name!r} is never decided",
                    line=pb_line(pb, f"$.tracks.{name}")))
    used_templates = {r.then.template for r in rules} | {spec.default.template}
    for name in sorted(set(spec.templates) - used_templates):
        add(Finding("warning", "unused", f"template {name!r} is never used",
                    line=pb_line(pb, f"$.templates.{name}")))
    used_lists = {item[5:] for r in rules for c in _conds(r.cond)
                  if c.key in ("keywords", "author_in") for item in _list_refs(c)}
    for name in sorted(set(spec.lists) - used_lists):
        add(Finding("warning", "unused", f"list {name!r} is never used",
                    line=pb_line(pb, f"$.lists.{name}")))
    for name, text in spec.templates.items():
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            add(Finding("error", "template", f"template {name!r}: {exc}",
                        line=pb_line(pb, f"$.templates.{name}")))
            continue
        for f in sorted(fields - set(PLACEHOLDERS)):
            add(Finding("warning", "template", f"template {name!r} uses unknown placeholder "
                        f"{{{f}}}; known: {', '.join(PLACEHOLDERS)}",
                        line=pb_line(pb, f"$.templates.{name}")))


def _list_refs(cond: Cond) -> list[str]:
    # keywords keep only folded phrases; recover list names from the condition's text
    return ["list:" + n for n in re.findall(r"list:([\w.-]+)", cond.text)]


def pb_line(pb: Playbook, path: str) -> int | None:
    """Line of a document path in the playbook's source file (None without a file)."""
    if pb.source is None:
        return None
    try:
        with open(pb.source, encoding="utf-8") as fh:
            import yaml

            from escapevelocity.domain import yamlsafe
            from escapevelocity.domain.playbook import _Lines

            return _Lines(yamlsafe.compose(fh.read())[1]).at(path)
    except (OSError, ValueError, yaml.YAMLError):
        return None


# --- contradictions ---------------------------------------------------------------------------

def _contradictions(pb: Playbook, report: Report) -> None:
    add = report.findings.append
    for r in _all_rules(pb):
        then = r.then
        if not then.stop:
            ignored = [k for k in _IGNORED_WHEN_CONTINUING
                       if getattr(then, k) not in (None, "")]
            if ignored:
                add(Finding("warning", "contradiction",
                            f"'stop: false' only adds tags, flags and notify; "
                            f"{', '.join(ignored)} would be ignored", r.id, r.line))
            continue
        track = pb.spec.tracks[then.track or pb.spec.default.track or ""]
        respond = track.respond if then.respond is None else then.respond
        if not respond and then.template:
            add(Finding("warning", "contradiction",
                        f"no reply ({then.reason or 'track ' + repr(then.track)}) but a "
                        f"first-response template {then.template!r}", r.id, r.line))
        if not respond and then.approval:
            add(Finding("warning", "contradiction", "no reply but an approval is required",
                        r.id, r.line))
        if respond and then.reason:
            add(Finding("warning", "contradiction",
                        f"replies, yet gives a reason not to ({then.reason!r})", r.id, r.line))
        if then.reason and then.reason not in NO_RESPONSE_REASONS:
            add(Finding("warning", "contradiction",
                        f"unusual reason {then.reason!r}; usual: {', '.join(NO_RESPONSE_REASONS)}",
                        r.id, r.line))
        if then.visibility == "public" and _requires_pii(r.cond):
            add(Finding("warning", "contradiction",
                        "answers in public although the rule only matches mentions with PII",
                        r.id, r.line))


def _requires_pii(cond: Cond | None) -> bool:
    if cond is None:
        return False
    if cond.key == "pii":
        return cond.arg is not False
    return cond.key == "all" and any(_requires_pii(c) for c in cond.children)


# --- reachability over the finite signal space ------------------------------------------------

# Situation states: (primary, the set of situations present), with at most two situations.
STATES = [(s, frozenset([s])) for s in SITUATIONS] + [
    (p, frozenset(pair)) for pair in combinations(SITUATIONS, 2) for p in pair]
DIMS = (len(STATES), len(SENTIMENTS), len(AUTHOR_CLASSES), len(CHANNELS), len(KINDS))
N = DIMS[0] * DIMS[1] * DIMS[2] * DIMS[3] * DIMS[4]
ALL = (1 << N) - 1
_STRIDES = (DIMS[1] * DIMS[2] * DIMS[3] * DIMS[4], DIMS[2] * DIMS[3] * DIMS[4],
            DIMS[3] * DIMS[4], DIMS[4], 1)


def _mask(dim: int, values: set[int]) -> int:
    """Cells whose coordinate `dim` is in `values`, as a bit set (built by repetition)."""
    stride, size = _STRIDES[dim], DIMS[dim]
    block_len = stride * size
    block = 0
    for v in values:
        block |= ((1 << stride) - 1) << (v * stride)
    repeats = N // block_len
    return block * (((1 << (block_len * repeats)) - 1) // ((1 << block_len) - 1))


SINGLE = _mask(0, set(range(len(SITUATIONS))))  # cells whose mention has one situation


def _atom(cond: Cond) -> int | None:
    key, arg = cond.key, cond.arg
    if key == "situation":
        return _mask(0, {i for i, (_, s) in enumerate(STATES) if not s.isdisjoint(arg)})
    if key == "primary_situation":
        return _mask(0, {i for i, (p, _) in enumerate(STATES) if p in arg})
    for dim, key_name, names in ((1, "sentiment", SENTIMENTS), (2, "author_class", AUTHOR_CLASSES),
                                 (3, "channel", CHANNELS), (4, "kind", KINDS)):
        if key == key_name:
            return _mask(dim, {i for i, n in enumerate(names) if n in arg})
    if key == "always":
        return ALL
    return None


# Conditions a "plain" mention settles: no keywords, PII, topics, reach, history or urgency.
PLAIN_KEYS = frozenset({
    "keywords", "pii", "topic", "followers_at_least", "followers_below", "verified",
    "known_customer", "vip", "author_in", "repeat_author", "case_history_at_least",
    "open_cases_at_least", "previous_track", "urgency_at_least", "urgency_at_most",
    "crisis_level",
})


def _plain_facts() -> Any:
    from datetime import UTC, datetime

    from escapevelocity.domain.playbook import Context, Facts
    from escapevelocity.domain.records import Author, Mention, Signals

    mention = Mention(source_id="plain", channel="web", text="", author=Author(handle="plain"),
                      created_at=datetime(2026, 1, 1, tzinfo=UTC))
    signals = Signals(sentiment=0.0, sentiment_label="neutral", situation="other")
    return Facts(mention, signals, Context(), frozenset())


def sets(cond: Cond | None, plain: bool = False) -> tuple[int, int]:
    """(cells where the condition surely holds, cells where it may hold).

    With `plain`, conditions in PLAIN_KEYS take the value they have for a plain mention
    instead of "either way"; that is the model for gaps, never for shadowing.
    """
    if cond is None:
        return 0, ALL
    if cond.key in ("all", "any"):
        parts = [sets(c, plain) for c in cond.children]
        sure, may = parts[0]
        for s, m in parts[1:]:
            if cond.key == "all":
                sure, may = sure & s, may & m
            else:
                sure, may = sure | s, may | m
        return sure, may
    if cond.key == "not":
        sure, may = sets(cond.children[0], plain)
        return ALL & ~may, ALL & ~sure
    if plain and cond.key in PLAIN_KEYS:
        return (ALL, ALL) if cond.test(_PLAIN) else (0, 0)
    atom = _atom(cond)
    return (0, ALL) if atom is None else (atom, atom)


_PLAIN = _plain_facts()


def describe(cell: int) -> tuple[str, str, str, str, str]:
    coords = []
    for stride, size in zip(_STRIDES, DIMS, strict=True):
        coords.append((cell // stride) % size)
    primary, present = STATES[coords[0]]
    situation = primary if len(present) == 1 else (
        f"{primary}+{next(iter(present - {primary}))}")
    return (situation, SENTIMENTS[coords[1]], AUTHOR_CLASSES[coords[2]], CHANNELS[coords[3]],
            KINDS[coords[4]])


def _reachability(pb: Playbook, report: Report) -> None:
    lists = {"normal": pb.rules, **pb.by_level}
    alive: dict[str, bool] = {}
    covered_by: dict[str, list[str]] = defaultdict(list)
    rules: dict[str, Rule] = {}
    gaps_mask = None
    for level, rule_list in lists.items():
        covered = 0
        plain_possible = 0
        firing: list[tuple[str, int]] = []
        for rule in rule_list:
            rules[rule.id] = rule
            sure, may = sets(rule.cond)
            open_cells = may & ~covered
            if may == 0:
                alive.setdefault(rule.id, False)
                covered_by.setdefault(rule.id, [])
            elif open_cells == 0:
                alive.setdefault(rule.id, False)
                covered_by[rule.id] = [rid for rid, s in firing if s & may]
            else:
                alive[rule.id] = True
            if rule.then.stop:
                covered |= sure
                plain_possible |= sets(rule.cond, plain=True)[1]
                firing.append((rule.id, sure))
        if level == "normal":
            gaps_mask = SINGLE & ~plain_possible
    for rid, ok in alive.items():
        if ok:
            continue
        rule = rules[rid]
        if not covered_by.get(rid):
            message = "can never match: its conditions contradict each other"
        else:
            message = ("can never fire: shadowed by earlier stopping rule(s) "
                       + ", ".join(repr(r) for r in covered_by[rid][:4])
                       + (f" and {len(covered_by[rid]) - 4} more" if len(covered_by[rid]) > 4
                          else "")
                       + " that together match every mention this one could")
        report.findings.append(Finding("error", "never", message, rid, rule.line))
    report.cells = SINGLE.bit_count()
    _gaps(gaps_mask or 0, report)


def _gaps(mask: int, report: Report) -> None:
    report.gap_cells = mask.bit_count()
    groups: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    cell = 0
    while mask:
        low = mask & -mask
        cell = low.bit_length() - 1
        situation, sentiment, author, channel, kind = describe(cell)
        groups[(situation, sentiment, author)].append((channel, kind))
        mask ^= low
    for (situation, sentiment, author), places in sorted(groups.items()):
        report.gaps.append(Gap(situation, sentiment, author,
                               tuple(sorted({c for c, _ in places}, key=CHANNELS.index)),
                               tuple(sorted({k for _, k in places}, key=KINDS.index)),
                               len(places)))
    if report.gap_cells:
        report.findings.append(Finding(
            "warning", "gap",
            f"{report.gap_cells:,} of {report.cells:,} situation × sentiment × author class × "
            f"channel × message type combinations fall to the default when the mention is "
            f"plain (no keywords, PII, reach or history): {len(report.gaps)} groups"))


def error_from(exc: PlaybookError) -> Finding:
    return Finding("error", "schema", exc.message, exc.rule, exc.line)


def as_dict(report: Report) -> dict[str, Any]:
    """Machine-readable report, for `--json` and the web editor."""
    return {
        "source": report.source, "ok": report.ok,
        "findings": [f.__dict__ for f in report.findings],
        "gaps": [g.__dict__ for g in report.gaps], "gap_cells": report.gap_cells,
        "cells": report.cells,
    }
