"""A realistic synthetic mention stream for the demo, benchmarks and tests.

Everything comes from the project's own templates (demo/templates.yaml) for a fictional
brand, Orbit Telecom: complaints (many without an angry word), questions, praise, ideas, sales
leads, spam, off-topic posts, venting, safety scares, legal threats, misinformation, posts
with account and card numbers, a journalist, an employee, a troll, bots, replies and
follow-ups, a few duplicates and a few hostile payloads. Deterministic for a seed.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from pathlib import Path

import msgspec
import yaml

from escapevelocity.domain.records import Author, Mention

CHANNELS = (("twitter", 0.62), ("facebook", 0.14), ("instagram", 0.1), ("reviews", 0.06),
            ("forum", 0.08))
CHANNEL_PREFIX = {"twitter": "tw", "facebook": "fb", "instagram": "ig", "reviews": "rv",
                  "forum": "fo"}


@cache
def material() -> dict:
    return yaml.safe_load(files("escapevelocity.demo").joinpath("templates.yaml").read_text())


class _Stream:
    def __init__(self, seed: int, start: datetime, mean_gap: float, duplicates: bool) -> None:
        self.rnd = random.Random(seed)
        self.at = start
        self.mean_gap = mean_gap
        self.duplicates = duplicates
        self.m = material()
        self.counters: dict[str, int] = {}
        self.recent: list[Mention] = []  # candidates for replies and follow-ups
        self.families = list(self.m["families"])
        self.weights = [self.m["families"][f]["weight"] for f in self.families]
        self.personas = self.m["personas"]

    # --- pieces --------------------------------------------------------------------------------

    def _next_id(self, channel: str) -> str:
        n = self.counters.get(channel, 0) + 1
        self.counters[channel] = n
        return f"{CHANNEL_PREFIX.get(channel, channel[:2])}-{n:07d}"

    def _tick(self) -> datetime:
        self.at += timedelta(seconds=self.rnd.expovariate(1 / self.mean_gap))
        return self.at

    def _fill(self, template: str) -> str:
        slots = self.m["slots"]
        out = template
        for _ in range(4):  # slots may contain slots
            if "{" not in out:
                break
            for name, values in slots.items():
                token = "{" + name + "}"
                while token in out:
                    out = out.replace(token, str(self.rnd.choice(values)), 1)
        return out

    def _customer(self) -> Author:
        rnd = self.rnd
        first = rnd.choice(self.m["names"]["first"])
        last = rnd.choice(self.m["names"]["last"])
        style = rnd.random()
        if style < 0.4:
            handle = f"{first.lower()}{last.lower()[:4]}{rnd.randint(1, 99)}"
        elif style < 0.7:
            handle = f"{first.lower()}_{last.lower()}"
        else:
            handle = f"{rnd.choice(self.m['names']['words'])}{first.lower()}{rnd.randint(10, 999)}"
        followers = int(rnd.lognormvariate(5.0, 1.3))
        return Author(handle=handle, name=f"{first} {last}", followers=min(followers, 9_000))

    def _persona(self, name: str) -> Author:
        p = self.rnd.choice(self.personas[name])
        return Author(handle=p["handle"], name=p.get("name", ""), followers=p.get("followers", 0),
                      verified=p.get("verified", False), bio=p.get("bio", ""))

    def _style(self, text: str, family: str) -> str:
        rnd = self.rnd
        style = self.m["style"]
        if family in ("complaint", "venting") and rnd.random() < 0.12:
            text = text.upper()
        if rnd.random() < 0.25:
            emoji = style["emoji"].get(family) or style["emoji"]["neutral"]
            text = f"{text} {rnd.choice(emoji)}"
        if rnd.random() < 0.2:
            tags = style["hashtags"].get(family) or style["hashtags"]["neutral"]
            text = f"{text} {rnd.choice(tags)}"
        if rnd.random() < 0.5:
            text = f"{rnd.choice(style['brand_mentions'])} {text}"
        return text

    # --- the stream ----------------------------------------------------------------------------

    def mention(self) -> Mention:
        rnd = self.rnd
        at = self._tick()
        if self.recent and rnd.random() < 0.07:
            return self._follow_up(at)
        if self.recent and rnd.random() < 0.05:
            return self._bystander_reply(at)
        family = rnd.choices(self.families, self.weights)[0]
        spec = self.m["families"][family]
        persona = spec.get("persona")
        author = self._persona(persona) if persona else self._customer()
        if family == "influencer":
            author = self._persona("influencers")
        channel = spec.get("channel") or rnd.choices([c for c, _ in CHANNELS],
                                                     [w for _, w in CHANNELS])[0]
        kind = spec.get("kind") or ("review" if channel == "reviews" else "post")
        if kind == "post" and channel in ("facebook", "instagram") and rnd.random() < 0.3:
            kind = "comment"
        if rnd.random() < 0.02 and family not in ("spam",):
            kind, channel = "dm", "twitter"
        text = self._style(self._fill(rnd.choice(spec["templates"])), family)
        if family == "hostile":
            author = Author(handle=author.handle, name=rnd.choice(self.m["hostile_names"]),
                            followers=author.followers)
        m = Mention(source_id=self._next_id(channel), channel=channel, text=text, author=author,
                    created_at=at, kind=kind, lang=spec.get("lang", ""),
                    url=f"https://{channel}.example/{author.handle}/{self.counters[channel]}")
        self.recent.append(m)
        if len(self.recent) > 200:
            del self.recent[:100]
        return m

    def _follow_up(self, at: datetime) -> Mention:
        parent = self.rnd.choice(self.recent[-50:])
        text = self._fill(self.rnd.choice(self.m["follow_ups"]))
        return Mention(source_id=self._next_id(parent.channel), channel=parent.channel,
                       text=text, author=parent.author, created_at=at, kind="reply",
                       in_reply_to=parent.source_id)

    def _bystander_reply(self, at: datetime) -> Mention:
        parent = self.rnd.choice(self.recent[-50:])
        text = self._fill(self.rnd.choice(self.m["bystander_replies"]))
        return Mention(source_id=self._next_id(parent.channel), channel=parent.channel,
                       text=text, author=self._customer(), created_at=at, kind="reply",
                       in_reply_to=parent.source_id)


def generate(n: int, *, seed: int = 7, start: datetime, mean_gap_seconds: float = 1.0,
             duplicates: bool = True) -> Iterator[Mention]:
    """`n` mentions (duplicates included in the count) with exponential gaps from `start`.

    About 0.5% are re-deliveries of an earlier mention (same channel and source id), as
    channels do on retries; the ingest must store each once.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    stream = _Stream(seed, start, mean_gap_seconds, duplicates)
    emitted = 0
    while emitted < n:
        if duplicates and stream.recent and stream.rnd.random() < 0.005:
            yield stream.rnd.choice(stream.recent)
        else:
            yield stream.mention()
        emitted += 1


def write_jsonl(mentions: Iterable[Mention], path: Path | str) -> int:
    encode = msgspec.json.Encoder().encode
    count = 0
    with open(path, "wb") as fh:
        for m in mentions:
            fh.write(encode(m) + b"\n")
            count += 1
    return count


def write_csv(mentions: Iterable[Mention], path: Path | str) -> int:
    from escapevelocity.services.parse import CSV_COLUMNS, to_csv_row

    count = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for m in mentions:
            writer.writerow(to_csv_row(m))
            count += 1
    return count
