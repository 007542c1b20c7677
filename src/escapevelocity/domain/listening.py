"""Listening queries: which posts a connection keeps, written the way people search.

    acme "broken checkout" OR @acme_help -giveaway lang:en
    (refund OR chargeback) AND NOT (lang:de OR @spam_bot)

Words and "quoted phrases" match whole words, case-insensitively; `@handle` matches the author
or a mention of the handle in the text; `lang:xx` the language the channel reported; `-x` and
`NOT x` exclude; terms side by side mean AND; AND binds tighter than OR; parentheses group.
The empty query keeps everything. One parser and one evaluator serve the connectors (what to
keep), the server-side search terms they send, and the preview over stored mentions.

Queries are typed by admins but stored and evaluated against hostile posts: the query is
bounded in length and depth, and evaluation is linear in the post with no regular expressions
built from user text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_CHARS = 2_000
MAX_DEPTH = 32


class QueryError(ValueError):
    """A query that cannot be parsed; the message says where."""


@dataclass(frozen=True)
class Term:
    kind: str  # word / phrase / handle / lang
    value: str  # normalised: lowercase, words joined by one space, no leading @


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Term | Not | And | Or
EVERYTHING = And(())  # the empty query


@dataclass(frozen=True)
class Post:
    """What a query looks at: a post's text, its author's handle and reported language."""

    text: str
    handle: str = ""
    lang: str = ""


_WORD = re.compile(r"[\w']+|[#@$][\w.']+")
_KEYWORDS = {"AND", "OR", "NOT"}


def words(text: str) -> list[str]:
    """The words of a text as queries see them: NFKC, casefolded; #tags and @handles keep
    their sigil as separate words too, so `refund` finds `#refund`."""
    out: list[str] = []
    for w in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
        w = w.rstrip(".'")
        if not w:
            continue
        out.append(w)
        if w[0] in "#@$" and len(w) > 1:
            out.append(w[1:])
    return out


# --- parsing -----------------------------------------------------------------------------------

def _tokens(query: str) -> list[tuple[str, str, int]]:
    """(type, text, position) with types ( ) OP TERM NEG."""
    out: list[tuple[str, str, int]] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append((c, c, i))
            i += 1
        elif c == "-" and i + 1 < n and not query[i + 1].isspace():
            out.append(("NEG", "-", i))
            i += 1
        elif c == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError(f"unclosed quote at character {i + 1}")
            out.append(("PHRASE", query[i + 1:end], i))
            i = end + 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in '()"':
                j += 1
            text = query[i:j]
            out.append(("OP" if text in _KEYWORDS else "TERM", text, i))
            i = j
    return out


def _term(kind: str, raw: str, pos: int) -> Term:
    if kind == "PHRASE":
        ws = words(raw)
        if not ws:
            raise QueryError(f"empty phrase at character {pos + 1}")
        return Term("phrase", " ".join(ws)) if len(ws) > 1 else Term("word", ws[0])
    low = raw.casefold()
    if low.startswith("lang:"):
        lang = low[5:]
        if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})?", lang):
            raise QueryError(f"bad language {raw!r} at character {pos + 1} (e.g. lang:en)")
        return Term("lang", lang.split("-")[0])
    if low.startswith("@"):
        handle = low[1:].strip(".")
        if not handle:
            raise QueryError(f"empty handle at character {pos + 1}")
        return Term("handle", handle)
    ws = words(raw)
    if not ws:
        raise QueryError(f"nothing to search for in {raw!r} at character {pos + 1}")
    ws = [w for w in ws if w[0] not in "#$"] or ws  # `#refund` means the word refund
    return Term("word", ws[0]) if len(ws) == 1 else Term("phrase", " ".join(ws))


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]]) -> None:
        self.t = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def parse(self) -> Node:
        if not self.t:
            return EVERYTHING
        node = self.or_()
        tok = self.peek()
        if tok is not None:
            raise QueryError(f"unexpected {tok[1]!r} at character {tok[2] + 1}")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while (tok := self.peek()) is not None and tok[:2] == ("OP", "OR"):
            self.i += 1
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(_flatten(Or, items))

    def and_(self) -> Node:
        items = [self.unary()]
        while (tok := self.peek()) is not None and tok[0] != ")" and tok[:2] != ("OP", "OR"):
            if tok[:2] == ("OP", "AND"):
                self.i += 1
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(_flatten(And, items))

    def unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("the query ends where a term was expected")
        kind, text, pos = tok
        if kind == "NEG" or (kind, text) == ("OP", "NOT"):
            self.i += 1
            return Not(self.nested(self.unary))
        if kind == "(":
            self.i += 1
            node = self.nested(self.or_)
            close = self.peek()
            if close is None or close[0] != ")":
                raise QueryError(f"unclosed parenthesis at character {pos + 1}")
            self.i += 1
            return node
        if kind in ("TERM", "PHRASE"):
            self.i += 1
            return _term(kind, text, pos)
        raise QueryError(f"unexpected {text!r} at character {pos + 1}")

    def nested(self, rule):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"the query nests deeper than {MAX_DEPTH}")
        try:
            return rule()
        finally:
            self.depth -= 1


def _flatten(kind: type, items: list[Node]) -> tuple[Node, ...]:
    """(a AND b) AND c is a AND b AND c: one canonical tree per meaning of grouping."""
    out: list[Node] = []
    for item in items:
        out += item.items if type(item) is kind else [item]
    return tuple(out)


def parse(query: str) -> Node:
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"a query is at most {MAX_QUERY_CHARS} characters")
    return _Parser(_tokens(query)).parse()


def render(node: Node) -> str:
    """The canonical text of a query (parse(render(q)) == q)."""
    if isinstance(node, Term):
        return {"word": node.value, "phrase": f'"{node.value}"', "handle": f"@{node.value}",
                "lang": f"lang:{node.value}"}[node.kind]
    if isinstance(node, Not):
        return f"NOT {_wrap(node.item)}"
    if isinstance(node, And):
        return " AND ".join(_wrap(i) for i in node.items)
    return " OR ".join(_wrap(i) for i in node.items)


def _wrap(node: Node) -> str:
    return f"({render(node)})" if isinstance(node, And | Or) else render(node)


# --- evaluation --------------------------------------------------------------------------------

class Query:
    """A parsed query, ready to test many posts."""

    def __init__(self, text: str = "") -> None:
        self.text = text
        self.node = parse(text)

    def __call__(self, post: Post) -> bool:
        return matches(self.node, post)

    def search_terms(self) -> list[str]:
        """Positive words, phrases and handles, for a network's server-side search (the
        query itself is always applied again to what comes back)."""
        out: list[str] = []
        _positive(self.node, out, negated=False)
        return list(dict.fromkeys(out))


def _positive(node: Node, out: list[str], negated: bool) -> None:
    if isinstance(node, Term):
        if not negated and node.kind != "lang":
            out.append(render(node))
    elif isinstance(node, Not):
        _positive(node.item, out, not negated)
    else:
        for item in node.items:
            _positive(item, out, negated)


def matches(node: Node, post: Post) -> bool:
    ws = words(post.text[:100_000])
    seen = set(ws)
    joined = f" {' '.join(ws)} "
    handle = post.handle.casefold().lstrip("@")
    lang = post.lang.casefold().split("-")[0]

    def ev(n: Node) -> bool:
        if isinstance(n, Term):
            if n.kind == "word":
                return n.value in seen
            if n.kind == "phrase":
                return f" {n.value} " in joined
            if n.kind == "handle":
                return handle == n.value or handle.split("@")[0] == n.value or (
                    "@" + n.value) in seen
            return lang == n.value
        if isinstance(n, Not):
            return not ev(n.item)
        if isinstance(n, And):
            return all(ev(i) for i in n.items)
        return any(ev(i) for i in n.items)

    return ev(node)
