"""The clock-driven work of a running workspace: SLA warnings, breaches and escalation, approval
escalation, follow-up questions, the crisis detectors' quiet-hour checks, the daily retraining
of signal models and the refine job (learned models' sentence vectors, off the hot path).

Each job is a `tick(now)` over the event log, so running one pass is idempotent and any
process may do it; the web app runs a pass every few seconds, tests call `tick_all` directly
after moving the clock.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from escapevelocity.services import approvals, autoreply, followup, refine, replies, sla
from escapevelocity.services.crisis import CrisisMode
from escapevelocity.services.outbound import senders_from_env
from escapevelocity.services.retry import retrying
from escapevelocity.services.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class TickAll:
    """What one pass did, job by job (counts of events appended, or a failure message)."""

    done: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


RETRAIN_EVERY = timedelta(hours=24)
LAST_RETRAIN = "learning_last_retrain"
CORRECTIONS_SEEN = "learning_corrections_seen"


def retrain_when_due(workspace: Workspace, now: datetime) -> int:
    """Retrain the signal models once a day when there are new corrections (a model is only
    promoted if it beats the current one on held-back corrections: services/learning.py).

    Whether there are corrections is kept as a cursor over the log (CORRECTIONS_SEEN: the
    last seq looked at and the count so far), so a pass reads only the events since the last
    one instead of scanning the whole log (5.9 s a pass at 811k events). A correction whose
    seq was handed out before a later one committed may be counted a pass late, or, if the
    cursor passed it, first seen by the retraining that the next correction triggers."""
    from escapevelocity.domain import events as ev
    from escapevelocity.services import learning

    store = workspace.store
    with store.begin() as tx:
        last = tx.documents.get(LAST_RETRAIN)
        cursor = tx.documents.get(CORRECTIONS_SEEN) or "0 0"
        at_seq, count = (int(x) for x in cursor.split())
        new, seq = tx.events.count_after(at_seq, ev.CORRECTED)
        if seq != at_seq:
            tx.documents.put(CORRECTIONS_SEEN, f"{seq} {count + new}", now)
    if not count + new:
        return 0
    if last:
        at, _, seen = last.partition(" ")
        if now - datetime.fromisoformat(at) < RETRAIN_EVERY or str(seq) == seen:
            return 0
    if not learning.corrections(store):
        return 0
    try:
        cards = learning.retrain(store, now)
    except RuntimeError as exc:  # the `learn` extra (scikit-learn) is not installed
        log.warning("signal models not retrained: %s", exc)
        cards = []
    with store.begin() as tx:
        tx.documents.put(LAST_RETRAIN, f"{now.isoformat()} {seq}", now)
    return len(cards)


def tick_all(workspace: Workspace, crisis: CrisisMode | None = None,
             now: datetime | None = None, stop: threading.Event | None = None,
             notifier: Any = None, webhooks: Any = None) -> TickAll:
    """One pass of every clock-driven job. `stop`: checked between jobs, so a server asked to
    stop does not first sit through the rest of a pass (each job commits its own work).
    `notifier` (services/notify.Notifier) runs last, after the jobs' own commits, so the SLA
    warnings and escalations of this pass are told in this pass."""
    now = now or workspace.clock.now()
    out = TickAll()
    jobs: list[tuple[str, Any]] = [
        ("sla", lambda: sla.tick(workspace, now)),
        ("approvals", lambda: approvals.tick(workspace.store, workspace.clock, now)),
        ("followup", lambda: followup.tick(workspace.store, workspace.clock, now,
                                           senders=senders_from_env())),
        # live replies a crash left between their record and their send
        ("replies", lambda: replies.tick(workspace.store, workspace.clock)),
    ]
    if crisis is not None:
        jobs.append(("crisis", lambda: crisis.tick(now)))
    # after crisis: a level raised in this pass holds this pass's automated replies
    jobs.append(("autoreply", lambda: autoreply.tick(
        workspace.store, workspace.clock, now, senders=senders_from_env(),
        playbook=workspace.triager().playbook)))
    jobs.append(("learning", lambda: retrain_when_due(workspace, now)))
    jobs.append(("refine", lambda: refine.tick(workspace, now)))
    if notifier is not None:
        jobs.append(("notify", lambda: notifier.tick(now)))
    if webhooks is not None:  # services/webhooks.Webhooks: signed CRM deliveries
        jobs.append(("webhooks", lambda: webhooks.tick(now)))
    for name, job in jobs:
        if stop is not None and stop.is_set():
            out.failed[name] = "skipped: stopping"
            continue
        try:  # one job failing must not stop the others (nor the web app)
            # a cut connection or a deadlock costs a retry, not the pass (jobs are idempotent)
            out.done[name] = retrying(job, what=f"tick job {name}", budget_s=10.0)
        except Exception as exc:
            log.exception("tick job %s failed", name)
            out.failed[name] = f"{exc.__class__.__name__}: {exc}"
    return out
