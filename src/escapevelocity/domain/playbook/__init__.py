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

Where things live: spec.py (the format: msgspec specs and vocabularies), errors.py
(PlaybookError, YAML line lookup), facts.py (Context, Facts, Cond, the signal cell), decide.py
(Playbook.decide and explain), conditions.py and time_conditions.py (the condition catalogue),
compiler.py (document checks, CONDITIONS), load.py (compile/validate/load), schema.py (JSON
Schema). Import from this package; the modules are its inside.
"""

from escapevelocity.domain.playbook.compiler import CONDITIONS, condition_docs, version_of
from escapevelocity.domain.playbook.decide import (
    Check,
    Explanation,
    Playbook,
    Rule,
    Step,
    activation_approval,
)
from escapevelocity.domain.playbook.errors import PlaybookError
from escapevelocity.domain.playbook.errors import _Lines as _Lines  # for playbook_check.py
from escapevelocity.domain.playbook.facts import (
    Cell,
    Cond,
    Context,
    Facts,
    Predicate,
    fold,
    new_automaton,
    tri,
)
from escapevelocity.domain.playbook.load import (
    compile_playbook,
    default_playbook_path,
    load_playbook,
    validate_playbook,
)
from escapevelocity.domain.playbook.schema import json_schema, json_schema_text
from escapevelocity.domain.playbook.spec import (
    AUTHOR_CLASSES,
    CRISIS_LEVELS,
    LEVELS,
    NO_RESPONSE_REASONS,
    PRIORITIES,
    SENTIMENTS,
    SITUATIONS,
    Calendar,
    CrisisOverlay,
    Overlays,
    PlaybookSpec,
    RuleSpec,
    Sla,
    SpokeOverride,
    Then,
    Track,
    Window,
)
from escapevelocity.domain.playbook.time_conditions import DAYS
from escapevelocity.domain.playbook.time_conditions import (  # for domain/calendar.py
    _compile_calendar as _compile_calendar,
)

__all__ = [
    "AUTHOR_CLASSES", "CONDITIONS", "CRISIS_LEVELS", "DAYS", "LEVELS", "NO_RESPONSE_REASONS",
    "PRIORITIES", "SENTIMENTS", "SITUATIONS", "Calendar", "Cell", "Check", "Cond", "Context",
    "CrisisOverlay", "Explanation", "Facts", "Overlays", "Playbook", "PlaybookError",
    "PlaybookSpec", "Predicate", "Rule", "RuleSpec", "Sla", "SpokeOverride", "Step", "Then",
    "Track", "Window", "activation_approval", "compile_playbook", "condition_docs",
    "default_playbook_path", "fold", "json_schema", "json_schema_text", "load_playbook",
    "new_automaton", "tri", "validate_playbook", "version_of",
]
