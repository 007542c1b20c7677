"""In-process bus: subscribers are called after commit, in the publisher's thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

Handler = Callable[[str, dict[str, Any]], None]


class Bus(Protocol):
    def publish(self, subject: str, message: dict[str, Any]) -> None: ...
    def subscribe(self, subject: str, handler: Handler) -> Callable[[], None]: ...


class InlineBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._lock = threading.Lock()

    def publish(self, subject: str, message: dict[str, Any]) -> None:
        with self._lock:
            handlers = list(self._handlers.get(subject, ())) + list(self._handlers.get("*", ()))
        for handler in handlers:
            handler(subject, message)

    def subscribe(self, subject: str, handler: Handler) -> Callable[[], None]:
        with self._lock:
            self._handlers.setdefault(subject, []).append(handler)

        def unsubscribe() -> None:
            with self._lock:
                self._handlers[subject].remove(handler)

        return unsubscribe
