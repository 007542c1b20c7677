"""Why a case command was refused, in words a person can act on.

Domain errors, not web or store ones: the services raise them, the web maps them to a page or
a JSON error, the CLI prints them. `ClaimTaken` lives here with the rest (it used to sit in
the store, which only reports that a conditional update lost).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escapevelocity.domain.events import Event


class CaseError(Exception):
    """A command that cannot be carried out, with a message a person can act on."""


class CaseNotFound(CaseError):
    pass


class CaseChanged(CaseError):
    """The optimistic version check lost: someone (or a clock job) wrote the case between
    this command's read and its write. Safe to run the command again on the fresh case."""


class ConversationChanged(CaseError):
    """The send-time guard: the conversation moved on since the draft began."""

    def __init__(self, changes: list[Event]) -> None:
        self.changes = changes
        what = ", ".join(f"{e.kind.replace('_', ' ')} by {e.actor} at {e.at:%H:%M}"
                         for e in changes[:5])
        super().__init__(f"the conversation changed since you started: {what}; "
                         "read it and send again")


class ClaimTaken(Exception):
    """Another member holds the lease (or the case is closed): says who, and until when."""

    def __init__(self, holder: str | None, until: datetime | None) -> None:
        self.holder, self.until = holder, until
        super().__init__(f"claimed by {holder} until {until:%H:%M}" if holder and until
                         else "case is not open")
