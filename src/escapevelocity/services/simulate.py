"""Feed `ev simulate`: read mentions, decide them with the real playbook, run each strategy.

Two inputs are understood: the project's mention JSONL/CSV (services/parse.py), and the
"Customer Support on Twitter" (twcs) rows — `tweet_id, author_id, inbound, created_at, text,
in_response_to_tweet_id` — of which only inbound customer tweets are replayed. A customer tweet
answering a brand tweet continues that conversation; any other opens one. When a
`first_response_times.jsonl` sits next to the twcs file, the brands' real reply times are read
for comparison.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from escapevelocity.domain.clock import SimulatedClock
from escapevelocity.domain.org import STRATEGIES, Organisation
from escapevelocity.domain.records import Author, Mention
from escapevelocity.domain.routing import Need
from escapevelocity.domain.simulate import Arrival, Result, Simulation, profiles_from
from escapevelocity.domain.sla import budgets_from_playbook
from escapevelocity.domain.triage import Triager


@dataclass
class Replay:
    arrivals: list[Arrival]
    real_minutes: list[float]  # the brands' real first-reply minutes (empty when unknown)
    source: str


def _twcs_rows(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def is_twcs(path: Path) -> bool:
    with path.open(encoding="utf-8") as f:
        first = f.readline()
    try:
        return "tweet_id" in json.loads(first) and "inbound" in json.loads(first)
    except ValueError:
        return False


def read_replay(path: Path, triager: Triager) -> Replay:
    if is_twcs(path):
        return _read_twcs(path, triager)
    from escapevelocity.services.parse import Problem, read_file

    arrivals = []
    for m in read_file(path):
        if isinstance(m, Problem):
            continue
        conversation = m.thread_id or m.in_reply_to or f"{m.channel}:{m.author.handle}:{m.key}"
        arrivals.append(_arrival(triager, m, conversation, None))
    arrivals.sort(key=lambda a: a.at)
    return Replay(arrivals, [], str(path))


def _arrival(triager: Triager, m: Mention, conversation: str, real: float | None) -> Arrival:
    signals = triager.signals(m)
    d = triager.playbook.decide(m, signals)
    return Arrival(m.created_at, conversation, Need(d.team, d.track, signals.topics,
                                                    signals.language),
                   d.respond, d.sla_minutes, real)


def _read_twcs(path: Path, triager: Triager) -> Replay:
    rows = {r["tweet_id"]: r for r in _twcs_rows(path)}
    real: dict[str, float] = {}
    times = path.with_name("first_response_times.jsonl")
    if times.exists():
        for r in _twcs_rows(times):
            real[r["inbound_tweet_id"]] = float(r["minutes_to_first_reply"])
    arrivals = []
    for r in rows.values():
        if not r["inbound"]:
            continue
        parent = rows.get(r.get("in_response_to_tweet_id") or "")
        answers_brand = parent is not None and not parent["inbound"]
        conversation = _root(rows, r) if answers_brand else f"tweet:{r['tweet_id']}"
        m = Mention(source_id=r["tweet_id"], channel="twitter", text=r["text"][:10_000],
                    author=Author(handle=str(r["author_id"])),
                    created_at=datetime.fromisoformat(r["created_at"]), kind="post",
                    in_reply_to=r.get("in_response_to_tweet_id"))
        arrivals.append(_arrival(triager, m, conversation, real.get(r["tweet_id"])))
    arrivals.sort(key=lambda a: a.at)
    return Replay(arrivals, sorted(real.values()), str(path))


def _root(rows: dict[str, dict], r: dict) -> str:
    """The first tweet of the thread this one belongs to (within the sample)."""
    seen = set()
    while r.get("in_response_to_tweet_id") in rows and r["tweet_id"] not in seen:
        seen.add(r["tweet_id"])
        r = rows[r["in_response_to_tweet_id"]]
    return f"tweet:{r['tweet_id']}"


def run_all(org: Organisation, replay: Replay, triager: Triager, *,
            strategies: tuple[str, ...] = STRATEGIES, speed: float = 0.0, seed: int = 1,
            on_progress: Callable[[datetime], None] | None = None,
            sleep: Callable[[float], None] = time.sleep) -> list[Result]:
    """Run every strategy side by side on one simulated clock. `speed` > 0 paces the replay at
    that many simulated seconds per wall second; 0 runs as fast as the machine goes."""
    if not replay.arrivals:
        return [Result(s) for s in strategies]
    budgets = budgets_from_playbook(triager.playbook)
    profiles = profiles_from(org.simulation, [m.id for m in org.members])
    sims = [Simulation(org, replay.arrivals, budgets, profiles, strategy=s, seed=seed)
            for s in strategies]
    start = replay.arrivals[0].at
    clock = SimulatedClock(start, speed) if speed > 0 else None
    t, step = start, timedelta(hours=1)
    while not all(s.done for s in sims):
        t += step
        if clock is not None:
            ahead = (t - clock.now()).total_seconds() / speed
            if ahead > 0:
                sleep(ahead)
        for s in sims:
            s.run_until(t)
        if on_progress:
            on_progress(t)
        # jump over quiet stretches (the sample has a few stray tweets years early)
        nxt = min((s.heap[0][0] for s in sims if not s.done and s.heap), default=t)
        if nxt - t > step:
            t = nxt - step
            if clock is not None:
                clock = SimulatedClock(t, speed)
    for s in sims:
        s._finish()
    return [s.result for s in sims]


def percentile(xs: list[float], q: float) -> float | None:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None


def summary(results: list[Result], replay: Replay) -> dict[str, Any]:
    """Plain figures for printing or JSON."""
    import statistics

    tracks = sorted({t for r in results for t in r.met})
    real = replay.real_minutes
    opened_real = [a.real_minutes for a in replay.arrivals if a.real_minutes is not None]
    return {
        "mentions": len(replay.arrivals),
        "real": {"replies": len(real),
                 "median": statistics.median(real) if real else None,
                 "p90": percentile(real, 0.9)} if real else None,
        "real_openers": len(opened_real),
        "strategies": {r.strategy: {
            "cases_answered": len(r.first_response), "unanswered": r.unanswered,
            "not_responded": r.not_responded, "requeued": r.requeued,
            "median": r.median, "p90": r.percentile(0.9),
            "met": {t: r.met_percent(t) for t in tracks},
            "met_all": r.met_percent(), "next_met_all": r.met_percent(clock="next"),
            "load": dict(sorted(r.load.items())), "peak": dict(sorted(r.peak.items())),
        } for r in results},
        "tracks": tracks,
    }
