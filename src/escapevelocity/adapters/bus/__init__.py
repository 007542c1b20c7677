"""The bus port: how committed events reach live views and workers.

`InlineBus` serves the embedded deployment (one process). The scale-out deployment puts NATS
JetStream behind the same two methods; callers never know which they have.
"""

from escapevelocity.adapters.bus.inline import Bus, InlineBus

__all__ = ["Bus", "InlineBus"]
