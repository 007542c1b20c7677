"""The compiler: checks the whole document (tracks, teams, templates, calendars, windows, rule
ids, overlays) collecting every error with its line, and builds the `Playbook`."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec

from escapevelocity.domain.playbook.decide import Playbook, Rule
from escapevelocity.domain.playbook.errors import PlaybookError, _Lines
from escapevelocity.domain.playbook.facts import Cond, new_automaton
from escapevelocity.domain.playbook.spec import (
    LEVELS,
    NO_RESPONSE_REASONS,
    PRIORITIES,
    PlaybookSpec,
    RuleSpec,
    SpokeOverride,
    Then,
)
from escapevelocity.domain.playbook.time_conditions import (
    _aware,
    _compile_calendar,
    _Hours,
    _TimeConditions,
)


def version_of(data: Any) -> str:
    digest = hashlib.sha256(msgspec.json.encode(data)).hexdigest()[:8]
    return f"sha-{digest}"


_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")
# What a case keeps of a decision, as the store's columns hold it: the track, the team and who
# approves (cases: 64 each), and the playbook's name (playbooks: 200). SQLite would take longer
# ones and PostgreSQL refuse the version or the first case it decides, so a playbook being
# saved or checked is refused instead (a stored version is not: `stored`).
MAX_NAME = 64
MAX_TITLE = 200


class _Compiler(_TimeConditions):
    """Checks the document and compiles its rules; the conditions come from _Conditions
    (conditions.py) and _TimeConditions (time_conditions.py).

    Every condition is a method `_name(value) -> Cond`; its docstring is its documentation
    (docs/playbook.md and the JSON schema are checked against them).
    """

    def __init__(self, spec: PlaybookSpec, lines: _Lines, source: str | None, *,
                 stored: bool = False) -> None:
        self.spec, self.lines, self.source, self.stored = spec, lines, source, stored
        self.phrases: set[str] = set()
        self.errors: list[PlaybookError] = []
        self.calendars: dict[str, _Hours] = {}
        self.used_lists: set[str] = set()
        self.used_templates: set[str] = set()

    # --- the whole document ---

    def error(self, message: str, path: str, rule: str | None = None) -> None:
        self.errors.append(PlaybookError(message, rule=rule, line=self.lines.at(path),
                                         source=self.source))

    def build(self, data: Any, version: str | None) -> Playbook | None:
        spec = self.spec
        if len(spec.name) > MAX_TITLE and not self.stored:
            self.error(f"the name is at most {MAX_TITLE} characters (it has {len(spec.name)})",
                       "$.name")
        for i, team in enumerate(spec.teams):
            self.too_long("a team", team, f"$.teams[{i}]")
        for name, track in spec.tracks.items():
            self.too_long("a track's name", name, f"$.tracks.{name}")
            self.too_long("a team", track.team, f"$.tracks.{name}.team")
            self.too_long("an approval", track.approval, f"$.tracks.{name}.approval")
        for name, cal in spec.calendars.items():
            try:
                self.calendars[name] = _compile_calendar(name, cal)
            except PlaybookError as exc:
                self.error(str(exc), f"$.calendars.{name}")
        for name, windows in spec.windows.items():
            for i, w in enumerate(windows):
                if _aware(w.end) <= _aware(w.start):
                    self.error(f"window {name!r} ends before it starts", f"$.windows.{name}[{i}]")
        for name, track in spec.tracks.items():
            if spec.teams and track.team not in spec.teams:
                self.error(f"track {name!r} names unknown team {track.team!r}; teams: "
                           f"{', '.join(spec.teams)}", f"$.tracks.{name}.team")
            if track.priority not in PRIORITIES:
                self.error(f"track {name!r}: priority must be one of {', '.join(PRIORITIES)}",
                           f"$.tracks.{name}.priority")
            if track.calendar and track.calendar not in spec.calendars:
                self.error(f"track {name!r} names unknown calendar {track.calendar!r}",
                           f"$.tracks.{name}.calendar")
        if spec.default.track is None:
            self.error("the default decision must name a track", "$.default")
        self.then(spec.default, "default", "$.default")
        seen: set[str] = set()
        hub = self.rules(spec.rules, "$.rules", "hub", seen)
        merged = list(hub)
        for i, spoke in enumerate(spec.overlays.spokes):
            merged = self.spoke(spoke, f"$.overlays.spokes[{i}]", merged, seen)
        by_level: dict[str, tuple[Rule, ...]] = {}
        crisis = spec.overlays.crisis
        if crisis is not None:
            bad = set(crisis.levels) - set(LEVELS)
            if bad:
                self.error(f"unknown crisis level {sorted(bad)}; levels: {', '.join(LEVELS)}",
                           "$.overlays.crisis.levels")
            overlay = self.rules(crisis.rules, "$.overlays.crisis.rules", "crisis overlay", seen)
            for level in crisis.levels:
                by_level[level] = tuple(overlay + merged)
        if self.errors:
            return None
        line_of = {r.id: r.line for rules in (merged, *by_level.values()) for r in rules
                   if r.line}
        return Playbook(spec=spec, version=version or version_of(data), rules=tuple(merged),
                        _automaton=new_automaton(self.phrases), by_level=by_level,
                        lines=line_of, source=self.source)

    def rules(self, specs: list[RuleSpec], path: str, origin: str, seen: set[str],
              guard: Cond | None = None) -> list[Rule]:
        out = []
        for i, r in enumerate(specs):
            at = f"{path}[{i}]"
            if r.id in seen:
                self.error("duplicate rule id", at, r.id)
            elif not _IDENT.match(r.id):
                self.error("a rule id is letters, digits and _ . : / - (at most 128)", at, r.id)
            seen.add(r.id)
            before = len(self.errors)
            self.then(r.then, r.id, f"{at}.then")
            try:
                cond = self.condition(r.when)
            except PlaybookError as exc:
                self.error(exc.message, f"{at}.when", r.id)
                continue
            if len(self.errors) > before:
                continue
            if guard is not None:
                cond = self.combine("all", [guard, cond])
            out.append(Rule(r.id, cond.test, r.then, r.description or cond.text, cond,
                            self.lines.at(at), origin))
        return out

    def spoke(self, spoke: SpokeOverride, path: str, merged: list[Rule],
              seen: set[str]) -> list[Rule]:
        spec = self.spec
        if spec.teams and spoke.team not in spec.teams:
            self.error(f"spoke override names unknown team {spoke.team!r}", f"{path}.team")
            return merged
        for i, r in enumerate(spoke.rules):
            track = spec.tracks.get(r.then.track or "")
            team = r.then.team or (track.team if track else None)
            if r.then.stop and team != spoke.team:
                self.error(f"a {spoke.team} spoke override may only decide for {spoke.team}; "
                           f"this rule decides for {team or 'no team'} (set track or team)",
                           f"{path}.rules[{i}].then", r.id)
        try:
            guard = self.condition(spoke.when) if spoke.when else None
        except PlaybookError as exc:
            self.error(f"spoke {spoke.team} slice: {exc.message}", f"{path}.when")
            return merged
        rules = self.rules(spoke.rules, f"{path}.rules", f"spoke:{spoke.team}", seen, guard)
        if spoke.before is not None:
            at = next((i for i, r in enumerate(merged) if r.id == spoke.before), None)
            if at is None:
                self.error(f"spoke {spoke.team}: 'before' names unknown rule {spoke.before!r}",
                           f"{path}.before")
                return merged
        else:
            at = next((i for i, r in enumerate(merged) if r.then.stop and r.origin == "hub"
                       and self.team_of(r.then) == spoke.team), len(merged))
        return merged[:at] + rules + merged[at:]

    def team_of(self, then: Then) -> str | None:
        track = self.spec.tracks.get(then.track or "")
        return then.team or (track.team if track else None)

    def too_long(self, what: str, value: str | None, path: str, rule: str | None = None) -> None:
        if value and len(value) > MAX_NAME and not self.stored:
            self.error(f"{what} is at most {MAX_NAME} characters: {value[:40]!r}… has "
                       f"{len(value)}", path, rule)

    def then(self, then: Then, rule: str, path: str) -> None:
        spec = self.spec
        named = None if rule == "default" else rule
        self.too_long("a team", then.team, f"{path}.team", named)
        self.too_long("an approval", then.approval, f"{path}.approval", named)
        checks = [
            (then.track is not None and then.track not in spec.tracks, f"{path}.track",
             f"unknown track {then.track!r}; tracks: {', '.join(sorted(spec.tracks))}"),
            (then.respond is False and not then.reason, f"{path}.respond",
             "'respond: false' needs a reason (" + ", ".join(NO_RESPONSE_REASONS[:5]) + ", …)"),
            (then.priority is not None and then.priority not in PRIORITIES, f"{path}.priority",
             f"priority must be one of {', '.join(PRIORITIES)}"),
            (then.visibility is not None and then.visibility not in ("public", "private"),
             f"{path}.visibility", "visibility must be public or private"),
            (bool(then.template) and then.template not in spec.templates, f"{path}.template",
             (f"unknown template {then.template!r}; templates: "
              f"{', '.join(sorted(spec.templates)) or 'none'}")),
            (bool(spec.teams) and bool(then.team) and then.team not in spec.teams,
             f"{path}.team", f"unknown team {then.team!r}; teams: {', '.join(spec.teams)}"),
            (then.sla_minutes is not None and then.sla_minutes <= 0, f"{path}.sla_minutes",
             "sla_minutes must be positive"),
        ]
        for bad, at, message in checks:
            if bad:
                self.error(message, at, None if rule == "default" else rule)
        if then.template:
            self.used_templates.add(then.template)

    def predicate(self, key: str, value: Any) -> Cond:
        method = getattr(self, "_" + key.replace("-", "_"), None)
        if method is None or key.startswith("_") or key not in CONDITIONS:
            raise PlaybookError(f"unknown condition {key!r}; known: {', '.join(CONDITIONS)}")
        return method(value)


# Every condition method up the class chain (conditions.py, time_conditions.py).
CONDITIONS = tuple(sorted({
    name[1:] for klass in _Compiler.__mro__ for name, fn in vars(klass).items()
    if name.startswith("_") and not name.startswith("__") and callable(fn)
    and name not in ("_calendar", "_zone")
}))


def condition_docs() -> dict[str, str]:
    """Each condition's one-paragraph documentation, from its docstring."""
    return {name: " ".join((getattr(_Compiler, "_" + name).__doc__ or "").split())
            for name in CONDITIONS}
