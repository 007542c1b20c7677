"""Channels: one sub-package per network, each with client.py (its well-kept client library),
parse.py (pure: payload → Mention) and fixtures/ (recorded payload shapes). A channel package
registers itself by exposing `CHANNEL` (channels/base.Channel) in its __init__; `registry()`
finds every sub-package, so adding a channel is adding a folder.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

from escapevelocity.channels.base import Channel

log = logging.getLogger(__name__)
_REGISTRY: dict[str, Channel] = {}
_SKIP = {"base", "runner", "health", "fakes"}


def registry() -> dict[str, Channel]:
    if not _REGISTRY:
        for info in pkgutil.iter_modules(__path__):
            if not info.ispkg or info.name in _SKIP:
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            channel = getattr(module, "CHANNEL", None)
            if isinstance(channel, Channel):
                _REGISTRY[channel.name] = channel
    return dict(_REGISTRY)


def get(name: str) -> Channel:
    channels = registry()
    if name not in channels:
        raise ValueError(f"unknown channel {name!r}; channels: {', '.join(sorted(channels))}")
    return channels[name]
