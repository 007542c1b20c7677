"""Retrying a whole transaction when the database says "not now, try again".

Concurrent writers meet in three ways that are not errors of the request: a deadlock or
serialization failure (PostgreSQL 40P01/40001, SQLite "database is locked"), a concurrent
writer storing the same natural key first (a unique violation, or `Conflict` raised when an
insert-or-ignore wrote fewer rows than planned), and a connection cut under us (an operator's
`pg_terminate_backend`, a failover). In every case the transaction rolled back as a whole, so
running it again from its reads is safe: the second time the plan sees what the other writer
stored and counts it as a duplicate.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from escapevelocity.adapters.store.errors import transient as database_transient

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 50
BUDGET_S = 30.0  # give up after this long: outlasts a failover or a burst of terminations


class Conflict(Exception):
    """A concurrent writer changed what this transaction planned from; plan it again."""


def transient(exc: BaseException) -> bool:
    """Whether running the transaction again may succeed (adapters/store/errors.py knows the
    databases' ways of saying so)."""
    return isinstance(exc, Conflict) or database_transient(exc)


def retrying(work: Callable[[], T], attempts: int = ATTEMPTS, what: str = "transaction",
             budget_s: float = BUDGET_S) -> T:
    """Run `work` (which opens and commits its own transaction) until it succeeds, fails for
    a reason that is not transient, or `attempts` / `budget_s` run out; backs off with jitter
    so racers fall out of step."""
    give_up = time.monotonic() + budget_s
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Exception as exc:
            if attempt == attempts or not transient(exc) or time.monotonic() > give_up:
                log.warning("%s failed after %d attempts: %s", what, attempt,
                            str(exc).splitlines()[0][:200])
                raise
            log.info("%s retried (%d/%d): %s", what, attempt, attempts,
                     str(exc).splitlines()[0][:200])
            time.sleep(random.uniform(0.01, 0.03) * 2 ** min(attempt, 5))
    raise AssertionError("unreachable")
