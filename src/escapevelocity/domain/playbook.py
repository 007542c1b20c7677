"""The playbook: the written triage workflow as data, compiled once into a fast pure decision.

A playbook is YAML (docs/playbook.md): tracks with their SLAs and owning teams, first-response
templates, named keyword lists, and ordered if-then rules. `compile_playbook` turns it into a
`Playbook` whose `decide(mention, signals, context)` is a pure function: the first matching rule
with `stop: true` (the default) decides; matching rules with `stop: false` before it add tags,
flags and notifications. Every decision names its rule and version and says why in one line.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ahocorasick
import msgspec

from escapevelocity.domain.records import Decision, Mention, Signals

PRIORITIES = ("p1", "p2", "p3", "p4")
LEVELS = ("normal", "watch", "crisis1", "crisis2", "crisis3")
NO_RESPONSE_REASONS = (
    "spam", "troll", "venting_no_ask", "competitor_bait", "legal_hold", "off_topic",
    "already_answered", "bot", "monitor_only", "crisis_hold",
)


class PlaybookError(ValueError):
    """A playbook that cannot be compiled. Says where: file, line and rule."""

    def __init__(self, message: str, *, rule: str | None = None, line: int | None = None,
                 source: str | None = None) -> None:
        self.rule, self.line, self.source = rule, line, source
        where = ":".join(str(p) for p in (source, line) if p)
        prefix = f"{where}: " if where else ""
        subject = f"rule {rule!r}: " if rule else ""
        super().__init__(f"{prefix}{subject}{message}")


class Sla(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    first_response: int  # minutes
    next_response: int | None = None
    resolution: int | None = None


class Track(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    team: str
    sla: Sla
    priority: str = "p3"
    approval: str = ""
    respond: bool = True
    description: str = ""
    calendar: str = ""


class Then(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    track: str | None = None
    respond: bool | None = None
    reason: str = ""
    visibility: str | None = None
    team: str | None = None
    priority: str | None = None
    sla_minutes: int | None = None
    approval: str | None = None
    template: str | None = None
    tags: list[str] = []
    flags: list[str] = []
    notify: list[str] = []
    stop: bool = True


class RuleSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    then: Then
    when: dict[str, Any] = {}
    description: str = ""


class PlaybookSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    tracks: dict[str, Track]
    rules: list[RuleSpec]
    default: Then
    teams: list[str] = []
    templates: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    description: str = ""


@dataclass(frozen=True, slots=True)
class Context:
    """What the decision may depend on besides the mention and its signals."""

    crisis_level: str = "normal"
    author_history: int = 0  # earlier mentions by this author in the workspace
    known_customer: bool = False
    vip: bool = False


@dataclass(frozen=True, slots=True)
class Facts:
    mention: Mention
    signals: Signals
    context: Context
    phrases: frozenset[str]  # ids of keyword phrases found in the text


Predicate = Callable[[Facts], bool]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    matches: Predicate
    then: Then
    text: str  # the condition in words, for explanations and diagrams


@dataclass(frozen=True)
class Playbook:
    spec: PlaybookSpec
    version: str
    rules: tuple[Rule, ...]
    _automaton: Any = field(repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def facts(self, mention: Mention, signals: Signals, context: Context) -> Facts:
        return Facts(mention, signals, context, self._phrases(mention.text))

    def _phrases(self, text: str) -> frozenset[str]:
        if self._automaton is None:
            return frozenset()
        folded = fold(text)
        found = set()
        for end, (phrase, length) in self._automaton.iter(folded):
            start = end - length + 1
            if (start == 0 or not folded[start - 1].isalnum()) and (
                end + 1 == len(folded) or not folded[end + 1].isalnum()
            ):
                found.add(phrase)
        return frozenset(found)

    def decide(self, mention: Mention, signals: Signals, context: Context = Context()) -> Decision:
        """First stopping rule wins; earlier non-stopping matches contribute tags and notices."""
        facts = self.facts(mention, signals, context)
        extra_tags: list[str] = []
        extra_flags: list[str] = []
        extra_notify: list[str] = []
        for rule in self.rules:
            if rule.matches(facts):
                if not rule.then.stop:
                    extra_tags += rule.then.tags
                    extra_flags += rule.then.flags
                    extra_notify += rule.then.notify
                    continue
                return self._decision(rule.id, rule.then, rule.text, extra_tags, extra_flags,
                                      extra_notify, signals)
        return self._decision("default", self.spec.default, "no rule matched", extra_tags,
                              extra_flags, extra_notify, signals)

    def _decision(self, rule_id: str, then: Then, why: str, tags: list[str], flags: list[str],
                  notify: list[str], signals: Signals) -> Decision:
        track_name = then.track or self.spec.default.track or "support"
        track = self.spec.tracks[track_name]
        respond = track.respond if then.respond is None else then.respond
        visibility = then.visibility or ("private" if signals.pii else "public")
        all_flags = tuple(dict.fromkeys([*flags, *then.flags, *(["pii"] if signals.pii else [])]))
        team = then.team or track.team
        verb = f"respond {visibility}ly" if respond else f"do not respond ({then.reason})"
        return Decision(
            track=track_name,
            respond=respond,
            reason="" if respond else then.reason,
            visibility=visibility,
            team=team,
            priority=then.priority or track.priority,
            sla_minutes=then.sla_minutes or track.sla.first_response,
            approval=track.approval if then.approval is None else then.approval,
            template=then.template or "",
            tags=tuple(dict.fromkeys([*tags, *then.tags])),
            flags=all_flags,
            notify=tuple(dict.fromkeys([*notify, *then.notify])),
            rule_id=rule_id,
            playbook_version=self.version,
            explanation=f"{rule_id}: {why} → {track_name} track, {team}, {verb}",
        )

    def template_text(self, name: str) -> str:
        return self.spec.templates.get(name, "")


def fold(text: str) -> str:
    """Case and accent folding so that 'Café' matches 'cafe' in keyword rules."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# --- conditions -------------------------------------------------------------------------------

