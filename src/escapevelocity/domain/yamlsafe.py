"""YAML from members, bounded before it is expanded.

PyYAML's safe loader refuses object tags but not a document that is small on the wire and huge
in memory: aliases of aliases (`&x1 [*x0, *x0, …]`, "billion laughs") expand geometrically once
anything walks the result, and deep nesting exhausts the stack. A 6 KB playbook of six such
levels took 190 s and 920 MB of a web worker. This loader counts while it composes, before
anything is constructed or walked: the bytes, the alias uses, the nesting depth and the number
of nodes the document stands for with every alias expanded, and refuses the document the
moment one passes its limit, naming the limit and the line.

Every parse of YAML that a member, an operator or a file can supply goes through `load`
(playbooks, the organisation, the vocabulary, drill scenarios, engagement settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import Node
from yaml.resolver import Resolver

try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    CParser = None


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1_000_000
    max_aliases: int = 1_000  # uses of `*name`: a playbook shares a condition a few times
    max_depth: int = 64  # a rule's condition tree is a few levels deep
    max_nodes: int = 250_000  # scalars, lists and mappings, every alias expanded


DEFAULT = Limits()


class YamlLimitError(yaml.MarkedYAMLError):
    """A document refused for its size or shape (a subclass of YAMLError, so every caller that
    reports bad YAML reports this too, with its line)."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def _loader(limits: Limits) -> type:
    class Counting(Composer):
        """Python's composer, counting as it composes. Its events come from libyaml's parser
        when PyYAML was built with it (about three times faster than the Python parser, and
        the parse is most of a check), else from the Python parser; never libyaml's own
        composer, which would expand before we could count."""

        def _start_counts(self) -> None:
            self._aliases = 0
            self._depth = 0
            self._children: list[int] = []  # expanded size of the children so far, per level
            self._sizes: dict[int, int] = {}  # id(node) -> expanded size, once complete

        def compose_node(self, parent: Node | None, index: Any) -> Node:
            if self.check_event(AliasEvent):
                event = self.peek_event()
                self._aliases += 1
                if self._aliases > limits.max_aliases:
                    raise YamlLimitError(f"refused: more than {limits.max_aliases:,} aliases "
                                         "(*name) in one document", event.start_mark)
                target = self.anchors.get(event.anchor)
                if target is not None:
                    size = self._sizes.get(id(target))
                    if size is None:
                        raise YamlLimitError(f"refused: the alias *{event.anchor} refers to "
                                             "a node that contains it", event.start_mark)
                    self._count(size, event.start_mark)
                return super().compose_node(parent, index)
            mark = self.peek_event().start_mark
            self._depth += 1
            if self._depth > limits.max_depth:
                raise YamlLimitError(f"refused: nested more than {limits.max_depth} levels "
                                     "deep", mark)
            self._children.append(0)
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
                inner = self._children.pop()
            self._sizes[id(node)] = 1 + inner
            self._count(1 + inner, mark)
            return node

        def _count(self, size: int, mark: Any) -> None:
            if size > limits.max_nodes:
                raise YamlLimitError(f"refused: the document expands to more than "
                                     f"{limits.max_nodes:,} values (aliases of aliases?)",
                                     mark)
            if self._children:
                self._children[-1] += size
                if self._children[-1] > limits.max_nodes:
                    raise YamlLimitError(f"refused: the document expands to more than "
                                         f"{limits.max_nodes:,} values (aliases of aliases?)",
                                         mark)

    if CParser is not None:
        class BoundedLoader(Counting, CParser, SafeConstructor, Resolver):
            def __init__(self, stream: str) -> None:
                CParser.__init__(self, stream)
                SafeConstructor.__init__(self)
                Resolver.__init__(self)
                Composer.__init__(self)
                self._start_counts()
    else:
        class BoundedLoader(Counting, yaml.SafeLoader):  # type: ignore[no-redef]
            def __init__(self, stream: str) -> None:
                yaml.SafeLoader.__init__(self, stream)
                self._start_counts()

    return BoundedLoader


_LOADERS: dict[Limits, type] = {}


def compose(text: str, limits: Limits = DEFAULT) -> tuple[Any, Node | None]:
    """The data and its node tree (for line numbers), or YamlLimitError / YAMLError."""
    if len(text) > limits.max_bytes or len(text.encode("utf-8", "surrogatepass")) \
            > limits.max_bytes:
        raise YamlLimitError(f"refused: the document is larger than {limits.max_bytes:,} "
                             "bytes")
    cls = _LOADERS.get(limits)
    if cls is None:
        cls = _LOADERS[limits] = _loader(limits)
    loader = cls(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise YamlLimitError("refused: the document is nested too deeply") from None
    finally:
        loader.dispose()
    return data, node


def load(text: str, limits: Limits = DEFAULT) -> Any:
    """`yaml.safe_load`, bounded: the one way to read YAML that did not ship with the code."""
    return compose(text, limits)[0]
