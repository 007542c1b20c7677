"""The compiled playbook and its pure decision: `Playbook.decide` (first stopping rule wins,
per-cell plans, memoised decisions) and `Playbook.explain` (the per-predicate trace)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from escapevelocity.domain.playbook.facts import Cell, Cond, Context, Facts, Predicate, fold, tri
from escapevelocity.domain.playbook.spec import PlaybookSpec, Then
from escapevelocity.domain.records import Decision, Mention, Signals


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    id: str
    matches: Predicate
    then: Then
    text: str  # the condition in words, for explanations and diagrams
    cond: Cond | None = None
    line: int | None = None
    origin: str = "hub"  # hub, crisis overlay, spoke:TEAM


@dataclass(frozen=True, slots=True)
class Check:
    """One predicate's outcome in an explanation; depth nests under all/any/not."""

    text: str
    result: bool
    observed: str
    depth: int


@dataclass(frozen=True, slots=True)
class Step:
    rule: Rule
    matched: bool
    checks: tuple[Check, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    decision: Decision
    steps: tuple[Step, ...]  # every rule considered, in order, up to the deciding one
    facts: Facts


_CACHE_LIMIT = 8192
_PLAN_LIMIT = 65536


@dataclass(frozen=True)
class Playbook:
    spec: PlaybookSpec
    version: str
    rules: tuple[Rule, ...]  # the rules in force at normal crisis level, spokes included
    _automaton: Any = field(repr=False)
    by_level: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict, repr=False)
    lines: Mapping[str, int] = field(default_factory=dict, repr=False)
    source: str | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    _plans: dict = field(default_factory=dict, repr=False, compare=False)
    _full: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def rules_for(self, context: Context) -> tuple[Rule, ...]:
        return self.by_level.get(context.crisis_level, self.rules)

    def facts(self, mention: Mention, signals: Signals, context: Context) -> Facts:
        return Facts(mention, signals, context, self._phrases)

    def _phrases(self, text: str) -> frozenset[str]:
        if self._automaton is None:
            return frozenset()
        folded = fold(text)
        found = set()
        for end, (phrase, length) in self._automaton.iter(folded):
            start = end - length + 1
            if (start == 0 or not folded[start - 1].isalnum()) and (
                end + 1 == len(folded) or not folded[end + 1].isalnum()
            ):
                found.add(phrase)
        return frozenset(found)

    def decide(self, mention: Mention, signals: Signals, context: Context = Context()) -> Decision:
        """First stopping rule wins; earlier non-stopping matches contribute tags and notices.

        Rules are taken from a plan for the mention's finite signal cell (situations,
        sentiment, author class, channel, kind): rules that cannot match there are skipped, and
        rules that must match are not re-tested. The plan is a memo; the answer is the same
        without it, and past _PLAN_LIMIT cells every rule is simply tested.
        """
        key = (context.crisis_level, signals.situation, signals.situations,
               signals.sentiment_label, signals.author_class, mention.channel, mention.kind)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(key)
        facts = Facts(mention, signals, context, self._phrases)
        extra: list[Rule] | None = None
        for rule, sure in plan:
            if sure or rule.matches(facts):
                if rule.then.stop:
                    return self._cached(rule, extra, bool(signals.pii))
                if extra is None:
                    extra = [rule]
                else:
                    extra.append(rule)
        return self._cached(None, extra, bool(signals.pii))

    def _plan(self, key: tuple[Any, ...]) -> tuple[tuple[Rule, bool], ...]:
        level = key[0]
        if len(self._plans) >= _PLAN_LIMIT:
            full = self._full.get(level)
            if full is None:
                full = self._full[level] = tuple(
                    (r, False) for r in self.by_level.get(level, self.rules))
            return full
        cell = Cell(key[1], key[2] or (key[1],), *key[3:])
        plan = []
        for rule in self.by_level.get(level, self.rules):
            verdict = tri(rule.cond, cell) if rule.cond is not None else None
            if verdict is False:
                continue
            plan.append((rule, verdict is True))
            if verdict is True and rule.then.stop:
                break
        result = self._plans[key] = tuple(plan)
        return result

    def explain(self, mention: Mention, signals: Signals,
                context: Context = Context()) -> Explanation:
        """The decision and, for every rule considered, which predicates held and which not."""
        facts = self.facts(mention, signals, context)
        steps = []
        for rule in self.rules_for(context):
            checks: list[Check] = []
            matched = _trace(rule.cond, facts, 0, checks) if rule.cond else rule.matches(facts)
            steps.append(Step(rule, matched, tuple(checks)))
            if matched and rule.then.stop:
                break
        return Explanation(self.decide(mention, signals, context), tuple(steps), facts)

    def _cached(self, rule: Rule | None, extra: list[Rule] | None, pii: bool) -> Decision:
        key = (rule, tuple(extra) if extra else (), pii)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._decision(rule, extra or (), pii)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = decision
        return decision

    def _decision(self, rule: Rule | None, extra: Any, pii: bool) -> Decision:
        then = rule.then if rule else self.spec.default
        rule_id = rule.id if rule else "default"
        why = rule.text if rule else "no rule matched"
        tags = [t for r in extra for t in r.then.tags]
        flags = [t for r in extra for t in r.then.flags]
        notify = [t for r in extra for t in r.then.notify]
        track_name = then.track or self.spec.default.track or "support"
        track = self.spec.tracks[track_name]
        respond = track.respond if then.respond is None else then.respond
        visibility = then.visibility or ("private" if pii else "public")
        team = then.team or track.team
        verb = f"respond {visibility}ly" if respond else f"do not respond ({then.reason})"
        return Decision(
            track=track_name,
            respond=respond,
            reason="" if respond else then.reason,
            visibility=visibility,
            team=team,
            priority=then.priority or track.priority,
            sla_minutes=then.sla_minutes or track.sla.first_response,
            approval=track.approval if then.approval is None else then.approval,
            template=then.template or "",
            auto_reply=bool(then.auto_reply) and respond,
            tags=tuple(dict.fromkeys([*tags, *then.tags])),
            flags=tuple(dict.fromkeys([*flags, *then.flags, *(["pii"] if pii else [])])),
            notify=tuple(dict.fromkeys([*notify, *then.notify])),
            rule_id=rule_id,
            playbook_version=self.version,
            explanation=f"{rule_id}: {why} → {track_name} track, {team}, {verb}",
        )

    def template_text(self, name: str) -> str:
        return self.spec.templates.get(name, "")


def _trace(cond: Cond, facts: Facts, depth: int, out: list[Check]) -> bool:
    """Evaluate every predicate (no short cut) so the explanation shows each one."""
    if cond.children:
        index = len(out)
        out.append(Check(cond.text, False, "", depth))
        results = [_trace(c, facts, depth + 1, out) for c in cond.children]
        result = {"all": all, "any": any}.get(cond.key, lambda rs: not rs[0])(results)
        out[index] = Check(_combinator_word(cond), result, "", depth)
        return result
    result = cond.test(facts)
    observed = cond.observe(facts) if cond.observe else ""
    out.append(Check(cond.text, result, observed, depth))
    return result


def _combinator_word(cond: Cond) -> str:
    return {"all": "all of", "any": "any of", "not": "not"}.get(cond.key, cond.text)


def activation_approval(old: Playbook | None, new: Playbook) -> str:
    """Who must approve activating `new` ('' when nobody): the stricter of both versions' say.

    A pure helper for services/workspace: a version that removes its own approval requirement
    still needs the approval the active version demanded.
    """
    owners = [p.spec.activation_approval for p in (old, new) if p and p.spec.activation_approval]
    return owners[0] if owners else ""