def _as_set(value: Any, key: str) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset([value])
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise PlaybookError(f"{key} expects a name or a list of names, got {value!r}")


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlaybookError(f"{key} expects a number, got {value!r}")
    return float(value)


class _Compiler:
    """Turns the `when` mapping into closures. Keys in one mapping are ANDed."""

    def __init__(self, spec: PlaybookSpec) -> None:
        self.spec = spec
        self.phrases: set[str] = set()

    def condition(self, when: Mapping[str, Any]) -> tuple[Predicate, str]:
        if not isinstance(when, Mapping):
            raise PlaybookError(f"a condition must be a mapping, got {when!r}")
        parts = [self.predicate(key, value) for key, value in when.items()]
        if not parts:
            return (lambda f: True), "always"
        if len(parts) == 1:
            return parts[0]
        preds = tuple(p for p, _ in parts)
        return (lambda f: all(p(f) for p in preds)), " and ".join(t for _, t in parts)

    def predicate(self, key: str, value: Any) -> tuple[Predicate, str]:
        method = getattr(self, "_" + key.replace("-", "_"), None)
        if method is None or key.startswith("_"):
            raise PlaybookError(f"unknown condition {key!r}; known: {', '.join(CONDITIONS)}")
        return method(value)

    # combinators
    def _all(self, value: Any) -> tuple[Predicate, str]:
        parts = [self.condition(v) for v in _list(value, "all")]
        preds = tuple(p for p, _ in parts)
        return (lambda f: all(p(f) for p in preds)), "(" + " and ".join(t for _, t in parts) + ")"

    def _any(self, value: Any) -> tuple[Predicate, str]:
        parts = [self.condition(v) for v in _list(value, "any")]
        preds = tuple(p for p, _ in parts)
        return (lambda f: any(p(f) for p in preds)), "(" + " or ".join(t for _, t in parts) + ")"

    def _not(self, value: Any) -> tuple[Predicate, str]:
        pred, text = self.condition(value)
        return (lambda f: not pred(f)), f"not {text}"

    # signals
    def _situation(self, value: Any) -> tuple[Predicate, str]:
        wanted = _as_set(value, "situation")
        return (lambda f: not wanted.isdisjoint(f.signals.situations or (f.signals.situation,)),
                f"situation {_words(wanted)}")

    def _primary_situation(self, value: Any) -> tuple[Predicate, str]:
        wanted = _as_set(value, "primary_situation")
        return (lambda f: f.signals.situation in wanted), f"primary situation {_words(wanted)}"

    def _sentiment(self, value: Any) -> tuple[Predicate, str]:
        wanted = _as_set(value, "sentiment")
        return (lambda f: f.signals.sentiment_label in wanted), f"sentiment {_words(wanted)}"

    def _sentiment_below(self, value: Any) -> tuple[Predicate, str]:
        limit = _number(value, "sentiment_below")
        return (lambda f: f.signals.sentiment < limit), f"sentiment < {limit:g}"

    def _sentiment_above(self, value: Any) -> tuple[Predicate, str]:
        limit = _number(value, "sentiment_above")
        return (lambda f: f.signals.sentiment > limit), f"sentiment > {limit:g}"

    def _urgency_at_least(self, value: Any) -> tuple[Predicate, str]:
        limit = _number(value, "urgency_at_least")
        return (lambda f: f.signals.urgency >= limit), f"urgency ≥ {limit:g}"

    def _author_class(self, value: Any) -> tuple[Predicate, str]:
        wanted = _as_set(value, "author_class")
        return (lambda f: f.signals.author_class in wanted), f"author {_words(wanted)}"

    def _followers_at_least(self, value: Any) -> tuple[Predicate, str]:
        limit = _number(value, "followers_at_least")
        return (lambda f: f.mention.author.followers >= limit), f"reach ≥ {limit:g}"

    def _verified(self, value: Any) -> tuple[Predicate, str]:
        want = bool(value)
        return (lambda f: f.mention.author.verified is want), ("verified" if want else "unverified")

    def _known_customer(self, value: Any) -> tuple[Predicate, str]:
        want = bool(value)
        return (lambda f: f.context.known_customer is want), (
            "known customer" if want else "not a known customer")

    def _vip(self, value: Any) -> tuple[Predicate, str]:
        want = bool(value)
        return (lambda f: f.context.vip is want), ("VIP" if want else "not VIP")

    def _channel(self, value: Any) -> tuple[Predicate, str]:
        wanted = _as_set(value, "channel")
        return (lambda f: f.mention.channel in wanted), f"channel {_words(wanted)}"

    def _kind(self, value: Any) -> tuple[Predicate, str]:
        wanted = _as_set(value, "kind")
        return (lambda f: f.mention.kind in wanted), f"message type {_words(wanted)}"

    def _language(self, value: Any) -> tuple[Predicate, str]:
        wanted = _as_set(value, "language")
        return (lambda f: f.signals.language in wanted), f"language {_words(wanted)}"

    def _pii(self, value: Any) -> tuple[Predicate, str]:
        if isinstance(value, bool):
            return (lambda f: bool(f.signals.pii) is value), ("PII found" if value else "no PII")
        wanted = _as_set(value, "pii")
        return (lambda f: not wanted.isdisjoint(f.signals.pii)), f"PII {_words(wanted)}"

    def _topic(self, value: Any) -> tuple[Predicate, str]:
        wanted = _as_set(value, "topic")
        return (lambda f: not wanted.isdisjoint(f.signals.topics)), f"topic {_words(wanted)}"

    def _crisis_level(self, value: Any) -> tuple[Predicate, str]:
        wanted = _as_set(value, "crisis_level")
        unknown = wanted - set(LEVELS)
        if unknown:
            raise PlaybookError(f"unknown crisis level {sorted(unknown)}; levels: {LEVELS}")
        return (lambda f: f.context.crisis_level in wanted), f"crisis level {_words(wanted)}"

    def _repeat_author(self, value: Any) -> tuple[Predicate, str]:
        limit = 1 if value is True else _number(value, "repeat_author")
        return (lambda f: f.context.author_history >= limit), f"author seen ≥ {limit:g} times"

    def _keywords(self, value: Any) -> tuple[Predicate, str]:
        phrases: set[str] = set()
        names: list[str] = []
        for item in _list(value, "keywords"):
            if not isinstance(item, str) or not item.strip():
                raise PlaybookError(f"keywords expects phrases or list:NAME, got {item!r}")
            if item.startswith("list:"):
                name = item[5:]
                if name not in self.spec.lists:
                    raise PlaybookError(f"unknown list {name!r}; lists: {sorted(self.spec.lists)}")
                phrases.update(fold(p) for p in self.spec.lists[name])
                names.append(item)
            else:
                phrases.add(fold(item))
                names.append(repr(item))
        self.phrases |= phrases
        wanted = frozenset(phrases)
        return (lambda f: not wanted.isdisjoint(f.phrases)), f"keywords {', '.join(names)}"


