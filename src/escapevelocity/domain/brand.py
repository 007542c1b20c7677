"""The brand profile: who "we" are in a workspace (names, handles per channel, products,
competitors, executives and spokespeople, campaign hashtags).

Relevance reads it (domain/relevance.py): a post that addresses one of these handles is about
the brand, whatever its words. It is data, set at `ev workspace init` (flags or a YAML file)
and edited by an admin in the web app; every save is a new version (services/brand.py).
Parsed here, at the edge, with clear errors: a profile is typed by people.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import yaml

from escapevelocity.domain import yamlsafe
from escapevelocity.domain.records import CHANNELS

MAX_ITEMS = 500  # per list: a profile is typed by people, not a dump
MAX_CHARS = 120  # per name, handle or product
_HANDLE = re.compile(r"^@?[A-Za-z0-9_.\-]{1,64}$")
_FIELDS = ("name", "names", "handles", "products", "competitors", "executives", "hashtags")


class BrandError(ValueError):
    """A brand profile that cannot be used, with what to fix."""


class BrandProfile(msgspec.Struct, frozen=True, omit_defaults=True):
    """`handles` maps a channel (or "*" for every channel) to the brand's own handles, stored
    lower-case without the "@"."""

    name: str = ""
    names: tuple[str, ...] = ()  # other names the brand goes by ("Orbit", "Orbit Telecom")
    handles: dict[str, tuple[str, ...]] = {}
    products: tuple[str, ...] = ()
    competitors: tuple[str, ...] = ()
    executives: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.name or self.names or self.handles or self.products or self.hashtags)

    def all_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for n in (self.name, *self.names) if n))

    def handles_for(self, channel: str) -> frozenset[str]:
        return frozenset((*self.handles.get("*", ()), *self.handles.get(channel, ())))

    def all_handles(self) -> frozenset[str]:
        return frozenset(h for hs in self.handles.values() for h in hs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.names:
            out["names"] = list(self.names)
        if self.handles:
            everywhere = self.handles.get("*", ())
            rest = {c: [f"@{h}" for h in hs] for c, hs in self.handles.items() if c != "*"}
            out["handles"] = ([f"@{h}" for h in everywhere] if not rest else
                              {**({"all": [f"@{h}" for h in everywhere]} if everywhere else {}),
                               **rest})
        for key in ("products", "competitors", "executives", "hashtags"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in (x.strip() for x in value.split(",")) if v]
    if not isinstance(value, list):
        raise BrandError(f"{key}: expected a list of strings, got {type(value).__name__}")
    if len(value) > MAX_ITEMS:
        raise BrandError(f"{key}: at most {MAX_ITEMS} entries, got {len(value)}")
    out = []
    for item in value:
        if not isinstance(item, (str, int)) or isinstance(item, bool):
            raise BrandError(f"{key}: {item!r} is not a string")
        text = str(item).strip()
        if len(text) > MAX_CHARS:
            raise BrandError(f"{key}: {text[:40]!r}… is longer than {MAX_CHARS} characters")
        if text:
            out.append(text)
    return tuple(dict.fromkeys(out))


def _handles(value: Any) -> tuple[str, ...]:
    out = []
    for h in _strings(value, "handles"):
        if not _HANDLE.match(h):
            raise BrandError(f"handles: {h!r} is not a handle (letters, digits, _ . -; "
                             "the @ is optional)")
        out.append(h.lstrip("@").lower())
    return tuple(dict.fromkeys(out))


def parse(data: Mapping[str, Any] | None) -> BrandProfile:
    """A profile from a mapping (a parsed YAML file, form fields, CLI flags)."""
    if data is None:
        return BrandProfile()
    if not isinstance(data, Mapping):
        raise BrandError("a brand profile is a mapping with name, handles, products, …")
    unknown = sorted(set(map(str, data)) - set(_FIELDS))
    if unknown:
        raise BrandError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(_FIELDS)}")
    name = data.get("name") or ""
    if not isinstance(name, str) or len(name) > MAX_CHARS:
        raise BrandError(f"name: a string of at most {MAX_CHARS} characters")
    raw = data.get("handles")
    handles: dict[str, tuple[str, ...]] = {}
    if isinstance(raw, Mapping):
        for channel, hs in raw.items():
            ch = "*" if str(channel) in ("all", "*") else str(channel)
            if ch != "*" and ch not in CHANNELS:
                raise BrandError(f"handles: unknown channel {channel!r}; one of all, "
                                 f"{', '.join(CHANNELS)}")
            if parsed := _handles(hs):
                handles[ch] = parsed
    elif (parsed := _handles(raw)):
        handles["*"] = parsed
    tags = tuple(t if t.startswith("#") else f"#{t}" for t in _strings(data.get("hashtags"),
                                                                         "hashtags"))
    return BrandProfile(name=name.strip(), names=_strings(data.get("names"), "names"),
                        handles=handles, products=_strings(data.get("products"), "products"),
                        competitors=_strings(data.get("competitors"), "competitors"),
                        executives=_strings(data.get("executives"), "executives"),
                        hashtags=tags)


def parse_yaml(text: str) -> BrandProfile:
    try:
        data = yamlsafe.load(text or "")
    except yaml.YAMLError as exc:
        raise BrandError(f"not valid YAML: {exc}") from None
    return parse(data or {})


def from_flags(name: str | None, handles: Iterable[str], products: Iterable[str],
               competitors: Iterable[str] = (), executives: Iterable[str] = (),
               hashtags: Iterable[str] = ()) -> BrandProfile:
    return parse({"name": name or "", "handles": list(handles), "products": list(products),
                  "competitors": list(competitors), "executives": list(executives),
                  "hashtags": list(hashtags)})
