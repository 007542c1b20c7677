"""The pure pipeline: enrich → decide → route for one mention.

`Triager` holds what is compiled once (lexicons, playbook, organisation) and is shared by
`ev triage` (no database), the ingest service, drills and evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from escapevelocity.domain.brand import BrandProfile
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.governance import unit_team
from escapevelocity.domain.org import Organisation
from escapevelocity.domain.playbook import Context, Playbook
from escapevelocity.domain.records import Decision, Mention, Signals, Triage
from escapevelocity.domain.relevance import Relevance
from escapevelocity.domain.routing import RoutingState, route


@dataclass
class Triager:
    enricher: Enricher
    playbook: Playbook
    org: Organisation
    brand: BrandProfile = field(default_factory=BrandProfile)
    # live unit-owned connections -> the unit's team (domain/governance.owners)
    owners: dict[str, str] = field(default_factory=dict)
    relevance: Relevance = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.relevance = Relevance(self.brand)

    def signals(self, mention: Mention) -> Signals:
        """The rules' (and learned models') signals, then what the brand profile knows."""
        return self.relevance.apply(mention, self.enricher.enrich(self.relevance.masked(mention)))

    def signals_many(self, mentions: Sequence[Mention]) -> list[Signals]:
        """Signals for a batch: learned models that need a forward pass run it once."""
        rel = self.relevance
        found = self.enricher.enrich_many([rel.masked(m) for m in mentions])
        return [rel.apply(m, s) for m, s in zip(mentions, found, strict=True)]

    def decide(self, mention: Mention, context: Context = Context()) -> Decision:
        """The playbook's decision alone (evaluation of "needs a response")."""
        return self.playbook.decide(self.relevance.masked(mention), self.signals(mention),
                                    context)

    def decide_with(self, mention: Mention, signals: Signals,
                    context: Context = Context()) -> Decision:
        """The playbook's decision on these signals, then the unit's own channel: a mention
        that came through a live unit-owned connection goes to the unit when the playbook
        gave it to a hub (domain/governance.unit_team). Ingest and a correction both ask here,
        so a corrected case does not fall back to the hub."""
        decision = self.playbook.decide(self.relevance.masked(mention), signals, context)
        if self.owners and mention.via in self.owners:
            team = unit_team(decision.team, mention.via, self.owners, self.org)
            if team != decision.team:
                decision = msgspec.structs.replace(
                    decision, team=team, explanation=f"{decision.explanation}; {team}'s own "
                    f"channel ({mention.via})")
        return decision

    def triage(self, mention: Mention, state: RoutingState, now: datetime,
               context: Context = Context(), signals: Signals | None = None,
               prefer: str | None = None) -> Triage:
        signals = signals or self.signals(mention)
        # the playbook's keyword lists read the masked text too ("Fire TV Stick" is no fire)
        decision = self.decide_with(mention, signals, context)
        assignment = route(decision, signals, self.org, state, now, prefer=prefer)
        return Triage(mention, signals, decision, assignment)