CONDITIONS = tuple(sorted(
    name[1:] for name in vars(_Compiler) if name.startswith("_") and not name.startswith("__")
))


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise PlaybookError(f"{key} expects a list, got {value!r}")
    return value


def _words(values: Iterable[str]) -> str:
    values = sorted(values)
    return values[0] if len(values) == 1 else "in " + "/".join(values)


def _check_then(spec: PlaybookSpec, then: Then, rule: str) -> None:
    if then.track is not None and then.track not in spec.tracks:
        raise PlaybookError(f"unknown track {then.track!r}; tracks: {sorted(spec.tracks)}",
                            rule=rule)
    if then.respond is False and not then.reason:
        raise PlaybookError("'respond: false' needs a reason (spam, troll, venting_no_ask, …)",
                            rule=rule)
    if then.priority is not None and then.priority not in PRIORITIES:
        raise PlaybookError(f"priority must be one of {PRIORITIES}", rule=rule)
    if then.visibility is not None and then.visibility not in ("public", "private"):
        raise PlaybookError("visibility must be public or private", rule=rule)
    if then.template and then.template not in spec.templates:
        raise PlaybookError(f"unknown template {then.template!r}", rule=rule)
    if spec.teams and then.team and then.team not in spec.teams:
        raise PlaybookError(f"unknown team {then.team!r}; teams: {spec.teams}", rule=rule)


