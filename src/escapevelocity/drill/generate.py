"""Generate a drill's stream from its scenario: pure and deterministic for a seed.

Two layers, both labelled with their ground truth:
- regular traffic: the demo stream's mix (demo/generator.py), timed by an hour-of-day profile
  with Poisson noise, from `history_days` before the start (learned by the detectors, not
  ingested) to the end;
- crisis traffic: per phase, a non-homogeneous Poisson process following the volume curve,
  each post written by a persona (weights) in a kind (the accurate / misleading / irrelevant
  mix) from the persona's templates, with variables filled; plus the injects' bursts.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import msgspec

from escapevelocity.domain.records import Author, Mention
from escapevelocity.drill.scenario import KINDS, Inject, Persona, Scenario

DEFAULT_PROFILE = (0.35, 0.25, 0.2, 0.2, 0.25, 0.4, 0.65, 0.9, 1.1, 1.2, 1.25, 1.25, 1.25, 1.2,
                   1.2, 1.2, 1.25, 1.35, 1.45, 1.5, 1.45, 1.25, 0.9, 0.6)
CHANNELS = (("twitter", 70), ("facebook", 15), ("instagram", 10), ("forum", 5))
FIRST = ("alex", "sam", "jo", "chris", "maya", "li", "omar", "nia", "tom", "ella", "raj", "kate",
         "ben", "zoe", "dan", "amy", "leo", "ivy", "max", "ruth", "femi", "noor", "ola", "kit")
LAST = ("smith", "jones", "khan", "brown", "patel", "evans", "nguyen", "okoro", "walsh",
        "reid", "moss", "hale", "stone", "ward", "fox", "lane", "park", "cole", "gray", "ross")
_SLOT = re.compile(r"\{(\w+)\}")


class DrillItem(msgspec.Struct, frozen=True):
    """One generated mention and its ground truth."""

    mention: Mention
    origin: str  # "regular" or "crisis"
    persona: str  # scenario persona, or the demo stream's persona for regular traffic
    kind: str  # accurate / misleading / irrelevant; regular: the true situation
    expected_track: str = ""  # during crisis mode; empty when the scenario does not say
    phase: str = ""  # phase or inject name; empty for regular traffic


class Plan(msgspec.Struct, frozen=True):
    history: list[DrillItem]  # before the start: the detectors learn it
    items: list[DrillItem]  # from the start, sorted by time
    injects: list[tuple[datetime, str, str]]  # scheduled injects: when, name, description
    known: dict[str, list[str]]  # vocabulary list -> handles the workspace knows


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def rate(volume, t: float, start: float, end: float) -> float:
    """Mentions per hour at hour `t` of a phase running from `start` to `end`."""
    a = volume.start
    b = volume.start if volume.end is None else volume.end
    x = (t - start) / (end - start)
    if volume.shape == "exponential" and a > 0 and b > 0:
        return a * (b / a) ** x
    return a + (b - a) * x


class _Writer:
    """Authors and texts for the crisis layer."""

    def __init__(self, s: Scenario, rng: random.Random, prefix: str) -> None:
        self.s, self.rng, self.prefix = s, rng, prefix
        self.authors: dict[str, list[Author]] = {}
        self.n = 0
        people = random.Random(s.seed * 1_000_003 + 17)  # the same people in every writer
        for name, p in s.personas.items():
            self.authors[name] = [self._author(people, p, i) for i in range(max(1, p.pool))]
        names, weights = zip(*CHANNELS, strict=True)
        self.channels, self.channel_weights = names, weights

    @staticmethod
    def _author(rng: random.Random, p: Persona, i: int) -> Author:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        handle = p.handle.format(first=first, last=last, n=i)
        lo, hi = p.followers
        return Author(handle=handle, name=f"{first.title()} {last.title()}",
                      followers=rng.randint(lo, max(lo, hi)), verified=p.verified,
                      bio=p.bio.format(first=first.title(), last=last.title()) if p.bio else "")

    def fill(self, text: str, at: datetime, author: Author) -> str:
        first, _, last = author.name.partition(" ")
        builtins = {"first": first, "last": last, "n": str(self.rng.randint(2, 9)),
                    "hour": f"{at:%H:%M}", "brand": "Orbit"}

        def slot(match: re.Match) -> str:
            key = match.group(1)
            values = self.s.variables.get(key)
            return self.rng.choice(values) if values else builtins.get(key, key)

        return _SLOT.sub(slot, text)

    def post(self, at: datetime, personas: dict[str, float], mix: dict[str, float], phase: str,
             inject: Inject | None = None) -> DrillItem:
        rng, s = self.rng, self.s
        persona = rng.choices(list(personas), weights=list(personas.values()))[0]
        p = s.personas[persona]
        if inject is not None and inject.templates and rng.random() < 0.5:
            kind, template = "accurate", rng.choice(inject.templates)
        else:
            kinds = [k for k in KINDS if p.templates.get(k) and mix.get(k, 0) > 0] or [
                k for k in KINDS if p.templates.get(k)]
            kind = rng.choices(kinds, weights=[mix.get(k, 0) or 1 for k in kinds])[0]
            template = rng.choice(p.templates[kind])
        author = rng.choice(self.authors[persona])
        self.n += 1
        channel = rng.choices(self.channels, weights=self.channel_weights)[0]
        m = Mention(source_id=f"{self.prefix}-{self.n}", channel=channel,
                    text=self.fill(template, at, author), author=author, created_at=at)
        expected = s.expected.tracks.get(persona, {}).get(kind, "")
        return DrillItem(m, "crisis", persona, kind, expected, phase)


def crisis_posts(s: Scenario, rng: random.Random, writer: _Writer) -> Iterator[DrillItem]:
    for ph in s.phases:
        minutes = round((ph.end - ph.start) * 60)
        for i in range(minutes):
            t = ph.start + (i + 0.5) / 60
            count = poisson(rng, rate(ph.volume, t, ph.start, ph.end) / 60)
            for _ in range(count):
                at = s.start + timedelta(hours=ph.start, minutes=i + rng.random())
                yield writer.post(at, ph.personas, ph.mix, ph.name)


def inject_posts(s: Scenario, inject: Inject, at: datetime, rng: random.Random,
                 writer: _Writer) -> list[DrillItem]:
    """The burst an inject brings, front-loaded (most in its first minutes), from `at`."""
    out = []
    for _ in range(inject.burst):
        when = at + timedelta(hours=inject.over * rng.random() ** 2)
        out.append(writer.post(when, inject.personas, inject.mix, inject.name, inject))
    return out


def regular_posts(s: Scenario, rng: random.Random) -> list[DrillItem]:
    from escapevelocity.demo.generator import generate_labelled

    profile = list(s.regular.profile or DEFAULT_PROFILE)
    mean = sum(profile) / len(profile)
    begin = s.start - timedelta(days=s.history_days)
    hours = int(s.history_days * 24 + math.ceil(s.duration_hours))
    counts = []
    for h in range(hours):
        at = begin + timedelta(hours=h)
        counts.append(poisson(rng, s.regular.per_hour * profile[at.hour] / mean))
    stream = generate_labelled(sum(counts), seed=s.seed, start=begin)
    out: list[DrillItem] = []
    it = iter(stream)
    for h, count in enumerate(counts):
        base = begin + timedelta(hours=h)
        offsets = sorted(rng.random() * 3600 for _ in range(count))
        for off in offsets:
            lab = next(it)
            m = msgspec.structs.replace(lab.mention, created_at=base + timedelta(seconds=off))
            out.append(DrillItem(m, "regular", lab.persona, lab.situation))
    return out


def writer_for(s: Scenario, salt: int = 0) -> _Writer:
    """A writer with the scenario's people; `salt` > 0 for extra injects fired on demand."""
    prefix = f"drill-{s.seed}" + (f"-x{salt}" if salt else "")
    return _Writer(s, random.Random(s.seed * 7_919 + salt), prefix)


def plan(s: Scenario) -> Plan:
    rng = random.Random(s.seed)
    writer = writer_for(s)
    regular = regular_posts(s, rng)
    crisis = list(crisis_posts(s, rng, writer))
    injects = []
    for inj in s.injects:
        if inj.at is None:
            continue
        at = s.start + timedelta(hours=inj.at)
        injects.append((at, inj.name, inj.description))
        crisis += inject_posts(s, inj, at, rng, writer)
    end = s.start + timedelta(hours=s.duration_hours)
    history = [i for i in regular if i.mention.created_at < s.start]
    items = [i for i in regular if i.mention.created_at >= s.start]
    items += [i for i in crisis if i.mention.created_at < end]
    items.sort(key=lambda i: i.mention.created_at)
    known: dict[str, list[str]] = {}
    for name, p in s.personas.items():
        if p.known_as:
            key = p.known_as + "s"
            known.setdefault(key, []).extend(a.handle for a in writer.authors[name])
    return Plan(history, items, sorted(injects), known)
