"""The condition catalogue: each `when` key compiles to a `Cond` (a closure plus what it was
made from). Conditions over time (calendars, windows, weekdays) are in time_conditions.py; the
compiler (compiler.py) puts the catalogue together with the document checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from escapevelocity.domain.playbook.errors import PlaybookError
from escapevelocity.domain.playbook.facts import Cond, Predicate, fold
from escapevelocity.domain.playbook.spec import (
    AUTHOR_CLASSES,
    LEVELS,
    SENTIMENTS,
    SITUATIONS,
    PlaybookSpec,
)


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


class _Conditions:
    """Turns `when` mappings into Cond trees of closures. Keys in one mapping are ANDed.

    Every condition is a method `_name(value) -> Cond`; its docstring is its documentation
    (docs/playbook.md and the JSON schema are checked against them).
    """

    spec: PlaybookSpec
    phrases: set[str]
    used_lists: set[str]

    if TYPE_CHECKING:
        def predicate(self, key: str, value: Any) -> Cond: ...  # compiler.py

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
        listed = value if isinstance(value, list) else [value]
        return Cond("author_in", (found, lists), f"author in {_words(listed)}",
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

    # the workspace
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
