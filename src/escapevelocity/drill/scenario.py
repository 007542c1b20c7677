"""The drill scenario format (YAML), validated at load with errors that name the key.

A scenario describes a crisis for a brand: when it starts (a Friday evening before a long
weekend), the normal traffic underneath it, phases with volume curves, personas with message
templates (accurate, misleading and irrelevant posts), injects at set times, and what a good
response looks like (the expected level and the expected track per persona and kind). See
docs/drills.md for the format with an example; scenarios/ holds the shipped ones.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

from escapevelocity.domain import yamlsafe
from escapevelocity.domain.crisis import LEVELS

KINDS = ("accurate", "misleading", "irrelevant")
PERSONAS = ("angry_customer", "journalist", "employee", "misinformation", "troll", "bystander")
KNOWN_AS = ("", "employee", "journalist", "troll", "customer")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")


class DrillError(ValueError):
    """A scenario that cannot be run, with the key that is wrong."""


class Volume(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Crisis mentions per hour over a phase: `start` at its beginning to `end` at its end."""

    start: float
    end: float | None = None  # default: same as start (flat)
    shape: str = "linear"  # linear | exponential (growth or decay between the two)


class Phase(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    start: float  # hours after the scenario's start
    end: float
    volume: Volume
    personas: dict[str, float]  # persona -> weight
    mix: dict[str, float] = msgspec.field(default_factory=lambda: {
        "accurate": 0.6, "misleading": 0.2, "irrelevant": 0.2})
    description: str = ""


class Inject(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A scripted event: at `at` hours (None: only when the director fires it), `burst` extra
    crisis mentions over `over` hours, written by `personas` from `templates` when given."""

    name: str
    at: float | None = None
    description: str = ""
    burst: int = 0
    over: float = 1.0
    personas: dict[str, float] = {}
    mix: dict[str, float] = msgspec.field(default_factory=lambda: {
        "accurate": 0.7, "misleading": 0.2, "irrelevant": 0.1})
    templates: list[str] = []  # posts about the inject itself (kind: accurate)


class Persona(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    templates: dict[str, list[str]]  # kind -> templates
    pool: int = 200  # distinct authors; fewer means more follow-ups from the same people
    followers: tuple[int, int] = (20, 900)
    bio: str = ""
    verified: bool = False
    known_as: str = ""  # added to the sandbox vocabulary's list of this name
    handle: str = "{first}_{last}{n}"


class Regular(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The normal traffic under the crisis (the demo stream's mix), per hour at its mean."""

    per_hour: float = 30.0
    # Relative volume by hour of day (24 values, mean ~1); default: quiet nights, busy evenings.
    profile: list[float] = []


class Expected(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    level: str  # the peak level a good response declares
    detect_within_hours: float = 2.0
    tracks: dict[str, dict[str, str]] = {}  # persona -> kind -> track, during crisis mode


class Responders(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The simulated team: who works the inbox, how long things take."""

    on_duty: list[str] = []  # member ids working from the start (default: all but approvers)
    paged_only: list[str] = []  # on call: they start working only once paged
    crisis_helpers: list[str] = []  # also work the PR team's queue while a crisis level is on
    handle_minutes: dict[str, float] = msgspec.field(default_factory=lambda: {
        "p1": 6, "p2": 8, "p3": 5, "p4": 4})
    approval_minutes: float = 10.0
    statement_after_minutes: float = 45.0  # a holding statement is approved this long after paging
    stand_down_after: float | None = None  # hours after start; None: at the end


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    title: str
    start: datetime  # normalised to UTC at load; `timezone` is for showing local times
    duration_hours: float
    keywords: list[str]  # what the crisis is about: the overlay routes these to the crisis team
    personas: dict[str, Persona]
    phases: list[Phase]
    expected: Expected
    description: str = ""
    seed: int = 7
    history_days: int = 14  # normal traffic the detectors learn before the drill starts
    regular: Regular = Regular()
    variables: dict[str, list[str]] = {}
    injects: list[Inject] = []
    responders: Responders = Responders()
    timezone: str = "Europe/London"

    @property
    def onset_hours(self) -> float:
        """When crisis traffic begins: the first phase's start."""
        return min(p.start for p in self.phases)

    def inject(self, name: str) -> Inject:
        for i in self.injects:
            if i.name == name:
                return i
        raise DrillError(f"no inject {name!r}; injects: {', '.join(i.name for i in self.injects)}")


def _fail(path: str, message: str) -> DrillError:
    return DrillError(f"{path}: {message}")


def validate(s: Scenario) -> Scenario:
    if not _NAME.match(s.name):
        raise _fail("$.name", "lower-case letters, digits, - and _ only")
    if s.start.tzinfo is None:
        raise _fail("$.start", "give a timezone, e.g. 2026-11-20T18:00:00+00:00")
    if s.duration_hours <= 0 or s.duration_hours > 24 * 14:
        raise _fail("$.duration_hours", "between 0 and 336 hours")
    if s.expected.level not in LEVELS:
        raise _fail("$.expected.level", f"one of {', '.join(LEVELS)}")
    if not s.keywords:
        raise _fail("$.keywords", "name at least one word the crisis is about")
    for name, p in s.personas.items():
        where = f"$.personas.{name}"
        if name not in PERSONAS:
            raise _fail(where, f"unknown persona; personas: {', '.join(PERSONAS)}")
        if p.known_as not in KNOWN_AS:
            raise _fail(where + ".known_as", f"one of {', '.join(k for k in KNOWN_AS if k)}")
        bad = set(p.templates) - set(KINDS)
        if bad or not any(p.templates.values()):
            raise _fail(where + ".templates", f"kinds are {', '.join(KINDS)}, with templates")
        for kind, texts in p.templates.items():
            for i, text in enumerate(texts):
                _check_slots(text, s.variables, f"{where}.templates.{kind}[{i}]")
    for i, ph in enumerate(s.phases):
        where = f"$.phases[{i}]"
        if not 0 <= ph.start < ph.end <= s.duration_hours:
            raise _fail(where, "needs 0 <= start < end <= duration_hours")
        if ph.volume.shape not in ("linear", "exponential"):
            raise _fail(where + ".volume.shape", "linear or exponential")
        if ph.volume.start < 0 or (ph.volume.end or 0) < 0:
            raise _fail(where + ".volume", "mentions per hour cannot be negative")
        _check_weights(ph.personas, s, where + ".personas")
        _check_mix(ph.mix, where + ".mix")
    for i, inj in enumerate(s.injects):
        where = f"$.injects[{i}]"
        if inj.at is not None and not 0 <= inj.at <= s.duration_hours:
            raise _fail(where + ".at", "within the scenario's duration")
        if inj.burst and not inj.personas:
            raise _fail(where + ".personas", "a burst needs personas to write it")
        _check_weights(inj.personas, s, where + ".personas")
        _check_mix(inj.mix, where + ".mix")
        for j, text in enumerate(inj.templates):
            _check_slots(text, s.variables, f"{where}.templates[{j}]")
    for persona, kinds in s.expected.tracks.items():
        if persona not in s.personas:
            raise _fail(f"$.expected.tracks.{persona}", "not a persona of this scenario")
        bad = set(kinds) - set(KINDS)
        if bad:
            raise _fail(f"$.expected.tracks.{persona}", f"kinds are {', '.join(KINDS)}")
    if s.regular.profile and len(s.regular.profile) != 24:
        raise _fail("$.regular.profile", "24 values, one per hour of the day")
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail("$.timezone", "an IANA zone such as Europe/London") from None
    return msgspec.structs.replace(s, start=s.start.astimezone(UTC))


def _check_weights(weights: dict[str, float], s: Scenario, where: str) -> None:
    for name, w in weights.items():
        if name not in s.personas:
            raise _fail(f"{where}.{name}", "not a persona of this scenario")
        if w < 0:
            raise _fail(f"{where}.{name}", "weights cannot be negative")


def _check_mix(mix: dict[str, float], where: str) -> None:
    bad = set(mix) - set(KINDS)
    if bad or sum(mix.values()) <= 0:
        raise _fail(where, f"weights for {', '.join(KINDS)}")


_SLOT = re.compile(r"\{(\w+)\}")
BUILTIN_SLOTS = ("first", "last", "n", "hour", "brand")


def _check_slots(text: str, variables: dict[str, list[str]], where: str) -> None:
    for slot in _SLOT.findall(text):
        if slot not in variables and slot not in BUILTIN_SLOTS:
            raise _fail(where, f"unknown variable {{{slot}}}; define it under variables")


def load(source: str | Path) -> Scenario:
    """A scenario from YAML text, a file path, or the name of a shipped scenario."""
    text: str
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source):
        path = Path(source)
        if path.is_file():
            text = path.read_text(encoding="utf-8")
        else:
            shipped = files("escapevelocity.drill").joinpath("scenarios", f"{source}.yaml")
            if not shipped.is_file():
                raise DrillError(f"no scenario {source!r}; shipped: {', '.join(shipped_names())}")
            text = shipped.read_text(encoding="utf-8")
    else:
        text = source
    try:
        raw: Any = yamlsafe.load(text)
    except yaml.YAMLError as exc:
        raise DrillError(f"not YAML: {exc}") from None
    try:
        return validate(msgspec.convert(raw, Scenario))
    except msgspec.ValidationError as exc:
        raise DrillError(str(exc)) from None


def shipped_names() -> list[str]:
    folder = files("escapevelocity.drill").joinpath("scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


# --- the playbook's crisis overlay for a drill --------------------------------------------------

def crisis_overlay(s: Scenario) -> dict[str, Any]:
    """The overlay a drill adds when the sandbox playbook has none: while a crisis level is
    active, trolls and bots are only watched, journalists and misinformation go to PR, posts
    about the crisis go to the crisis track (PR, Legal approves); everything else falls
    through to the normal rules, so regular customers keep their tracks."""
    return {"crisis": {
        "description": f"crisis mode for the drill {s.name}",
        "rules": [
            {"id": "crisis-ignore-bots-trolls",
             "when": {"any": [{"author_class": ["troll", "bot"]}, {"situation": "spam"}]},
             "then": {"track": "monitor", "respond": False, "reason": "troll",
                      "tags": ["crisis"]}},
            {"id": "crisis-employee",
             "when": {"author_class": "employee"},
             "then": {"track": "monitor", "respond": False, "reason": "monitor_only",
                      "notify": ["pr-oncall"], "tags": ["crisis", "employee"]}},
            {"id": "crisis-press",
             "when": {"author_class": "journalist"},
             "then": {"track": "pr", "template": "press", "approval": "legal",
                      "notify": ["pr-oncall"], "tags": ["crisis", "press"]}},
            {"id": "crisis-misinformation",
             "when": {"situation": "misinformation"},
             "then": {"track": "pr", "approval": "legal", "tags": ["crisis", "misinformation"]}},
            {"id": "crisis-topic",
             "when": {"keywords": ["list:crisis_terms"]},
             "then": {"track": "crisis", "template": "safety", "visibility": "private",
                      "tags": ["crisis"]}},
        ]}}


def with_overlay(playbook_yaml: str, s: Scenario) -> str:
    """The playbook with the scenario's crisis terms and, if it has none, the crisis overlay."""
    spec = yamlsafe.load(playbook_yaml)
    spec.setdefault("lists", {})["crisis_terms"] = list(s.keywords)
    overlays = spec.setdefault("overlays", {})
    if not overlays.get("crisis"):
        overlays.update(crisis_overlay(s))
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
