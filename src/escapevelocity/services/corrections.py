"""A member's correction of a case: the corrected signal is an event the learned models learn
from (CORRECTED, as before), and the playbook decides again on the corrected signals, so the
case takes the new track, SLA, team and assignee (DECIDED and ASSIGNED, with the member as
actor and what changed and why in the data). One transaction; read → pure decision
(domain/correct.py) → append + projection.
"""

from __future__ import annotations

import msgspec

from escapevelocity.domain import correct as rules
from escapevelocity.domain import events as ev
from escapevelocity.domain import learn
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.cases import Case
from escapevelocity.domain.events import Event
from escapevelocity.domain.playbook import Context
from escapevelocity.domain.records import Mention, Signals
from escapevelocity.domain.routing import route
from escapevelocity.services.casetx import CaseError, again_if_changed, authorize, commit, load
from escapevelocity.services.live_routing import routing_state
from escapevelocity.services.workspace import Workspace

MAX_WHY = 500


def _current_signals(events: list[Event], stored: Signals) -> Signals:
    """The signals the case was last decided on (a second correction builds on the first)."""
    for e in reversed(events):
        if isinstance(e, ev.Decided) and e.signals:
            try:
                return msgspec.convert(e.signals, Signals)
            except msgspec.ValidationError:
                break
    return stored


def correct(workspace: Workspace, case_id: str, member: str, signal: str, label: str,
            why: str = "") -> Case:
    """Correct `signal` of the case to `label` and re-decide; returns the updated case.
    Raises CorrectionError (a label the signal does not take), CaseError, PermissionDenied.
    A correction says what the signal is, whatever else changed: one that lost the version
    check to a write meanwhile (a clock job) decides again on the fresh case."""
    return again_if_changed(lambda: _correct(workspace, case_id, member, signal, label, why))


def _correct(workspace: Workspace, case_id: str, member: str, signal: str, label: str,
             why: str) -> Case:
    triager = workspace.triager()
    rules.check(triager.playbook, signal, label)
    store, now = workspace.store, workspace.clock.now()
    why = why.strip()[:MAX_WHY]
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.TAG, case)  # as for tags: not analysts
        rows = tx.mentions.of_case(case_id)
        if not rows:
            raise CaseError("this case has no mention to correct")
        first = rows[0]
        mention = msgspec.json.decode(first.body, type=Mention)
        said = _current_signals(tx.events.stream(case_id),
                                msgspec.json.decode(first.signals, type=Signals))
        new, decision = rules.redecide(
            triager.playbook, lambda s: triager.decide_with(mention, s, Context()),
            said, signal, label, member)
        state = routing_state(store, tx, now, triager.playbook,
                              away_after=workspace.away_after)
        assignment = route(decision, new, triager.org, state, now)
        was = (learn.rule_label(signal, said) if signal in learn.SIGNALS else
               {"situation": said.situation, "sentiment": said.sentiment_label,
                "author_class": said.author_class, "priority": case.priority or "",
                "track": case.track or ""}[signal])
        changed = {"signal": signal, "from": was, "to": label, "why": why}
        events: list[Event] = [ev.Corrected(
            stream=case_id, at=now, actor=member, signal=signal, label=label, was=was, why=why,
            text=mention.text[:10_000], mention=mention.key)]
        events.append(ev.Decided(stream=case_id, at=now, actor=member,
                                 decision=msgspec.to_builtins(decision),
                                 signals=msgspec.to_builtins(new), corrected=changed))
        if (assignment.team, assignment.member) != (case.team, case.assignee):
            events.append(ev.Assigned(
                stream=case_id, at=now, actor=member, team=assignment.team,
                member=assignment.member, strategy=assignment.strategy,
                explanation=f"after {member}'s correction of {signal}: "
                            f"{assignment.explanation}"))
        return commit(tx, case, *events)
