"""Errors that say where: `PlaybookError` names the file, line and rule at fault, and `_Lines`
finds the line of a document path in the YAML."""

from __future__ import annotations

import re
from typing import Any


class PlaybookError(ValueError):
    """A playbook that cannot be compiled. Says where: file, line and rule."""

    def __init__(self, message: str, *, rule: str | None = None, line: int | None = None,
                 source: str | None = None) -> None:
        self.message, self.rule, self.line, self.source = message, rule, line, source
        where = ":".join(str(p) for p in (source, line) if p)
        prefix = f"{where}: " if where else ""
        subject = f"rule {rule!r}: " if rule else ""
        super().__init__(f"{prefix}{subject}{message}")


# --- where things are in the YAML -------------------------------------------------------------

class _Lines:
    """Maps a path in the document ($.rules[3].then.track) to its line, via yaml's node marks."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def at(self, path: str) -> int | None:
        node, line = self.node, None
        if node is None:
            return None
        line = node.start_mark.line + 1
        for name, index in re.findall(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]", path):
            child = None
            if name and hasattr(node, "value") and isinstance(node.value, list) and (
                    node.tag.endswith(":map")):
                child = next((v for k, v in node.value if getattr(k, "value", None) == name),
                             None)
            elif index and node.tag.endswith(":seq") and int(index) < len(node.value):
                child = node.value[int(index)]
            if child is None:
                break
            node, line = child, child.start_mark.line + 1
        return line
