"""A realistic synthetic mention stream for the demo, benchmarks and tests.

Everything comes from the project's own templates (demo/templates.yaml) for a fictional
brand, Orbit Telecom: complaints (many without an angry word), questions, praise, ideas, sales
leads, spam, off-topic posts, venting, safety scares, legal threats, misinformation, posts
with account and card numbers, foreign-language posts; written by ordinary and known
customers, influencers, journalists, employees, a troll, bots, a competitor and a partner;
with bystander replies, follow-ups minutes later by the same author, a few re-deliveries
(the same channel and source id twice) and a few hostile payloads in text and author names.

Deterministic for a seed. `generate` yields Mentions; `generate_labelled` yields the same
stream with the ground truth the templates carry (situation, persona, family), for evaluation.
"""

from __future__ import annotations

import csv
import heapq
import random
import re
from bisect import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from itertools import accumulate
from pathlib import Path
from typing import Any

import msgspec
import yaml

from escapevelocity.domain.records import Author, Mention

DEFAULT_CHANNELS = {"twitter": 62, "facebook": 14, "instagram": 10, "reviews": 6, "forum": 8}
CHANNEL_PREFIX = {"twitter": "tw", "facebook": "fb", "instagram": "ig", "reviews": "rv",
                  "forum": "fo", "linkedin": "li", "email": "em", "web": "wb"}
DM_CHANNELS = ("twitter", "facebook", "instagram")
REVIEWABLE = frozenset({"complaint", "praise", "feedback", "legal", "spam"})
NO_DM = frozenset({"spam", "troll", "competitor", "partner", "employee", "misinformation",
                   "off_topic", "venting", "influencer"})
PERSONA_OF = {"bots": "bot", "journalists": "journalist", "employees": "employee",
              "trolls": "troll", "competitors": "competitor", "partners": "partner",
              "influencers": "influencer", "customers": "customer"}
FOLLOW_UP_KINDS = (("waiting", 60), ("resolved", 15), ("angrier", 15), ("again", 10))

REDELIVERY_SHARE = 0.005  # channels retry: the same item delivered twice
BYSTANDER_SHARE = 0.05  # someone else replies under an earlier post
FOLLOW_UP_SHARE = 0.14  # of customers' complaints and questions: the author comes back
RECURRING_SHARE = 0.35  # of customer posts written by a customer who posts again and again
RECURRING_POOL = 400

_SLOT = re.compile(r"\{(\w+)\}")


class Labelled(msgspec.Struct, frozen=True):
    """A generated mention with the ground truth its template carries."""

    mention: Mention
    situation: str  # complaint, question, praise, feedback, lead, spam, off_topic, venting,
    #                 crisis, legal, misinformation, other
    persona: str  # customer, influencer, journalist, employee, troll, bot, competitor, partner
    family: str  # the template family, or follow_up / bystander
    redelivery: bool = False  # a second delivery of an earlier mention


# --- material ------------------------------------------------------------------------------------

Parts = tuple[str, ...]  # literal, slot, literal, slot, …, literal


@dataclass(frozen=True)
class _Template:
    parts: Parts
    situation: str
    lang: str


@dataclass(frozen=True)
class _Family:
    name: str
    situation: str
    persona: str  # key of `personas` in the material; "customers" by default
    channels: tuple[str, ...]
    channel_cum: tuple[float, ...]
    dm: float
    burst: float
    hostile_name: float
    templates: tuple[_Template, ...]


@dataclass(frozen=True)
class _Material:
    families: tuple[_Family, ...]
    family_cum: tuple[float, ...]
    slots: dict[str, tuple[Parts, ...]]
    follow_ups: dict[str, tuple[Parts, ...]]
    bystander: dict[str, tuple[Parts, ...]]
    hostile_names: tuple[str, ...]
    names: dict[str, tuple[str, ...]]
    personas: dict[str, tuple[Author, ...]]
    style: dict[str, Any]


def _parts(text: str) -> Parts:
    return tuple(_SLOT.split(str(text)))


