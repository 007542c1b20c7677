"""What a decision may depend on (`Context`, `Facts`), the compiled condition (`Cond`), and the
finite signal cell (`Cell`, `tri`) that per-cell decision plans reason over; keyword folding and
the Aho-Corasick automaton that finds keyword phrases."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC as _UTC
from datetime import datetime
from typing import Any

import ahocorasick

from escapevelocity.domain.records import Mention, Signals

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


@dataclass(frozen=True, slots=True)
class Cell:
    """One point of the finite signal space that static reasoning works over."""

    situation: str  # the primary situation
    situations: tuple[str, ...]  # every situation present, the primary included
    sentiment: str
    author_class: str
    channel: str
    kind: str


_CELL_KEYS = {"primary_situation": "situation", "sentiment": "sentiment",
              "author_class": "author_class", "channel": "channel", "kind": "kind"}


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


class _FoldTable(dict):
    """str.translate table for `fold` done per character (case fold, NFKD, no combining
    marks), filled as characters are met. The same result as folding the whole text (NFKD
    only reorders combining marks, which are dropped), without a generator over every
    character of every non-ASCII post."""

    def __missing__(self, codepoint: int) -> str:
        decomposed = unicodedata.normalize("NFKD", chr(codepoint).casefold())
        folded = "".join(c for c in decomposed if not unicodedata.combining(c))
        if len(self) < 65_536:  # bounded: hostile text may carry every code point there is
            self[codepoint] = folded
        return folded


FOLD_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Case and accent folding so that 'Café' matches 'cafe' in keyword rules."""
    if text.isascii():
        return text.lower()
    return text.translate(FOLD_TABLE)


def new_automaton(phrases: set[str]) -> Any:
    if not phrases:
        return None
    automaton = ahocorasick.Automaton()
    for phrase in phrases:
        automaton.add_word(phrase, (phrase, len(phrase)))
    automaton.make_automaton()
    return automaton