def compile_playbook(data: Mapping[str, Any] | str, *, version: str | None = None,
                     source: str | None = None) -> Playbook:
    """Validate and compile. Raises PlaybookError naming the rule (and source) at fault."""
    if isinstance(data, str):
        import yaml

        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise PlaybookError(f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                line=mark.line + 1 if mark else None, source=source) from None
    try:
        spec = msgspec.convert(data, PlaybookSpec)
    except msgspec.ValidationError as exc:
        raise PlaybookError(f"schema: {exc}", source=source) from None
    for name, track in spec.tracks.items():
        if spec.teams and track.team not in spec.teams:
            raise PlaybookError(f"track {name!r} names unknown team {track.team!r}", source=source)
    if spec.default.track is None:
        raise PlaybookError("the default decision must name a track", rule="default",
                            source=source)
    compiler = _Compiler(spec)
    rules, seen = [], set()
    for r in spec.rules:
        if r.id in seen:
            raise PlaybookError("duplicate rule id", rule=r.id, source=source)
        seen.add(r.id)
        try:
            _check_then(spec, r.then, r.id)
            pred, text = compiler.condition(r.when)
        except PlaybookError as exc:
            raise PlaybookError(str(exc), rule=r.id, source=source) from None
        rules.append(Rule(r.id, pred, r.then, r.description or text))
    try:
        _check_then(spec, spec.default, "default")
    except PlaybookError as exc:
        raise PlaybookError(str(exc), source=source) from None
    automaton = None
    if compiler.phrases:
        automaton = ahocorasick.Automaton()
        for phrase in compiler.phrases:
            automaton.add_word(phrase, (phrase, len(phrase)))
        automaton.make_automaton()
    if version is None:
        digest = hashlib.sha256(msgspec.json.encode(data)).hexdigest()[:8]
        version = f"sha-{digest}"
    return Playbook(spec=spec, version=version, rules=tuple(rules), _automaton=automaton)


def load_playbook(path: str, *, version: str | None = None) -> Playbook:
    with open(path, encoding="utf-8") as fh:
        return compile_playbook(fh.read(), version=version, source=path)


def default_playbook_path() -> str:
    from importlib.resources import files

    return str(files("escapevelocity") / "playbooks" / "default.yaml")
