"""The playbook: the written triage workflow as data, compiled once into a fast pure decision.

A playbook is YAML (docs/playbook.md): tracks with their SLAs and owning teams, first-response
templates, named lists, business calendars and launch windows, ordered if-then rules, and
overlays (a crisis overlay, spoke overrides). `compile_playbook` turns it into a `Playbook` whose
`decide(mention, signals, context)` is a pure function of its arguments: the first matching rule
with `stop: true` (the default) decides; matching rules with `stop: false` before it add tags,
flags and notifications. Every decision names its rule and version and says why in one line;
`explain` gives the per-predicate trace of every rule considered.

Each condition (`_Compiler`) compiles to a closure; keywords are found in one Aho-Corasick
pass; decisions are memoised per (rule, contributing rules, PII), so a decision costs a few
closure calls and a dict lookup. Static analysis lives in playbook_check.py.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC as _UTC
from datetime import date, datetime
from typing import Any

import ahocorasick
import msgspec

from escapevelocity.domain.records import Decision, Mention, Signals

PRIORITIES = ("p1", "p2", "p3", "p4")
LEVELS = ("normal", "watch", "crisis1", "crisis2", "crisis3")
CRISIS_LEVELS = ("crisis1", "crisis2", "crisis3")
NO_RESPONSE_REASONS = (
    "spam", "troll", "venting_no_ask", "competitor_bait", "legal_hold", "off_topic",
    "already_answered", "bot", "monitor_only", "crisis_hold",
)
# The finite signal vocabulary (domain/enrich.py emits these); check reasons over it.
SITUATIONS = ("complaint", "question", "praise", "feedback", "lead", "crisis", "legal",
              "misinformation", "spam", "off_topic", "venting", "other")
SENTIMENTS = ("negative", "neutral", "positive")
AUTHOR_CLASSES = ("customer", "prospect", "influencer", "journalist", "employee", "partner",
                  "competitor", "troll", "bot")


class PlaybookError(ValueError):
    """A playbook that cannot be compiled. Says where: file, line and rule."""

    def __init__(self, message: str, *, rule: str | None = None, line: int | None = None,
                 source: str | None = None) -> None:
        self.message, self.rule, self.line, self.source = message, rule, line, source
        where = ":".join(str(p) for p in (source, line) if p)
        prefix = f"{where}: " if where else ""
        subject = f"rule {rule!r}: " if rule else ""
        super().__init__(f"{prefix}{subject}{message}")


# --- the format (msgspec specs; playbooks/schema.json is generated from these) ----------------

class Sla(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Minutes to first response, next response and resolution."""

    first_response: int
    next_response: int | None = None
    resolution: int | None = None


