"""Playbook decisions/s: a 60-rule playbook compiled once, against the same rules in rule-engine.

Both sides decide the same generated (mention, signals) pairs in this process, first matching
rule wins, and must agree on every decision (checked before timing). Keyword phrases are found
by the same Aho-Corasick pass for both, so the comparison is of rule evaluation itself.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from escapevelocity.domain.playbook import (
    AUTHOR_CLASSES,
    SENTIMENTS,
    SITUATIONS,
    Context,
    Facts,
    Playbook,
    compile_playbook,
)
from escapevelocity.domain.records import CHANNELS, KINDS, Author, Mention, Signals

TARGET = 100_000
WORDS = ["refund", "broken", "lawyer", "love", "outage", "bill", "upgrade", "slow", "help",
         "thanks", "fire", "cancel", "price", "app", "router", "store", "plan", "roaming"]
FILLER = ["the", "my", "is", "was", "and", "to", "a", "it", "this", "that", "of", "in", "for",
          "on", "with", "at", "by", "just"]


def sixty_rule_playbook(n_rules: int = 60, seed: int = 7) -> dict[str, Any]:
    """A realistic mix: signal sets, reach, keywords, combinators. Deterministic."""
    rng = random.Random(seed)
    tracks = {t: {"team": "care", "sla": {"first_response": 60}}
              for t in ("support", "pr", "legal", "sales", "monitor")}
    tracks["monitor"]["respond"] = False
    rules = []
    for i in range(n_rules):
        shape = i % 6
        if shape == 0:
            when = {"situation": rng.sample(SITUATIONS, 2), "sentiment": rng.choice(SENTIMENTS)}
        elif shape == 1:
            when = {"author_class": rng.choice(AUTHOR_CLASSES),
                    "followers_at_least": rng.choice([1000, 10000, 100000])}
        elif shape == 2:
            when = {"keywords": rng.sample(WORDS, 2), "channel": rng.sample(CHANNELS, 3)}
        elif shape == 3:
            when = {"any": [{"situation": rng.choice(SITUATIONS)},
                            {"author_class": rng.choice(AUTHOR_CLASSES)}],
                    "kind": rng.sample(KINDS, 2)}
        elif shape == 4:
            when = {"sentiment_below": round(rng.uniform(-0.9, 0.0), 2),
                    "not": {"author_class": rng.choice(AUTHOR_CLASSES)},
                    "situation": rng.choice(SITUATIONS)}
        else:
            when = {"pii": True, "channel": rng.choice(CHANNELS)}
        then: dict[str, Any] = {"track": rng.choice(["support", "pr", "legal", "sales"])}
        if i % 10 == 9:
            then = {"tags": [f"t{i}"], "stop": False}
        rules.append({"id": f"r{i:02d}", "when": when, "then": then})
    return {"name": "bench", "tracks": tracks, "rules": rules,
            "default": {"track": "monitor", "respond": False, "reason": "monitor_only"}}


def sample(n: int, seed: int = 11) -> list[tuple[Mention, Signals]]:
    rng = random.Random(seed)
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    out = []
    for i in range(n):
        words = rng.choices(FILLER, k=rng.randint(6, 20)) + rng.choices(WORDS, k=rng.randint(0, 2))
        rng.shuffle(words)
        author = Author(handle=f"u{i % 5000}", followers=int(rng.paretovariate(1.2) * 50))
        m = Mention(source_id=str(i), channel=rng.choice(CHANNELS), text=" ".join(words),
                    author=author, created_at=now, kind=rng.choice(KINDS))
        score = round(rng.uniform(-1, 1), 2)
        label = "negative" if score < -0.05 else "positive" if score > 0.05 else "neutral"
        # like the enricher: a primary situation, sometimes one or two more
        situations = tuple(dict.fromkeys(rng.sample(SITUATIONS, rng.choice([1, 1, 2, 3]))))
        situation = situations[0]
        s = Signals(sentiment=score, sentiment_label=label, situation=situation,
                    situations=situations, author_class=rng.choice(AUTHOR_CLASSES),
                    pii=("email",) if rng.random() < 0.05 else ())
        out.append((m, s))
    return out


# --- the same rules in rule-engine's language ------------------------------------------------

def _expr(when: dict[str, Any]) -> str:
    parts = []
    for key, value in when.items():
        if key == "situation":  # any of the mention's situations, as the compiler does
            values = value if isinstance(value, list) else [value]
            parts.append("(" + " or ".join(f"'{v}' in situations" for v in values) + ")")
        elif key in ("sentiment", "author_class", "channel", "kind"):
            field = {"sentiment": "label"}.get(key, key)
            values = value if isinstance(value, list) else [value]
            parts.append(f"{field} in {values}")
        elif key == "followers_at_least":
            parts.append(f"followers >= {value}")
        elif key == "sentiment_below":
            parts.append(f"score < {value}")
        elif key == "keywords":
            parts.append("(" + " or ".join(f"'{w}' in phrases" for w in value) + ")")
        elif key == "pii":
            parts.append("pii" if value else "not pii")
        elif key == "any":
            parts.append("(" + " or ".join(_expr(v) for v in value) + ")")
        elif key == "not":
            parts.append(f"not ({_expr(value)})")
        else:
            raise ValueError(key)
    return " and ".join(parts)


class RuleEngineDecider:
    """First matching stopping rule, continue-rules collect tags; as Playbook.decide does."""

    def __init__(self, data: dict[str, Any], playbook: Playbook) -> None:
        import rule_engine

        ctx = rule_engine.Context(default_value=None)
        self.rules = [(r["id"], rule_engine.Rule(_expr(r["when"]), context=ctx),
                       r["then"].get("stop", True)) for r in data["rules"]]
        self.playbook = playbook  # for the shared keyword pass only

    def decide(self, mention: Mention, signals: Signals) -> str:
        thing = {
            "situations": tuple(signals.situations or (signals.situation,)),
            "label": signals.sentiment_label,
            "score": signals.sentiment, "author_class": signals.author_class,
            "channel": mention.channel, "kind": mention.kind,
            "followers": mention.author.followers, "pii": bool(signals.pii),
            "phrases": tuple(self.playbook._phrases(mention.text)),
        }
        for rule_id, rule, stop in self.rules:
            if stop and rule.matches(thing):
                return rule_id
        return "default"


def every_rule(playbook: Playbook, mention: Mention, signals: Signals, ctx: Context) -> Any:
    """decide() without its per-cell plans: the compiled closures alone, rule after rule."""
    facts = Facts(mention, signals, ctx, playbook._phrases)
    extra = None
    for rule in playbook.rules_for(ctx):
        if rule.matches(facts):
            if rule.then.stop:
                return playbook._cached(rule, extra, bool(signals.pii))
            extra = [*(extra or ()), rule]
    return playbook._cached(None, extra, bool(signals.pii))


def _rate(fn: Any, items: list[tuple[Mention, Signals]], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for m, s in items:
            fn(m, s)
        rates.append(len(items) / (time.perf_counter() - start))
    return statistics.median(rates)


def run(n: int = 50_000, repeats: int = 5, engine_n: int = 5_000) -> dict[str, Any]:
    data = sixty_rule_playbook()
    playbook = compile_playbook(data, version="bench")
    items = sample(n)
    ctx = Context()
    ours = [playbook.decide(m, s, ctx).rule_id for m, s in items[:engine_n]]
    try:
        other = RuleEngineDecider(data, playbook)
    except ImportError:
        other = None
    if other is not None:
        theirs = [other.decide(m, s) for m, s in items[:engine_n]]
        disagree = sum(a != b for a, b in zip(ours, theirs, strict=True))
    rate = _rate(lambda m, s: playbook.decide(m, s, ctx), items, repeats)
    unplanned = _rate(lambda m, s: every_rule(playbook, m, s, ctx), items, repeats)
    lines = [{"figure": f"{rate:,.0f} decisions/s ({len(data['rules'])} rules, compiled once)",
              "target": f"≥ {TARGET:,}/s", "met": rate >= TARGET},
             {"figure": f"{unplanned:,.0f} decisions/s testing every rule (no cell plans)",
              "target": None, "met": None}]
    result: dict[str, Any] = {"decisions_per_s": rate, "unplanned_per_s": unplanned,
                              "rules": len(data["rules"]), "mentions": n, "target": TARGET,
                              "lines": lines}
    if other is None:
        lines.append({"figure": "rule-engine not installed (pip install '.[bench]')",
                      "target": None, "met": None})
        return result
    their_rate = _rate(other.decide, items[:engine_n], max(1, repeats // 2))
    ratio = rate / their_rate
    lines.append({"figure": f"rule-engine: {their_rate:,.0f} decisions/s (same rules)",
                  "target": None, "met": None})
    lines.append({"figure": f"ratio: {ratio:,.1f}× faster; decisions agree on "
                            f"{engine_n - disagree:,}/{engine_n:,}",
                  "target": "agree on all", "met": disagree == 0})
    result.update(rule_engine_per_s=their_rate, ratio=ratio, disagreements=disagree)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
