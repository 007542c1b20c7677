"""The crisis detectors' learned state as JSON, so it survives a restart.

The detectors learn each hour's expected volume and negative share over weeks; a process that
started from a quiet slate would neither see a spike nor trust its baseline for days. The shell
(services/crisis.py) saves `dump(...)` in a document on each tick and `load`s it at start.

Not pickle: loading restores only the crisis package's own classes (an allow-list), plain
containers and numbers, so a row in the database can never name code to run.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import msgspec

from escapevelocity.domain.crisis import detectors, model, monitor, ops

_CLASSES: dict[str, type] = {
    f"{c.__module__.rsplit('.', 1)[1]}.{c.__qualname__}": c
    for c in (monitor.CrisisMonitor, monitor._Series, detectors.SeasonalBaseline,
              detectors._Cooldown, detectors.VolumeDetector, detectors.ShareDetector,
              ops.OpsDetector)
}
_STRUCTS: dict[str, type] = {
    f"{c.__module__.rsplit('.', 1)[1]}.{c.__qualname__}": c
    for c in (model.Settings, model.Alert, ops.OpsSettings)
}
_NAME = {v: k for k, v in (_CLASSES | _STRUCTS).items()}
VERSION = 1


def _fields(obj: Any) -> list[str]:
    names: list[str] = []
    for klass in type(obj).__mro__:
        names += [s for s in getattr(klass, "__slots__", ()) if s not in names]
    return names + [k for k in getattr(obj, "__dict__", {}) if k not in names]


def _out(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else {"$f": repr(v)}
    if isinstance(v, list):
        return [_out(x) for x in v]
    if isinstance(v, tuple):
        return {"$t": [_out(x) for x in v]}
    if isinstance(v, deque):
        return {"$q": [_out(x) for x in v], "max": v.maxlen}
    if isinstance(v, dict):
        return {"$d": [[_out(k), _out(x)] for k, x in v.items()]}
    if isinstance(v, msgspec.Struct) and type(v) in _NAME:
        return {"$s": _NAME[type(v)], "v": msgspec.to_builtins(v)}
    if type(v) in _NAME:
        return {"$o": _NAME[type(v)],
                "v": {k: _out(getattr(v, k)) for k in _fields(v) if hasattr(v, k)}}
    raise TypeError(f"crisis snapshot: cannot keep a {type(v).__name__}")


def _in(v: Any) -> Any:
    if isinstance(v, list):
        return [_in(x) for x in v]
    if not isinstance(v, dict):
        return v
    if "$f" in v:
        return float(v["$f"])
    if "$t" in v:
        return tuple(_in(x) for x in v["$t"])
    if "$q" in v:
        return deque((_in(x) for x in v["$q"]), maxlen=v["max"])
    if "$d" in v:
        return {_in(k): _in(x) for k, x in v["$d"]}
    if "$s" in v:
        return msgspec.convert(v["v"], _STRUCTS[v["$s"]])  # KeyError: not ours
    if "$o" in v:
        obj = _CLASSES[v["$o"]].__new__(_CLASSES[v["$o"]])
        for k, x in v["v"].items():
            object.__setattr__(obj, k, _in(x))
        return obj
    raise ValueError("crisis snapshot: unknown value")


def dump(state: dict[str, Any]) -> bytes:
    return msgspec.json.encode({"version": VERSION, "state": _out(state)})


def load(raw: bytes | str) -> dict[str, Any] | None:
    """The state, or None when the snapshot is from another version (start afresh)."""
    doc = msgspec.json.decode(raw)
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        return None
    return _in(doc["state"])
