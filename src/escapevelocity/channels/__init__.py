"""Channels: one sub-package per network, each with client.py (its well-kept client library),
parse.py (pure: payload → Mention) and fixtures/ (recorded payload shapes). A channel package
registers itself by exposing `CHANNEL` (channels/base.Channel) in its __init__; `registry()`
finds every sub-package, so adding a channel is adding a folder.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading

from escapevelocity.channels.base import Channel

log = logging.getLogger(__name__)
_REGISTRY: dict[str, Channel] = {}
_SKIP = {"base", "runner", "health", "fakes"}
_FINDING = threading.Lock()


def registry() -> dict[str, Channel]:
    """Every channel, found once per process. Filled whole under a lock: a second thread
    (the web app's clock jobs polling while a request or a test polls too) saw the registry
    half filled and was told 'unknown channel rss' (a browser test, 1 run in 5)."""
    with _FINDING:
        if not _REGISTRY:
            found: dict[str, Channel] = {}
            for info in pkgutil.iter_modules(__path__):
                if not info.ispkg or info.name in _SKIP:
                    continue
                module = importlib.import_module(f"{__name__}.{info.name}")
                channel = getattr(module, "CHANNEL", None)
                if isinstance(channel, Channel):
                    found[channel.name] = channel
            _REGISTRY.update(found)
    return dict(_REGISTRY)


def get(name: str) -> Channel:
    channels = registry()
    if name not in channels:
        raise ValueError(f"unknown channel {name!r}; channels: {', '.join(sorted(channels))}")
    return channels[name]
