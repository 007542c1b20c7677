"""The search query: what a member asks of cases and mentions, as one value.

A query is read from a URL query string (`parse`) and written back to one (`params`), so every
search, every page of it and every saved view is a link. Only known filter values pass: a
channel, state or label the vocabulary does not have is dropped with a note for the page
(`Query.problems`), never sent to the database. Free text is split into words and each word
quoted for the full-text engines (`words`), so a mention's operators (`NEAR`, `*`, `"`, `:`)
are searched as text, never run. Pure: the store (adapters/store/search.py) turns a Query into
SQL, the web layer into a page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta

from escapevelocity.domain.cases import STATES
from escapevelocity.domain.playbook.spec import AUTHOR_CLASSES, PRIORITIES, SENTIMENTS, SITUATIONS
from escapevelocity.domain.records import CHANNELS

SLA_STATES = ("breached", "due_soon", "on_time", "no_sla", "answered")
# "Due soon": within this much of the SLA deadline, not yet answered.
DUE_SOON = timedelta(hours=1)
SHOW = ("cases", "mentions")
MAX_TEXT = 200
MAX_WORDS = 8
PAGE_SIZES = (50, 100, 200)
# How far a search looks. Counting covers the newest COUNT_WINDOW hits of the words (or cases,
# without words) and says "more" past it; pages look as far as SEARCH_WINDOW hits. A common
# word over a million mentions has hundreds of thousands of hits: reading them all to count
# them cost seconds, and nobody pages that far (narrow the words, filters or dates instead).
COUNT_WINDOW = 1_000
SEARCH_WINDOW = 100_000
# Without words, a search looks at the newest CASE_WINDOW cases in sight: filters that match
# nothing there would otherwise read every case to say so.
CASE_WINDOW = 10_000
_WORD = re.compile(r"[^\W_]+\*?", re.UNICODE)
_NAME = re.compile(r"^[\w .,'()&/+-]{1,80}$", re.UNICODE)
_ID = re.compile(r"^[a-z0-9_.-]{1,64}$")
_TAG = re.compile(r"^[a-z0-9_:.-]{1,64}$")

# Which value list checks which filter (status is the case state).
CHOICES: dict[str, tuple[str, ...]] = {
    "channel": CHANNELS, "status": ("open", *STATES), "situation": SITUATIONS,
    "sentiment": SENTIMENTS, "author_class": AUTHOR_CLASSES, "priority": PRIORITIES,
    "sla": SLA_STATES, "show": SHOW,
}
LABELS = {"channel": "channel", "status": "status", "situation": "situation",
          "sentiment": "sentiment", "author_class": "author", "tag": "tag", "team": "team",
          "assignee": "assignee", "priority": "priority", "sla": "SLA", "since": "from",
          "until": "to"}


@dataclass(frozen=True)
class Query:
    """One search. Empty strings mean "any"; `since`/`until` are whole UTC days, inclusive."""

    text: str = ""
    channel: str = ""
    status: str = ""
    situation: str = ""
    sentiment: str = ""
    author_class: str = ""
    tag: str = ""
    team: str = ""
    assignee: str = ""
    priority: str = ""
    sla: str = ""
    since: date | None = None
    until: date | None = None
    show: str = "cases"
    page: int = 1
    per_page: int = 50
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def filters(self) -> dict[str, str]:
        """The set filters, by name (for the page's chips and a saved view's summary)."""
        out = {}
        for name in LABELS:
            value = getattr(self, name)
            if value:
                out[name] = value.isoformat() if isinstance(value, date) else value
        return out

    @property
    def empty(self) -> bool:
        return not self.text and not self.filters

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def words(self) -> list[str]:
        return words(self.text)

    def at_page(self, page: int) -> Query:
        return replace(self, page=max(1, page))


def words(text: str) -> list[str]:
    """The searchable words of `text`, lower-cased, at most MAX_WORDS: letters and digits only,
    so nothing a person types can become a full-text operator. A word may end in `*` (any
    word that starts so: "refun*"); a prefix of fewer than 3 letters is taken as a word."""
    out = []
    for w in _WORD.findall(text[:MAX_TEXT]):
        w = w.lower()
        if w.endswith("*") and len(w) < 4:
            w = w[:-1]
        out.append(w)
    return out[:MAX_WORDS]


def _split(w: str) -> tuple[str, bool]:
    return (w[:-1], True) if w.endswith("*") else (w, False)


def fts5_match(text: str) -> str:
    """An SQLite FTS5 MATCH expression: every word a quoted string (all must occur), a
    prefix where the word ended in `*`."""
    out = []
    for w in words(text):
        word, prefix = _split(w)
        out.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(out)


def tsquery(text: str) -> str:
    """A PostgreSQL to_tsquery('simple', ...) text: the words joined by &, `:*` for a prefix.
    Words are letters and digits only (see `words`), so no tsquery operator gets through."""
    out = []
    for w in words(text):
        word, prefix = _split(w)
        out.append(word + (":*" if prefix else ""))
    return " & ".join(out)


def parse(params: Mapping[str, str]) -> Query:
    """A Query from URL parameters; unknown values are dropped and named in `problems`."""
    problems: list[str] = []
    values: dict[str, object] = {}
    text = str(params.get("q", ""))[:MAX_TEXT].strip()
    values["text"] = text
    for name, choices in CHOICES.items():
        raw = str(params.get(name, "")).strip()
        if raw and raw not in choices:
            problems.append(f"no {LABELS.get(name, name)} called {raw[:40]!r}")
            raw = ""
        if raw:
            values[name] = raw
    for name, pattern in (("team", _ID), ("assignee", _ID), ("tag", _TAG)):
        raw = str(params.get(name, "")).strip().lower()
        if raw and not pattern.match(raw):
            problems.append(f"{LABELS[name]} {raw[:40]!r} is not a valid name")
            raw = ""
        values[name] = raw
    for name in ("since", "until"):
        raw = str(params.get(name, "")).strip()
        if raw:
            try:
                values[name] = date.fromisoformat(raw[:10])
            except ValueError:
                problems.append(f"{LABELS[name]} date {raw[:20]!r} is not YYYY-MM-DD")
    values["page"] = _int(params.get("page"), 1, 1, 10_000)
    per = _int(params.get("per_page"), 50, 1, 200)
    values["per_page"] = per if per in PAGE_SIZES else 50
    return Query(**values, problems=tuple(problems))  # type: ignore[arg-type]


def params(q: Query, *, page: int | None = None, keep_page: bool = False) -> dict[str, str]:
    """The URL parameters that give back `q` (only what is set, so links stay short)."""
    out: dict[str, str] = {}
    if q.text:
        out["q"] = q.text
    out.update(q.filters)
    if q.show != "cases":
        out["show"] = q.show
    if q.per_page != 50:
        out["per_page"] = str(q.per_page)
    p = page if page is not None else (q.page if keep_page else 1)
    if p != 1:
        out["page"] = str(p)
    return out


def day_range(q: Query) -> tuple[datetime | None, datetime | None]:
    """[start, end) instants of the date filter: `until` is inclusive of its whole day."""
    start = datetime.combine(q.since, time(), tzinfo=UTC) if q.since else None
    end = datetime.combine(q.until, time(), tzinfo=UTC) + timedelta(days=1) if q.until else None
    return start, end


def valid_view_name(name: str) -> str:
    """A saved view's name, trimmed; ValueError when it is empty or has odd characters."""
    name = " ".join(name.split())
    if not _NAME.match(name):
        raise ValueError("a view's name is 1 to 80 letters, digits, spaces or .,'()&/+-")
    return name


def summary(q: Query) -> str:
    """One line saying what the query asks, for a saved view's list entry."""
    parts = [f'"{q.text}"'] if q.text else []
    parts += [f"{LABELS[k]}: {v.replace('_', ' ')}" for k, v in q.filters.items()]
    return ", ".join(parts) or "everything"


def _int(raw: object, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(str(raw))))
    except (TypeError, ValueError):
        return default


FIELDS = tuple(f.name for f in fields(Query))