class Track(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A lane with its SLA, owning team and default priority."""

    team: str
    sla: Sla
    priority: str = "p3"
    approval: str = ""  # who approves replies on this track (a team or role), empty: nobody
    respond: bool = True
    description: str = ""
    calendar: str = ""  # business calendar the SLA clock runs on, empty: around the clock


class Then(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A rule's decision. Unset fields come from the track."""

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
    """One if-then rule: `when` (conditions ANDed; all/any/not combine) then a decision."""

    id: str
    then: Then
    when: dict[str, Any] = {}
    description: str = ""


class Calendar(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Business hours per weekday ("mon-fri": "09:00-17:30") in a time zone, and holidays."""

    timezone: str = "UTC"
    hours: dict[str, str] = msgspec.field(default_factory=lambda: {"mon-fri": "09:00-17:00"})
    holidays: list[date] = []


class Window(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A time window such as a launch; naive times are UTC."""

    start: datetime
    end: datetime
    description: str = ""


class CrisisOverlay(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Rules put ahead of all others while the crisis level is one of `levels`."""

    rules: list[RuleSpec]
    levels: list[str] = msgspec.field(default_factory=lambda: list(CRISIS_LEVELS))
    description: str = ""


class SpokeOverride(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Rules a spoke team owns for its slice; they may only decide for that team."""

    team: str
    rules: list[RuleSpec]
    when: dict[str, Any] = {}  # the slice; ANDed into every rule of the override
    before: str | None = None  # hub rule to insert before; default: the hub's first rule for team
    description: str = ""


class Overlays(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    crisis: CrisisOverlay | None = None
    spokes: list[SpokeOverride] = []


class PlaybookSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A whole playbook document."""

    name: str
    tracks: dict[str, Track]
    rules: list[RuleSpec]
    default: Then
    teams: list[str] = []
    templates: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    calendars: dict[str, Calendar] = {}
    windows: dict[str, list[Window]] = {}
    overlays: Overlays = Overlays()
    activation_approval: str = ""  # who must approve activating a new version (e.g. legal)
    description: str = ""


# --- what a decision may depend on ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Context:
    """What the decision may depend on besides the mention and its signals.

    `now` defaults to the mention's own time, so replays and drills decide as they did live.
    """

    crisis_level: str = "normal"
    author_history: int = 0  # earlier mentions by this author in the workspace
    known_customer: bool = False
    vip: bool = False
    now: datetime | None = None
    case_history: int = 0  # earlier mentions in this case (0: a new conversation)
    author_open_cases: int = 0  # the author's other open cases
    previous_track: str = ""  # track of the author's previous case, empty when none
    author_lists: frozenset[str] = frozenset()  # CRM lists the author is on (vip, churn_risk, …)


class Facts:
    """The mention, its signals and context; keyword phrases are found on first use only."""

    __slots__ = ("_find", "_phrases", "context", "mention", "signals")

    def __init__(self, mention: Mention, signals: Signals, context: Context,
                 find: Callable[[str], frozenset[str]] | frozenset[str]) -> None:
        self.mention, self.signals, self.context = mention, signals, context
        if isinstance(find, frozenset):
            self._phrases, self._find = find, None
        else:
            self._phrases, self._find = None, find

    @property
    def phrases(self) -> frozenset[str]:
        """Keyword phrases (folded) found in the text as whole words."""
        found = self._phrases
        if found is None:
            found = self._phrases = self._find(self.mention.text)
        return found

    @property
    def now(self) -> datetime:
        now = self.context.now or self.mention.created_at
        return now if now.tzinfo is not None else now.replace(tzinfo=_UTC)


Predicate = Callable[[Facts], bool]


@dataclass(frozen=True, slots=True, eq=False)
class Cond:
    """A compiled condition: the closure plus what it was made from, for explain and check."""

    key: str  # a condition name, or all/any/not/always
    arg: Any  # the normalised argument (a frozenset of names, a number, …)
    text: str
    test: Predicate
    observe: Callable[[Facts], str] | None = None  # what the mention had, for explanations
    children: tuple[Cond, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    id: str
    matches: Predicate
    then: Then
    text: str  # the condition in words, for explanations and diagrams
    cond: Cond | None = None
    line: int | None = None
    origin: str = "hub"  # hub, crisis overlay, spoke:TEAM


@dataclass(frozen=True, slots=True)
class Check:
    """One predicate's outcome in an explanation; depth nests under all/any/not."""

    text: str
    result: bool
    observed: str
    depth: int


@dataclass(frozen=True, slots=True)
class Step:
    rule: Rule
    matched: bool
    checks: tuple[Check, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    decision: Decision
    steps: tuple[Step, ...]  # every rule considered, in order, up to the deciding one
    facts: Facts


_CACHE_LIMIT = 8192
_PLAN_LIMIT = 65536


@dataclass(frozen=True, slots=True)
class Cell:
    """One point of the finite signal space that static reasoning works over."""

    situation: str  # the primary situation
    situations: tuple[str, ...]  # every situation present, the primary included
    sentiment: str
    author_class: str
    channel: str
    kind: str


_CELL_KEYS = {"primary_situation": "situation", "sentiment": "sentiment", "author_class": "author_class", "channel": "channel",
              "kind": "kind"}


def tri(cond: Cond, cell: Cell) -> bool | None:
    """Three-valued (Kleene) truth of a condition over a cell: True or False when the cell's
    values settle it, None when it depends on anything else (keywords, reach, time, …)."""
    key = cond.key
    if key == "all":
        result: bool | None = True
        for child in cond.children:
            v = tri(child, cell)
            if v is False:
                return False
            if v is None:
                result = None
        return result
    if key == "any":
        result = False
        for child in cond.children:
            v = tri(child, cell)
            if v is True:
                return True
            if v is None:
                result = None
        return result
    if key == "not":
        v = tri(cond.children[0], cell)
        return None if v is None else not v
    if key == "always":
        return True
    if key == "situation":
        return not cond.arg.isdisjoint(cell.situations)
    attr = _CELL_KEYS.get(key)
    if attr is None:
        return None
    return getattr(cell, attr) in cond.arg


@dataclass(frozen=True)
class Playbook:
    spec: PlaybookSpec
    version: str
    rules: tuple[Rule, ...]  # the rules in force at normal crisis level, spokes included
    _automaton: Any = field(repr=False)
    by_level: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict, repr=False)
    lines: Mapping[str, int] = field(default_factory=dict, repr=False)
    source: str | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    _plans: dict = field(default_factory=dict, repr=False, compare=False)
    _full: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def rules_for(self, context: Context) -> tuple[Rule, ...]:
        return self.by_level.get(context.crisis_level, self.rules)

    def facts(self, mention: Mention, signals: Signals, context: Context) -> Facts:
        return Facts(mention, signals, context, self._phrases)

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
        """First stopping rule wins; earlier non-stopping matches contribute tags and notices.

        Rules are taken from a plan for the mention's finite signal cell (situations,
        sentiment, author class, channel, kind): rules that cannot match there are skipped, and
        rules that must match are not re-tested. The plan is a memo; the answer is the same
        without it, and past _PLAN_LIMIT cells every rule is simply tested.
        """
        key = (context.crisis_level, signals.situation, signals.situations,
               signals.sentiment_label, signals.author_class, mention.channel, mention.kind)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(key)
        facts = Facts(mention, signals, context, self._phrases)
        extra: list[Rule] | None = None
        for rule, sure in plan:
            if sure or rule.matches(facts):
                if rule.then.stop:
                    return self._cached(rule, extra, bool(signals.pii))
                if extra is None:
                    extra = [rule]
                else:
                    extra.append(rule)
        return self._cached(None, extra, bool(signals.pii))

    def _plan(self, key: tuple[Any, ...]) -> tuple[tuple[Rule, bool], ...]:
        level = key[0]
        if len(self._plans) >= _PLAN_LIMIT:
            full = self._full.get(level)
            if full is None:
                full = self._full[level] = tuple(
                    (r, False) for r in self.by_level.get(level, self.rules))
            return full
        cell = Cell(key[1], key[2] or (key[1],), *key[3:])
        plan = []
        for rule in self.by_level.get(level, self.rules):
            verdict = tri(rule.cond, cell) if rule.cond is not None else None
            if verdict is False:
                continue
            plan.append((rule, verdict is True))
            if verdict is True and rule.then.stop:
                break
        result = self._plans[key] = tuple(plan)
        return result

    def explain(self, mention: Mention, signals: Signals,
                context: Context = Context()) -> Explanation:
        """The decision and, for every rule considered, which predicates held and which not."""
        facts = self.facts(mention, signals, context)
        steps = []
        for rule in self.rules_for(context):
            checks: list[Check] = []
            matched = _trace(rule.cond, facts, 0, checks) if rule.cond else rule.matches(facts)
            steps.append(Step(rule, matched, tuple(checks)))
            if matched and rule.then.stop:
                break
        return Explanation(self.decide(mention, signals, context), tuple(steps), facts)

    def _cached(self, rule: Rule | None, extra: list[Rule] | None, pii: bool) -> Decision:
        key = (rule, tuple(extra) if extra else (), pii)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._decision(rule, extra or (), pii)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = decision
        return decision

    def _decision(self, rule: Rule | None, extra: Any, pii: bool) -> Decision:
        then = rule.then if rule else self.spec.default
        rule_id = rule.id if rule else "default"
        why = rule.text if rule else "no rule matched"
        tags = [t for r in extra for t in r.then.tags]
        flags = [t for r in extra for t in r.then.flags]
        notify = [t for r in extra for t in r.then.notify]
        track_name = then.track or self.spec.default.track or "support"
        track = self.spec.tracks[track_name]
        respond = track.respond if then.respond is None else then.respond
        visibility = then.visibility or ("private" if pii else "public")
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
            flags=tuple(dict.fromkeys([*flags, *then.flags, *(["pii"] if pii else [])])),
            notify=tuple(dict.fromkeys([*notify, *then.notify])),
            rule_id=rule_id,
            playbook_version=self.version,
            explanation=f"{rule_id}: {why} → {track_name} track, {team}, {verb}",
        )

    def template_text(self, name: str) -> str:
        return self.spec.templates.get(name, "")


def _trace(cond: Cond, facts: Facts, depth: int, out: list[Check]) -> bool:
    """Evaluate every predicate (no short cut) so the explanation shows each one."""
    if cond.children:
        index = len(out)
        out.append(Check(cond.text, False, "", depth))
        results = [_trace(c, facts, depth + 1, out) for c in cond.children]
        result = {"all": all, "any": any}.get(cond.key, lambda rs: not rs[0])(results)
        out[index] = Check(_combinator_word(cond), result, "", depth)
        return result
    result = cond.test(facts)
    observed = cond.observe(facts) if cond.observe else ""
    out.append(Check(cond.text, result, observed, depth))
    return result


def _combinator_word(cond: Cond) -> str:
    return {"all": "all of", "any": "any of", "not": "not"}.get(cond.key, cond.text)


def fold(text: str) -> str:
    """Case and accent folding so that 'Café' matches 'cafe' in keyword rules."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def activation_approval(old: Playbook | None, new: Playbook) -> str:
    """Who must approve activating `new` ('' when nobody): the stricter of both versions' say.

    A pure helper for services/workspace: a version that removes its own approval requirement
    still needs the approval the active version demanded.
    """
    owners = [p.spec.activation_approval for p in (old, new) if p and p.spec.activation_approval]
    return owners[0] if owners else ""


# --- compiling --------------------------------------------------------------------------------

def compile_playbook(data: Mapping[str, Any] | str, *, version: str | None = None,
                     source: str | None = None) -> Playbook:
    """Validate and compile. Raises PlaybookError naming the file, line and rule at fault."""
    playbook, errors = validate_playbook(data, version=version, source=source)
    if errors:
        raise errors[0]
    assert playbook is not None
    return playbook


def validate_playbook(data: Mapping[str, Any] | str, *, version: str | None = None,
                      source: str | None = None) -> tuple[Playbook | None, list[PlaybookError]]:
    """Every error found (not just the first), and the playbook when there were none."""
    return _build(data, version=version, source=source)


def load_playbook(path: str, *, version: str | None = None) -> Playbook:
    with open(path, encoding="utf-8") as fh:
        return compile_playbook(fh.read(), version=version, source=path)


def default_playbook_path() -> str:
    from importlib.resources import files

    return str(files("escapevelocity") / "playbooks" / "default.yaml")


def version_of(data: Any) -> str:
    digest = hashlib.sha256(msgspec.json.encode(data)).hexdigest()[:8]
    return f"sha-{digest}"


_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")


def new_automaton(phrases: set[str]) -> Any:
    if not phrases:
        return None
    automaton = ahocorasick.Automaton()
    for phrase in phrases:
        automaton.add_word(phrase, (phrase, len(phrase)))
    automaton.make_automaton()
    return automaton


# --- where things are in the YAML -------------------------------------------------------------

class _Lines:
    """Maps a path in the document ($.rules[3].then.track) to its line, via yaml's node marks."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def at(self, path: str) -> int | None:
        node, line = self.node, None
        if node is None:
            return None
        line = node.start_mark.line + 1
        for name, index in re.findall(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]", path):
            child = None
            if name and hasattr(node, "value") and isinstance(node.value, list) and (
                    node.tag.endswith(":map")):
                child = next((v for k, v in node.value if getattr(k, "value", None) == name),
                             None)
            elif index and node.tag.endswith(":seq") and int(index) < len(node.value):
                child = node.value[int(index)]
            if child is None:
                break
            node, line = child, child.start_mark.line + 1
        return line


def _parse(text: str, source: str | None) -> tuple[Any, _Lines]:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PlaybookError(f"not valid YAML: {getattr(exc, 'problem', exc)}",
                            line=mark.line + 1 if mark else None, source=source) from None
    return data, _Lines(node)


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
           source: str | None) -> tuple[Playbook | None, list[PlaybookError]]:
    lines = _Lines(None)
    if isinstance(data, str):
        try:
            data, lines = _parse(data, source)
        except PlaybookError as exc:
            return None, [exc]
    if not isinstance(data, Mapping):
        return None, [PlaybookError("a playbook is a mapping with name, tracks, rules and "
                                    "default", line=1, source=source)]
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
    compiler = _Compiler(spec, lines, source)
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


# --- conditions -------------------------------------------------------------------------------

def _as_set(value: Any, key: str, known: tuple[str, ...] | None = None) -> frozenset[str]:
    if isinstance(value, str):
        values = frozenset([value])
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        values = frozenset(value)
    else:
        raise PlaybookError(f"{key} expects a name or a list of names, got {value!r}")
    if known is not None and not values <= set(known):
        raise PlaybookError(f"unknown {key} {sorted(values - set(known))}; "
                            f"known: {', '.join(known)}")
    return values


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlaybookError(f"{key} expects a number, got {value!r}")
    return float(value)


def _range(value: Any, key: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2):
        raise PlaybookError(f"{key} expects [low, high], got {value!r}")
    low, high = _number(value[0], key), _number(value[1], key)
    if low > high:
        raise PlaybookError(f"{key}: low {low:g} is above high {high:g}")
    return low, high


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise PlaybookError(f"{key} expects a non-empty list, got {value!r}")
    return value


def _words(values: Any) -> str:
    values = sorted(values)
    return values[0] if len(values) == 1 else "in " + "/".join(values)


def _and(preds: list[Predicate]) -> Predicate:
    # Nested two-way closures beat all(generator) by ~3x at this size.
    if len(preds) == 1:
        return preds[0]
    first, rest = preds[0], _and(preds[1:])
    return lambda f: first(f) and rest(f)


def _or(preds: list[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    first, rest = preds[0], _or(preds[1:])
    return lambda f: first(f) or rest(f)


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class _Hours:
    """A compiled business calendar: open minute ranges per weekday, holidays, time zone."""

    zone: Any
    open: tuple[tuple[tuple[int, int], ...], ...]  # per weekday, minutes since midnight
    holidays: frozenset[date]

    def local(self, now: datetime) -> datetime:
        return now.astimezone(self.zone)

    def is_holiday(self, now: datetime) -> bool:
        return self.local(now).date() in self.holidays

    def is_open(self, now: datetime) -> bool:
        local = self.local(now)
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.open[local.weekday()])


def _compile_calendar(name: str, cal: Calendar) -> _Hours:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(cal.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PlaybookError(f"calendar {name!r}: unknown time zone {cal.timezone!r}") from None
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for key, spans in cal.hours.items():
        first, _, last = key.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise PlaybookError(f"calendar {name!r}: {key!r} is not a day or range like mon-fri")
        a, b = DAYS.index(first), DAYS.index(last or first)
        chosen = [d % 7 for d in range(a, b + 1 if b >= a else b + 8)]
        for span in filter(None, (s.strip() for s in spans.split(","))):
            found = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", span)
            if not found:
                raise PlaybookError(f"calendar {name!r}: {span!r} is not HH:MM-HH:MM")
            h1, m1, h2, m2 = map(int, found.groups())
            start, end = h1 * 60 + m1, h2 * 60 + m2
            if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or start == end:
                raise PlaybookError(f"calendar {name!r}: {span!r} is not a valid span")
            for d in chosen:
                if end > start:
                    days[d].append((start, end))
                else:  # through midnight into the next day
                    days[d].append((start, 24 * 60))
                    days[(d + 1) % 7].append((0, end))
    return _Hours(zone, tuple(tuple(d) for d in days), frozenset(cal.holidays))


def _aware(t: datetime) -> datetime:
    from datetime import UTC

    return t if t.tzinfo else t.replace(tzinfo=UTC)


class _Compiler:
    """Turns `when` mappings into Cond trees of closures. Keys in one mapping are ANDed.

    Every condition is a method `_name(value) -> Cond`; its docstring is its documentation
    (docs/playbook.md and the JSON schema are checked against them).
    """

    def __init__(self, spec: PlaybookSpec, lines: _Lines, source: str | None) -> None:
        self.spec, self.lines, self.source = spec, lines, source
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

    def then(self, then: Then, rule: str, path: str) -> None:
        spec = self.spec
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

    # --- conditions ---

    def condition(self, when: Any) -> Cond:
        if not isinstance(when, Mapping):
            raise PlaybookError(f"a condition must be a mapping, got {when!r}")
        parts = [self.predicate(str(key), value) for key, value in when.items()]
        if not parts:
            return Cond("always", None, "always", lambda f: True)
        return parts[0] if len(parts) == 1 else self.combine("all", parts)

    def combine(self, key: str, parts: list[Cond]) -> Cond:
        preds = [p.test for p in parts]
        joiner = " and " if key == "all" else " or "
        text = "(" + joiner.join(p.text for p in parts) + ")"
        test = _and(preds) if key == "all" else _or(preds)
        return Cond(key, None, text, test, None, tuple(parts))

    def predicate(self, key: str, value: Any) -> Cond:
        method = getattr(self, "_" + key.replace("-", "_"), None)
        if method is None or key.startswith("_") or key not in CONDITIONS:
            raise PlaybookError(f"unknown condition {key!r}; known: {', '.join(CONDITIONS)}")
        return method(value)

    def _all(self, value: Any) -> Cond:
        """Every listed condition holds."""
        return self.combine("all", [self.condition(v) for v in _list(value, "all")])

    def _any(self, value: Any) -> Cond:
        """At least one listed condition holds."""
        return self.combine("any", [self.condition(v) for v in _list(value, "any")])

    def _not(self, value: Any) -> Cond:
        """The condition does not hold."""
        inner = self.condition(value)
        test = inner.test
        return Cond("not", None, f"not {inner.text}", lambda f: not test(f), None, (inner,))

    # signals
    def _situation(self, value: Any) -> Cond:
        """Any of the mention's situations (primary or secondary) is one of these."""
        wanted = _as_set(value, "situation", SITUATIONS)
        return Cond("situation", wanted, f"situation {_words(wanted)}",
                    lambda f: not wanted.isdisjoint(f.signals.situations or (f.signals.situation,)),
                    lambda f: "/".join(f.signals.situations or (f.signals.situation,)))

    def _primary_situation(self, value: Any) -> Cond:
        """The primary situation is one of these."""
        wanted = _as_set(value, "primary_situation", SITUATIONS)
        return Cond("primary_situation", wanted, f"primary situation {_words(wanted)}",
                    lambda f: f.signals.situation in wanted, lambda f: f.signals.situation)

    def _sentiment(self, value: Any) -> Cond:
        """The sentiment label is one of negative, neutral, positive."""
        wanted = _as_set(value, "sentiment", SENTIMENTS)
        return Cond("sentiment", wanted, f"sentiment {_words(wanted)}",
                    lambda f: f.signals.sentiment_label in wanted,
                    lambda f: f.signals.sentiment_label)

    def _sentiment_below(self, value: Any) -> Cond:
        """The sentiment score (-1 … 1) is below this number."""
        limit = _number(value, "sentiment_below")
        return Cond("sentiment_below", limit, f"sentiment < {limit:g}",
                    lambda f: f.signals.sentiment < limit, lambda f: f"{f.signals.sentiment:.2f}")

    def _sentiment_above(self, value: Any) -> Cond:
        """The sentiment score (-1 … 1) is above this number."""
        limit = _number(value, "sentiment_above")
        return Cond("sentiment_above", limit, f"sentiment > {limit:g}",
                    lambda f: f.signals.sentiment > limit, lambda f: f"{f.signals.sentiment:.2f}")

    def _sentiment_between(self, value: Any) -> Cond:
        """The sentiment score is within [low, high], both included."""
        low, high = _range(value, "sentiment_between")
        return Cond("sentiment_between", (low, high), f"sentiment in [{low:g}, {high:g}]",
                    lambda f: low <= f.signals.sentiment <= high,
                    lambda f: f"{f.signals.sentiment:.2f}")

    def _urgency_at_least(self, value: Any) -> Cond:
        """Urgency (0 none … 3 immediate) is at least this."""
        limit = _number(value, "urgency_at_least")
        return Cond("urgency_at_least", limit, f"urgency ≥ {limit:g}",
                    lambda f: f.signals.urgency >= limit, lambda f: str(f.signals.urgency))

    def _urgency_at_most(self, value: Any) -> Cond:
        """Urgency (0 none … 3 immediate) is at most this."""
        limit = _number(value, "urgency_at_most")
        return Cond("urgency_at_most", limit, f"urgency ≤ {limit:g}",
                    lambda f: f.signals.urgency <= limit, lambda f: str(f.signals.urgency))

    def _language(self, value: Any) -> Cond:
        """The detected language (ISO 639-1, 'und' when unknown) is one of these."""
        wanted = _as_set(value, "language")
        return Cond("language", wanted, f"language {_words(wanted)}",
                    lambda f: f.signals.language in wanted, lambda f: f.signals.language)

    def _pii(self, value: Any) -> Cond:
        """true: any PII found; false: none; or a list of PII kinds (card_number, email, …)."""
        if isinstance(value, bool):
            return Cond("pii", value, "PII found" if value else "no PII",
                        lambda f: bool(f.signals.pii) is value,
                        lambda f: ", ".join(f.signals.pii) or "none")
        wanted = _as_set(value, "pii")
        return Cond("pii", wanted, f"PII {_words(wanted)}",
                    lambda f: not wanted.isdisjoint(f.signals.pii),
                    lambda f: ", ".join(f.signals.pii) or "none")

    def _topic(self, value: Any) -> Cond:
        """Any of the mention's products/topics is one of these."""
        wanted = _as_set(value, "topic")
        return Cond("topic", wanted, f"topic {_words(wanted)}",
                    lambda f: not wanted.isdisjoint(f.signals.topics),
                    lambda f: ", ".join(f.signals.topics) or "none")

    # the author
    def _author_class(self, value: Any) -> Cond:
        """The author's class is one of customer, prospect, influencer, journalist, …"""
        wanted = _as_set(value, "author_class", AUTHOR_CLASSES)
        return Cond("author_class", wanted, f"author {_words(wanted)}",
                    lambda f: f.signals.author_class in wanted, lambda f: f.signals.author_class)

    def _followers_at_least(self, value: Any) -> Cond:
        """The author's reach (followers) is at least this."""
        limit = _number(value, "followers_at_least")
        return Cond("followers_at_least", limit, f"reach ≥ {limit:g}",
                    lambda f: f.mention.author.followers >= limit,
                    lambda f: f"{f.mention.author.followers:,}")

    def _followers_below(self, value: Any) -> Cond:
        """The author's reach (followers) is below this."""
        limit = _number(value, "followers_below")
        return Cond("followers_below", limit, f"reach < {limit:g}",
                    lambda f: f.mention.author.followers < limit,
                    lambda f: f"{f.mention.author.followers:,}")

    def _verified(self, value: Any) -> Cond:
        """The channel marks the author verified (true) or not (false)."""
        want = bool(value)
        return Cond("verified", want, "verified" if want else "unverified",
                    lambda f: f.mention.author.verified is want,
                    lambda f: str(f.mention.author.verified).lower())

    def _known_customer(self, value: Any) -> Cond:
        """The author is linked to a CRM customer record (Context.known_customer)."""
        want = bool(value)
        return Cond("known_customer", want, "known customer" if want else "not a known customer",
                    lambda f: f.context.known_customer is want,
                    lambda f: str(f.context.known_customer).lower())

    def _vip(self, value: Any) -> Cond:
        """The author is a VIP (Context.vip)."""
        want = bool(value)
        return Cond("vip", want, "VIP" if want else "not VIP", lambda f: f.context.vip is want,
                    lambda f: str(f.context.vip).lower())

    def _author_in(self, value: Any) -> Cond:
        """The author's handle is in a named list (list:NAME) or is one of the handles given;
        list:NAME also holds when the CRM puts the author on NAME (Context.author_lists)."""
        handles: set[str] = set()
        names: set[str] = set()
        for item in _list(value if isinstance(value, list) else [value], "author_in"):
            if not isinstance(item, str) or not item.strip():
                raise PlaybookError(f"author_in expects handles or list:NAME, got {item!r}")
            if item.startswith("list:"):
                name = item[5:]
                if name not in self.spec.lists:
                    raise PlaybookError(f"unknown list {name!r}; lists: "
                                        f"{', '.join(sorted(self.spec.lists)) or 'none'}")
                self.used_lists.add(name)
                names.add(name)
                handles.update(_handle(h) for h in self.spec.lists[name])
            else:
                handles.add(_handle(item))
        found, lists = frozenset(handles), frozenset(names)
        return Cond("author_in", (found, lists), f"author in {_words(value if isinstance(value, list) else [value])}",
                    lambda f: _handle(f.mention.author.handle) in found
                    or not lists.isdisjoint(f.context.author_lists),
                    lambda f: "@" + f.mention.author.handle)

    # where and what kind of message
    def _channel(self, value: Any) -> Cond:
        """The channel is one of twitter, facebook, instagram, linkedin, reviews, forum, …"""
        from escapevelocity.domain.records import CHANNELS

        wanted = _as_set(value, "channel", CHANNELS)
        return Cond("channel", wanted, f"channel {_words(wanted)}",
                    lambda f: f.mention.channel in wanted, lambda f: f.mention.channel)

    def _kind(self, value: Any) -> Cond:
        """The message type is one of post, reply, dm, review, comment."""
        from escapevelocity.domain.records import KINDS

        wanted = _as_set(value, "kind", KINDS)
        return Cond("kind", wanted, f"message type {_words(wanted)}",
                    lambda f: f.mention.kind in wanted, lambda f: f.mention.kind)

    def _keywords(self, value: Any) -> Cond:
        """Any phrase (or list:NAME) occurs as whole words, ignoring case and accents."""
        phrases: set[str] = set()
        names: list[str] = []
        for item in _list(value if isinstance(value, list) else [value], "keywords"):
            if not isinstance(item, str) or not item.strip():
                raise PlaybookError(f"keywords expects phrases or list:NAME, got {item!r}")
            if item.startswith("list:"):
                name = item[5:]
                if name not in self.spec.lists:
                    raise PlaybookError(f"unknown list {name!r}; lists: "
                                        f"{', '.join(sorted(self.spec.lists)) or 'none'}")
                self.used_lists.add(name)
                phrases.update(fold(p).strip() for p in self.spec.lists[name] if p.strip())
                names.append(item)
            else:
                phrases.add(fold(item).strip())
                names.append(repr(item))
        self.phrases |= phrases
        wanted = frozenset(phrases)
        return Cond("keywords", wanted, f"keywords {', '.join(names)}",
                    lambda f: not wanted.isdisjoint(f.phrases),
                    lambda f: ", ".join(sorted(f.phrases & wanted)) or "none found")

    # time
    def _calendar(self, value: Any, key: str) -> _Hours:
        if value is True or value is False:
            if not self.calendars and not self.spec.calendars:
                raise PlaybookError(f"{key} needs a calendar under 'calendars'")
            name = "default" if "default" in self.spec.calendars else next(
                iter(self.spec.calendars))
        elif isinstance(value, str):
            name = value
        else:
            raise PlaybookError(f"{key} expects true, false or a calendar name, got {value!r}")
        if name not in self.spec.calendars:
            raise PlaybookError(f"unknown calendar {name!r}; calendars: "
                                f"{', '.join(self.spec.calendars) or 'none'}")
        if name not in self.calendars:  # the calendar itself was broken; reported already
            raise PlaybookError(f"calendar {name!r} is invalid")
        return self.calendars[name]

    def _business_hours(self, value: Any) -> Cond:
        """Now is within (true, or a calendar name) or outside (false) business hours."""
        hours = self._calendar(value, "business_hours")
        want = value is not False
        return Cond("business_hours", want,
                    "in business hours" if want else "outside business hours",
                    lambda f: hours.is_open(f.now) is want,
                    lambda f: hours.local(f.now).strftime("%a %H:%M %Z"))

    def _holiday(self, value: Any) -> Cond:
        """Today is (true, or a calendar name) or is not (false) a holiday in the calendar."""
        hours = self._calendar(value, "holiday")
        want = value is not False
        return Cond("holiday", want, "a holiday" if want else "not a holiday",
                    lambda f: hours.is_holiday(f.now) is want,
                    lambda f: hours.local(f.now).strftime("%Y-%m-%d"))

    def _window(self, value: Any) -> Cond:
        """Now is inside one of the named windows (launches, campaigns, maintenance)."""
        wanted = _as_set(value, "window")
        unknown = wanted - set(self.spec.windows)
        if unknown:
            raise PlaybookError(f"unknown window {sorted(unknown)}; windows: "
                                f"{', '.join(self.spec.windows) or 'none'}")
        spans = tuple((_aware(w.start), _aware(w.end)) for n in sorted(wanted)
                      for w in self.spec.windows[n])
        return Cond("window", wanted, f"during {_words(wanted)}",
                    lambda f: any(a <= f.now < b for a, b in spans),
                    lambda f: f.now.isoformat(timespec="minutes"))

    def _weekday(self, value: Any) -> Cond:
        """The day of the week (mon … sun) in the default calendar's time zone (UTC if none)."""
        wanted = _as_set(value, "weekday", DAYS)
        zone = self._zone()
        days = frozenset(DAYS.index(d) for d in wanted)
        return Cond("weekday", wanted, f"on {_words(wanted)}",
                    lambda f: f.now.astimezone(zone).weekday() in days,
                    lambda f: DAYS[f.now.astimezone(zone).weekday()])

    def _zone(self) -> Any:
        from datetime import UTC

        if not self.spec.calendars:
            return UTC
        name = "default" if "default" in self.spec.calendars else next(iter(self.spec.calendars))
        return self.calendars[name].zone if name in self.calendars else UTC

    def _crisis_level(self, value: Any) -> Cond:
        """The workspace's crisis level is one of normal, watch, crisis1, crisis2, crisis3."""
        wanted = _as_set(value, "crisis_level", LEVELS)
        return Cond("crisis_level", wanted, f"crisis level {_words(wanted)}",
                    lambda f: f.context.crisis_level in wanted, lambda f: f.context.crisis_level)

    # history
    def _repeat_author(self, value: Any) -> Cond:
        """true: the author wrote before; a number: at least that many earlier mentions."""
        limit = 1 if value is True else _number(value, "repeat_author")
        return Cond("repeat_author", limit, f"author seen ≥ {limit:g} times",
                    lambda f: f.context.author_history >= limit,
                    lambda f: str(f.context.author_history))

    def _case_history_at_least(self, value: Any) -> Cond:
        """The case already holds at least this many earlier mentions (follow-ups)."""
        limit = _number(value, "case_history_at_least")
        return Cond("case_history_at_least", limit, f"case has ≥ {limit:g} earlier mentions",
                    lambda f: f.context.case_history >= limit,
                    lambda f: str(f.context.case_history))

    def _open_cases_at_least(self, value: Any) -> Cond:
        """The author has at least this many other open cases."""
        limit = _number(value, "open_cases_at_least")
        return Cond("open_cases_at_least", limit, f"author has ≥ {limit:g} open cases",
                    lambda f: f.context.author_open_cases >= limit,
                    lambda f: str(f.context.author_open_cases))

    def _previous_track(self, value: Any) -> Cond:
        """The author's previous case went to one of these tracks."""
        wanted = _as_set(value, "previous_track", tuple(self.spec.tracks))
        return Cond("previous_track", wanted, f"previous case on {_words(wanted)}",
                    lambda f: f.context.previous_track in wanted,
                    lambda f: f.context.previous_track or "none")


def _handle(handle: str) -> str:
    return fold(handle.strip().lstrip("@"))


CONDITIONS = tuple(sorted(
    name[1:] for name, fn in vars(_Compiler).items()
    if name.startswith("_") and not name.startswith("__") and callable(fn)
    and name not in ("_calendar", "_zone")
))


def condition_docs() -> dict[str, str]:
    """Each condition's one-paragraph documentation, from its docstring."""
    return {name: " ".join((getattr(_Compiler, "_" + name).__doc__ or "").split())
            for name in CONDITIONS}


# --- the JSON Schema (playbooks/schema.json is this, checked by a test) -----------------------

_NAMES = {"type": "array", "items": {"type": "string"}, "minItems": 1}


def _condition_schema(name: str) -> dict[str, Any]:
    one_or_many = {"anyOf": [{"type": "string"}, _NAMES]}
    enums = {"situation": SITUATIONS, "primary_situation": SITUATIONS, "sentiment": SENTIMENTS,
             "author_class": AUTHOR_CLASSES, "crisis_level": LEVELS, "weekday": DAYS}
    if name in enums:
        values = list(enums[name])
        return {"anyOf": [{"enum": values}, {"type": "array", "items": {"enum": values},
                                             "minItems": 1}]}
    if name in ("all", "any"):
        return {"type": "array", "items": {"$ref": "#/$defs/Condition"}, "minItems": 1}
    if name == "not":
        return {"$ref": "#/$defs/Condition"}
    if name.endswith(("_at_least", "_at_most", "_below", "_above")):
        return {"type": "number"}
    if name.endswith("_between"):
        return {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
    if name in ("verified", "known_customer", "vip"):
        return {"type": "boolean"}
    if name in ("pii",):
        return {"anyOf": [{"type": "boolean"}, {"type": "string"}, _NAMES]}
    if name in ("business_hours", "holiday"):
        return {"anyOf": [{"type": "boolean"}, {"type": "string"}]}
    if name == "repeat_author":
        return {"anyOf": [{"type": "boolean"}, {"type": "number"}]}
    return one_or_many


def json_schema() -> dict[str, Any]:
    """The playbook format as JSON Schema, from the msgspec specs plus the condition catalogue."""
    schema = msgspec.json.schema(PlaybookSpec)
    docs = condition_docs()
    schema["$defs"]["Condition"] = {
        "title": "Condition",
        "description": "Conditions in one mapping are ANDed; all/any/not combine them.",
        "type": "object",
        "properties": {name: {**_condition_schema(name), "description": docs[name]}
                       for name in CONDITIONS},
        "additionalProperties": False,
    }
    for spec in ("RuleSpec", "SpokeOverride"):
        schema["$defs"][spec]["properties"]["when"] = {"$ref": "#/$defs/Condition",
                                                       "default": {}}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Escape Velocity playbook"
    return schema


def json_schema_text() -> str:
    import json

    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
