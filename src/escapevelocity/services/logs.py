"""Structured logs: one JSON object a line on stderr (EV_LOG_FORMAT=json, the default for
`ev worker`; `text` for people at a terminal), so a log shipper needs no parsing rules.

Standard library only: a formatter, not a dependency. Fields: ts (UTC, ISO 8601), level,
logger, msg, and the exception's text when there is one; `extra={...}` fields are kept.
"""

from __future__ import annotations

import json
import logging
import os
import time

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
               + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name,
               "msg": record.getMessage(), "pid": record.process}
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(default: str = "json") -> None:
    """Once per process, before the first log line."""
    fmt = os.environ.get("EV_LOG_FORMAT", default)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("EV_LOG_LEVEL", "INFO").upper())
