"""Corrections that change the case: a member says a signal (or the track, or the priority)
was wrong, and the playbook decides again on the corrected signals.

Pure: the stored signals, the correction and the playbook in, the corrected signals and the
new decision out; services/corrections.py appends the events (CORRECTED for learning, DECIDED
and ASSIGNED with who changed what and why) and the case takes the new track, SLA, team and
assignee through the projection, as at ingest.

What may be corrected, and to which labels, is `labels(playbook)`: the form offers only those.
"""

from __future__ import annotations

import msgspec

from escapevelocity.domain import learn
from escapevelocity.domain.playbook import Playbook
from escapevelocity.domain.playbook.spec import AUTHOR_CLASSES, SITUATIONS
from escapevelocity.domain.records import Decision, Signals

PRIORITIES = ("p1", "p2", "p3", "p4")
SENTIMENTS = ("negative", "neutral", "positive")
# A corrected sentiment label moves the score to where the rules put such a label, so
# conditions on the score (sentiment_below …) agree with the label a person gave.
_SCORE = {"negative": -0.6, "neutral": 0.0, "positive": 0.6}
# Signals whose correction re-decides the case (the playbook reads them); the learned models'
# signals (complaint, spam, relevance, severity) are corrected as before and re-decide too.
DECIDING = ("situation", "sentiment", "author_class")
OVERRIDES = ("track", "priority")  # no signal: the decision itself is set


class CorrectionError(ValueError):
    """A signal or label the form should not have offered."""


def labels(playbook: Playbook) -> dict[str, tuple[str, ...]]:
    """Every correctable signal and its valid labels (the form's choices)."""
    out: dict[str, tuple[str, ...]] = {
        "situation": SITUATIONS, "sentiment": SENTIMENTS, "author_class": AUTHOR_CLASSES,
        "priority": PRIORITIES, "track": tuple(playbook.spec.tracks)}
    for signal, labs in learn.SIGNALS.items():
        out.setdefault(signal, labs)
    return out


def check(playbook: Playbook, signal: str, label: str) -> None:
    valid = labels(playbook)
    if signal not in valid:
        raise CorrectionError(f"unknown signal {signal!r}; one of {', '.join(valid)}")
    if label not in valid[signal]:
        raise CorrectionError(f"{signal}: label must be one of {', '.join(valid[signal])}")


def _situations(signals: Signals) -> tuple[str, ...]:
    return signals.situations or (signals.situation,)


def _with_situations(signals: Signals, situations: tuple[str, ...], why: str) -> Signals:
    situations = tuple(dict.fromkeys(situations)) or ("other",)
    return msgspec.structs.replace(signals, situation=situations[0], situations=situations,
                                   because={**signals.because, "situation": why})


def corrected(signals: Signals, signal: str, label: str, member: str) -> Signals:
    """The signals as the member says they are (track and priority leave them unchanged)."""
    why = f"corrected by {member}"
    rest = _situations(signals)
    if signal == "situation":
        # the member's situation first; the others stay unless they contradict it
        drop = {"off_topic", "venting", label} if label not in ("off_topic", "spam") else set(rest)
        return _with_situations(signals, (label, *(s for s in rest if s not in drop)),
                                f"{label}: {why}")
    if signal == "sentiment":
        score = signals.sentiment if signals.sentiment_label == label else _SCORE[label]
        return msgspec.structs.replace(signals, sentiment_label=label, sentiment=score,
                                       because={**signals.because, "sentiment": why})
    if signal == "author_class":
        return msgspec.structs.replace(signals, author_class=label,
                                       because={**signals.because, "author_class": why})
    if signal in ("complaint", "spam"):
        if label == signal:
            return _with_situations(signals, (signal, *(s for s in rest if s not in (
                "off_topic", "venting", "other"))), f"{signal}: {why}")
        return _with_situations(signals, tuple(s for s in rest if s != signal),
                                f"not {signal}: {why}")
    if signal == "relevance":
        if label == "irrelevant":
            return _with_situations(signals, ("off_topic",), f"off topic: {why}")
        return _with_situations(signals, tuple(s for s in rest if s not in ("off_topic", "spam")),
                                f"relevant: {why}")
    if signal == "severity":
        return msgspec.structs.replace(signals, severity=label,
                                       because={**signals.because, "severity": why})
    return signals


def overridden(playbook: Playbook, decision: Decision, signal: str, label: str,
               member: str) -> Decision:
    """A decision with the track (its team, SLA, priority, respond) or the priority set."""
    if signal == "priority":
        return msgspec.structs.replace(
            decision, priority=label,
            explanation=f"{decision.explanation}; priority set to {label} by {member}")
    if signal == "track":
        track = playbook.spec.tracks[label]
        return msgspec.structs.replace(
            decision, track=label, team=track.team, priority=track.priority,
            sla_minutes=track.sla.first_response, respond=track.respond,
            reason="" if track.respond else "monitor_only", approval=track.approval,
            rule_id="corrected",
            explanation=f"{label} track set by {member} (was {decision.track})")
    return decision


def redecide(playbook: Playbook, decide, signals: Signals, signal: str, label: str,
             member: str) -> tuple[Signals, Decision]:
    """`decide(signals) -> Decision` is the playbook's decision for the case's mention; the
    correction applied, then the playbook (or the override) decides."""
    check(playbook, signal, label)
    new = corrected(signals, signal, label, member)
    decision = decide(new)
    if signal in OVERRIDES:
        decision = overridden(playbook, decision, signal, label, member)
    return new, decision