def _cum(weights: dict[str, float]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    return tuple(weights), tuple(accumulate(float(w) for w in weights.values()))


@cache
def material() -> _Material:
    raw = yaml.safe_load(files("escapevelocity.demo").joinpath("templates.yaml").read_text("utf-8"))
    families = []
    for name, spec in raw["families"].items():
        templates = []
        for t in spec["templates"]:
            t = t if isinstance(t, dict) else {"t": t}
            templates.append(_Template(_parts(t["t"]), t.get("situation", spec["situation"]),
                                       t.get("lang", "en")))
        channels, cum = _cum(spec.get("channels") or DEFAULT_CHANNELS)
        families.append(_Family(name, spec["situation"], spec.get("persona", "customers"),
                                channels, cum, float(spec.get("dm", 0.02)),
                                float(spec.get("burst", 0)), float(spec.get("hostile_name", 0)),
                                tuple(templates)))
    personas = {key: tuple(Author(handle=p["handle"], name=p.get("name", ""),
                                  followers=p.get("followers", 0),
                                  verified=p.get("verified", False), bio=p.get("bio", ""))
                           for p in people)
                for key, people in raw["personas"].items()}
    style = dict(raw["style"])
    style["media"] = tuple(_parts(m) for m in style["media"])
    return _Material(
        families=tuple(families),
        family_cum=tuple(accumulate(float(raw["families"][f.name]["weight"]) for f in families)),
        slots={k: tuple(_parts(v) for v in vs) for k, vs in raw["slots"].items()},
        follow_ups={k: tuple(_parts(v) for v in vs) for k, vs in raw["follow_ups"].items()},
        bystander={k: tuple(_parts(v) for v in vs) for k, vs in raw["bystander_replies"].items()},
        hostile_names=tuple(raw["hostile_names"]),
        names={k: tuple(v) for k, v in raw["names"].items()},
        personas=personas,
        style=style,
    )


# --- the stream ----------------------------------------------------------------------------------

class _Stream:
    def __init__(self, seed: int, start: datetime, mean_gap: float) -> None:
        self.rnd = random.Random(seed)
        self.at = start
        self.mean_gap = mean_gap
        self.m = material()
        self.counters: dict[str, int] = {}
        self.recent: list[Labelled] = []  # root posts: targets for replies and re-deliveries
        self.pending: list[tuple[datetime, int, str, Labelled]] = []  # follow-ups and bursts
        self.seq = 0
        # customers who post again and again: the known ones (CRM) and a pool of regulars
        self.regulars = list(self.m.personas["customers"]) + [
            self._new_customer() for _ in range(RECURRING_POOL)]

    # --- pieces ----------------------------------------------------------------------------------

    def _fill(self, parts: Parts, depth: int = 0) -> str:
        if len(parts) == 1:
            return parts[0]
        choice, slots = self.rnd.choice, self.m.slots
        out = [parts[0]]
        for i in range(1, len(parts), 2):
            values = slots.get(parts[i])
            if values is None:  # not a slot: keep the braces (hostile payloads use them)
                out.append("{" + parts[i] + "}")
            else:
                value = choice(values)
                out.append(self._fill(value, depth + 1) if len(value) > 1 and depth < 3
                           else value[0])
            out.append(parts[i + 1])
        return "".join(out)

    def _next_id(self, channel: str) -> str:
        n = self.counters.get(channel, 0) + 1
        self.counters[channel] = n
        return f"{CHANNEL_PREFIX.get(channel, channel[:2])}-{n:07d}"

    def _tick(self) -> datetime:
        self.at += timedelta(seconds=self.rnd.expovariate(1 / self.mean_gap))
        return self.at

    def _new_customer(self) -> Author:
        rnd, names = self.rnd, self.m.names
        first, last = rnd.choice(names["first"]), rnd.choice(names["last"])
        style = rnd.random()
        if style < 0.35:
            handle = f"{first.lower()}{last.lower()[:4]}{rnd.randint(1, 99)}"
        elif style < 0.55:
            handle = f"{first.lower()}_{last.lower()}{rnd.randint(1, 9999)}"
        elif style < 0.8:
            handle = f"{rnd.choice(names['words'])}{first.lower()}{rnd.randint(10, 999)}"
        else:
            handle = f"{first[0].lower()}{last.lower()}_{rnd.randint(1970, 2009)}"
        name = f"{first} {last}" if rnd.random() < 0.8 else first
        followers = min(int(rnd.lognormvariate(4.6, 1.4)), 9_000)
        return Author(handle=handle, name=name, followers=followers)

    def _customer(self) -> Author:
        if self.rnd.random() < RECURRING_SHARE:
            return self.rnd.choice(self.regulars)
        return self._new_customer()

    def _style(self, text: str, situation: str, channel: str, kind: str) -> str:
        rnd, style = self.rnd, self.m.style
        group = situation if situation in ("complaint", "venting", "praise") else "neutral"
        r = rnd.random
        if situation in ("complaint", "venting") and r() < 0.08:
            text = text.upper()
        if situation in ("complaint", "question", "crisis") and r() < 0.12:
            text = text.rstrip(".!?") + rnd.choice(style["shouting"])
        if r() < 0.25:
            text = f"{text} {rnd.choice(style['emoji'].get(group) or style['emoji']['neutral'])}"
        if channel in ("twitter", "instagram") and r() < 0.2:
            tags = style["hashtags"].get(group) or style["hashtags"]["neutral"]
            text = f"{text} {rnd.choice(tags)}"
        if situation in ("complaint", "crisis") and r() < 0.06:
            text = f"{text} {self._fill(rnd.choice(style['media']))}"
        if kind == "review":
            stars = style["stars"].get(group) or style["stars"]["neutral"]
            return f"{rnd.choice(stars)} {text}"
        tag_brand = 0.3 if situation in ("venting", "off_topic") else 0.55
        if kind != "dm" and channel in ("twitter", "instagram", "facebook") and \
                text[:1] != "@" and r() < tag_brand:
            text = f"{rnd.choice(style['brand_mentions'])} {text}"
        return text

    def _url(self, channel: str, handle: str, source_id: str, kind: str) -> str:
        if kind == "dm":
            return ""
        if channel == "twitter":
            return f"https://twitter.example/{handle}/status/{source_id}"
        if channel == "reviews":
            return f"https://reviews.example/orbit-telecom/{source_id}"
        if channel == "forum":
            return f"https://community.orbit.example/t/{source_id}"
        return f"https://{channel}.example/orbittelecom/posts/{source_id}"

    def _pick(self, names: tuple[str, ...], cum: tuple[float, ...]) -> str:
        return names[bisect(cum, self.rnd.random() * cum[-1])]

    def _schedule(self, after_minutes: tuple[float, float], what: str, parent: Labelled) -> None:
        due = self.at + timedelta(minutes=self.rnd.uniform(*after_minutes))
        self.seq += 1
        heapq.heappush(self.pending, (due, self.seq, what, parent))

    def _remember(self, item: Labelled) -> None:
        self.recent.append(item)
        if len(self.recent) > 400:
            del self.recent[:200]

    # --- items -----------------------------------------------------------------------------------

    def next(self, duplicates: bool) -> Labelled:
        rnd = self.rnd
        if duplicates and self.recent and rnd.random() < REDELIVERY_SHARE:
            return msgspec.structs.replace(rnd.choice(self.recent), redelivery=True)
        at = self._tick()
        if self.pending and self.pending[0][0] <= at:
            _, _, what, parent = heapq.heappop(self.pending)
            return self._troll_again(parent) if what == "burst" else self._follow_up(what, parent)
        if self.recent and rnd.random() < BYSTANDER_SHARE:
            return self._bystander_reply()
        return self._post()

    def _post(self, family: _Family | None = None, author: Author | None = None,
              burst: bool = True) -> Labelled:
        rnd, m = self.rnd, self.m
        if family is None:
            family = m.families[bisect(m.family_cum, rnd.random() * m.family_cum[-1])]
        template = rnd.choice(family.templates)
        situation = template.situation
        if author is None:
            if family.persona == "customers":
                author = self._customer()
            else:
                author = rnd.choice(m.personas[family.persona])
        if family.hostile_name and rnd.random() < family.hostile_name:
            author = Author(handle=author.handle, name=rnd.choice(m.hostile_names),
                            followers=author.followers)
        channel = self._pick(family.channels, family.channel_cum)
        if channel == "reviews" and situation not in REVIEWABLE:
            channel = "twitter"
        kind = "review" if channel == "reviews" else "post"
        if kind == "post" and channel in ("facebook", "instagram") and rnd.random() < 0.35:
            kind = "comment"
        if family.name not in NO_DM and rnd.random() < family.dm:
            kind = "dm"
            if channel not in DM_CHANNELS:
                channel = "twitter"
        text = self._style(self._fill(template.parts), situation, channel, kind)
        source_id = self._next_id(channel)
        mention = Mention(source_id=source_id, channel=channel, text=text, author=author,
                          created_at=self.at, kind=kind,
                          url=self._url(channel, author.handle, source_id, kind),
                          lang=template.lang if channel == "twitter" else "")
        item = Labelled(mention, situation, PERSONA_OF[family.persona], family.name)
        self._remember(item)
        if item.persona in ("customer", "influencer") and \
                situation in ("complaint", "question", "crisis") and \
                rnd.random() < FOLLOW_UP_SHARE:
            self._schedule((2, 45), self._pick(*_FOLLOW_UP_CUM), item)
        if burst and family.burst and rnd.random() < family.burst:
            for _ in range(rnd.randint(1, 3)):
                self._schedule((0.5, 12), "burst", item)
        return item

    def _reply(self, parent: Labelled, text: str, author: Author, situation: str,
               persona: str, family: str) -> Labelled:
        p = parent.mention
        kind = "dm" if p.kind == "dm" else "reply"
        source_id = self._next_id(p.channel)
        mention = Mention(source_id=source_id, channel=p.channel, text=text, author=author,
                          created_at=self.at, kind=kind, in_reply_to=p.source_id,
                          thread_id=p.thread_id or p.source_id,
                          url=self._url(p.channel, author.handle, source_id, kind),
                          lang=p.lang if p.channel == "twitter" else "")
        return Labelled(mention, situation, persona, family)

    def _follow_up(self, what: str, parent: Labelled) -> Labelled:
        text = self._fill(self.rnd.choice(self.m.follow_ups[what]))
        situation = {"resolved": "praise", "angrier": "complaint"}.get(what, parent.situation)
        if what == "again":  # a new post, not a reply: threaded only by its author
            p = parent.mention
            kind = "dm" if p.kind == "dm" else ("post" if p.kind == "reply" else p.kind)
            source_id = self._next_id(p.channel)
            mention = Mention(source_id=source_id, channel=p.channel, text=text,
                              author=p.author, created_at=self.at, kind=kind,
                              url=self._url(p.channel, p.author.handle, source_id, kind),
                              lang=p.lang)
            item = Labelled(mention, situation, parent.persona, "follow_up")
        else:
            item = self._reply(parent, text, parent.mention.author, situation, parent.persona,
                               "follow_up")
        if what == "waiting" and self.rnd.random() < 0.3:  # and comes back again
            self._schedule((5, 60), self._pick(*_FOLLOW_UP_CUM), item)
        return item

    def _troll_again(self, parent: Labelled) -> Labelled:
        family = next(f for f in self.m.families if f.name == parent.family)
        return self._post(family, parent.mention.author, burst=False)

    def _bystander_reply(self) -> Labelled:
        parent = self.rnd.choice(self.recent[-100:])
        if parent.mention.kind == "dm" or parent.situation == "spam":
            return self._post()
        group = {"complaint": "complaint", "crisis": "complaint", "legal": "complaint",
                 "question": "question", "lead": "question", "praise": "praise"}.get(
                     parent.situation, "other")
        situation = {"complaint": "complaint", "question": "other", "praise": "praise"}.get(
            group, "off_topic")
        text = self._fill(self.rnd.choice(self.m.bystander[group]))
        return self._reply(parent, text, self._customer(), situation, "customer", "bystander")


_FOLLOW_UP_CUM = _cum(dict(FOLLOW_UP_KINDS))


def generate_labelled(n: int, *, seed: int = 7, start: datetime, mean_gap_seconds: float = 1.0,
                      duplicates: bool = True) -> Iterator[Labelled]:
    """The stream of `generate`, each mention with its ground truth."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if mean_gap_seconds <= 0:
        raise ValueError("mean_gap_seconds must be positive")
    stream = _Stream(seed, start, mean_gap_seconds)
    for _ in range(n):
        yield stream.next(duplicates)


def generate(n: int, *, seed: int = 7, start: datetime, mean_gap_seconds: float = 1.0,
             duplicates: bool = True) -> Iterator[Mention]:
    """`n` mentions (re-deliveries included in the count) with exponential gaps from `start`.

    About 0.5% are re-deliveries of an earlier mention (same channel, source id and content,
    its original created_at), as channels do on retries; the ingest must store each once.
    `duplicates=False` leaves them out. Every other mention is later than the one before.
    """
    for item in generate_labelled(n, seed=seed, start=start, mean_gap_seconds=mean_gap_seconds,
                                  duplicates=duplicates):
        yield item.mention


def write_jsonl(mentions: Iterable[Mention], path: Path | str) -> int:
    """One msgspec-encoded Mention per line (created_at in ISO 8601); returns the count."""
    encode = msgspec.json.Encoder().encode
    count = 0
    with open(path, "wb") as fh:
        for m in mentions:
            fh.write(encode(m) + b"\n")
            count += 1
    return count


def write_csv(mentions: Iterable[Mention], path: Path | str) -> int:
    """The edge's CSV shape (services.parse.CSV_COLUMNS); returns the count."""
    from escapevelocity.services.parse import CSV_COLUMNS, to_csv_row

    count = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for m in mentions:
            writer.writerow(to_csv_row(m))
            count += 1
    return count
