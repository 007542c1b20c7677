"""Which build of the rules runs. setup.py compiles the rules' one Python text (enrich.py,
severity.py, language.py, tone.py: `RULES`) with Cython, as it is, into extension modules
that Python imports in preference to the .py (docs/decisions/0007-one-text-of-the-rules.md).
Each build ends with a call of `keep_or_replace` carrying the SHA-256 of the .py it was
compiled from; a build from another text than the .py beside it must not run (a checkout or an
edit since `make install`), and EV_PURE_PYTHON=1 asks for the Python: in either case the .py
is loaded in the extension's place. The .py itself never calls this: it is the text, never stale.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import warnings
from pathlib import Path

# The modules setup.py compiles, in the order they import each other (severity and language
# before enrich).
RULES = ("escapevelocity.domain.severity", "escapevelocity.domain.language",
         "escapevelocity.domain.tone", "escapevelocity.domain.enrich")


def source_of(name: str) -> Path:
    """The .py of a module in this package: the text its build was compiled from."""
    return Path(__file__).with_name(name.rpartition(".")[2] + ".py")


def sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def keep_or_replace(name: str, built_from: str) -> None:
    """Called by a compiled rule module as its last statement, while it is being imported:
    keep it when it was built from the .py beside it (and the Python is not asked for), else
    run the .py in its place (the import then returns the module in sys.modules)."""
    pure = bool(os.environ.get("EV_PURE_PYTHON"))
    source = source_of(name)
    current = sha256(source)
    if current is None or (current == built_from and not pure):
        return  # no source beside it (nothing to be stale against), or the current build
    if not pure:
        warnings.warn(f"domain/{source.name} changed since its extension was built: running "
                      "its Python; run `make install`", RuntimeWarning, stacklevel=2)
    spec = importlib.util.spec_from_file_location(name, source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def running() -> dict[str, str]:
    """module -> "compiled" or "python": which build of each rule module this process runs
    (the bench and scripts/compare_decisions.py say so)."""
    return {name: "python" if sys.modules[name].__file__.endswith(".py") else "compiled"
            for name in RULES if name in sys.modules}
