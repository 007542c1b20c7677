"""The databases' ways of saying "not now, try again" (services/retry.py decides to)."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

# deadlock, serialization failure, unique violation, connection gone, admin shutdown/terminate
_PG_RETRY = {"40P01", "40001", "23505", "08000", "08003", "08006", "57P01", "57P02", "57P03"}


def transient(exc: BaseException) -> bool:
    """Whether running the transaction again may succeed. Bulk paths use the DBAPI cursor, so
    the driver's own exceptions (sqlite3, psycopg) arrive here as well as SQLAlchemy's."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
    elif type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg"):
        orig = exc
    else:
        return False
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in _PG_RETRY:
        return True
    text = str(orig).lower()
    return ("database is locked" in text or "database is busy" in text
            or "unique constraint failed" in text
            or "server closed the connection" in text or "terminating connection" in text
            or "consuming input failed" in text or "connection is closed" in text
            or "connection is lost" in text or "the connection is bad" in text)
