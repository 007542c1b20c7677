"""The bus ports: how committed events reach live views and workers.

`Feed` gives ordered changes after a cursor (live views read it); `LogTailFeed` serves the
embedded deployment from the event log. `Bus` is publish/subscribe for in-process
notifications (`InlineBus`). The scale-out deployment puts NATS JetStream behind both; callers
never know which they have.
"""

from escapevelocity.adapters.bus.feed import Change, Feed, LogTailFeed, Nudge, Tail
from escapevelocity.adapters.bus.inline import Bus, InlineBus

__all__ = ["Bus", "Change", "Feed", "InlineBus", "LogTailFeed", "Nudge", "Tail"]
