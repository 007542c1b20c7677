"""Intake: what every live entry point (HTTP API, demo replay, `ev ingest`) does with a batch.

Crisis mode sees the batch first (so a spike can raise the level before its own cases are
decided), then the batch is ingested with the crisis level in the decision context. Drills
use the same pair on their own sandbox workspace.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from escapevelocity.adapters.notify.pager import pager_from_env
from escapevelocity.domain.channel_health import is_historical
from escapevelocity.domain.records import Mention
from escapevelocity.services import advocacy, autoreply
from escapevelocity.services.crisis import CrisisMode
from escapevelocity.services.ingest import IngestReport, ingest_batch
from escapevelocity.services.retry import retrying
from escapevelocity.services.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class Intake:
    workspace: Workspace
    crisis: CrisisMode | None = None
    senders: Any = None  # adapters/outbound.Senders for automated replies (dry run when None)

    @classmethod
    def open(cls, workspace: Workspace, *, crisis: bool = True) -> Intake:
        # Pages go to the transports configured in EV_PAGE_* (a recording fake when none).
        mode = (CrisisMode.open(workspace.store, workspace.clock, pager_from_env(dict(os.environ)))
                if crisis else None)
        return cls(workspace, mode)

    def take(self, batch: list[Mention], *, historical: bool = False,
             live_since: datetime | None = None) -> IngestReport:
        """`historical`: the whole batch is a backfill or an import. Otherwise each mention is
        historical when domain/channel_health.is_historical says so (written long before it
        arrived, or before its connection went live at `live_since`). Historical mentions are
        ingested like any other but never reach the crisis detectors."""
        now = self.workspace.clock.now()
        batch = [msgspec.structs.replace(m, historical=True)
                 if not m.historical and (historical or is_historical(m.created_at, now,
                                                                       live_since))
                 else m for m in batch]
        triager = retrying(self.workspace.triager, what="triager")  # reads the active playbook
        context = signals = None
        if self.crisis is not None:
            signals = triager.signals_many(batch)  # enriched once, used twice
            self.crisis.observe(batch, signals)
            context = self.crisis.context()
        report = ingest_batch(self.workspace.store, triager, now, batch,
                              context=context, away_after=self.workspace.away_after,
                              signals=signals)
        if report.opened:  # questions a super user is good at go to the community spoke
            try:
                advocacy.route_to_community(self.workspace.store, self.workspace.clock,
                                            report.case_ids)
            except Exception:
                log.exception("community routing after ingest failed")
        if report.case_ids and autoreply.playbook_allows(triager.playbook):
            # after the batch committed: a failed automated reply never loses a mention
            try:
                autoreply.after_ingest(self.workspace.store, self.workspace.clock,
                                       report.case_ids, senders=self.senders)
            except Exception:
                log.exception("automated replies after ingest failed")
        return report
