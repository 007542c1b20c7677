"""Telling admins when a connection breaks or recovers, through the paging transports
(adapters/notify: webhook, Slack-compatible, SMTP; recorded when none is configured).

Only changes that need a person are sent: into `failing` or `credentials_expired`, and back
to working from one of them. `degraded` is shown on the Channels page, never sent: a network
that answered after a retry does not need anyone at night. The recipients are the members
whose role may configure the workspace (domain/permissions.py). Per-member preferences and
the bell belong to the notifications work of issue 17.
"""

from __future__ import annotations

from datetime import datetime

from escapevelocity.adapters.notify.pager import Page, Pager
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.channel_health import PROBLEMS


def worth_telling(before: str, after: str) -> bool:
    if before == after:
        return False
    return after in PROBLEMS or (before in PROBLEMS and after in ("connected", "degraded"))


class HealthAlerts:
    def __init__(self, store, pager: Pager, url: str = "") -> None:
        self.store, self.pager, self.url = store, pager, url

    def __call__(self, name: str, before: str, after: str, error: str, now: datetime) -> int:
        if not worth_telling(before, after):
            return 0
        with self.store.begin() as tx:
            org = tx.org.load()
        admins = [m for m in org.members if perm.allowed([m.role], perm.CONFIGURE)]
        what = (f"connection {name} is {after.replace('_', ' ')}"
                + (f": {error}" if error and after in PROBLEMS else f" again (was {before})"))
        for member in admins:
            self.pager.page(Page(incident=f"connection:{name}", role="channel-admin",
                                 member=member.id, level=after, summary=what[:300], at=now,
                                 url=f"{self.url}/admin/channels" if self.url else ""))
        return len(admins)
