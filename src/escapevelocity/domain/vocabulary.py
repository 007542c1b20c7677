"""The workspace's own vocabulary: its products and topics, and its lists of who is who.

Identities cannot be confirmed from a post; lists kept by the team are the best evidence, so
author classes come from these first and from cues (bio, reach) second.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec


class Vocabulary(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    products: dict[str, list[str]] = {}
    journalists: frozenset[str] = frozenset()
    media_bio_cues: tuple[str, ...] = ("reporter", "journalist", "editor at", "correspondent")
    employees: frozenset[str] = frozenset()
    partners: frozenset[str] = frozenset()
    competitors: frozenset[str] = frozenset()
    trolls: frozenset[str] = frozenset()
    customers: frozenset[str] = frozenset()
    vips: frozenset[str] = frozenset()
    bots: frozenset[str] = frozenset()
    # Reach that makes an author an influencer here: a local bakery's threshold is not an
    # airline's. The reason names the tier (10x and 100x the threshold: macro, mega).
    influencer_followers: Annotated[int, msgspec.Meta(ge=1)] = 10_000
    # Names that say a post is about the brand wherever they appear in it, lower-case ("orbit"):
    # a post with no situation that names the brand is "other", not "off_topic".
    brand_names: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Vocabulary:
        """Handles are compared lower-case without '@'; raises ValueError naming a bad key."""
        data = dict(data or {})
        for key in ("journalists", "employees", "partners", "competitors", "trolls",
                    "customers", "vips", "bots"):
            if key in data:
                data[key] = [str(h).lower().lstrip("@") for h in data[key] or ()]
        if "brand_names" in data:
            data["brand_names"] = [str(n).lower() for n in data["brand_names"] or () if str(n)]
        if "media_bio_cues" in data:
            data["media_bio_cues"] = [str(c).lower() for c in data["media_bio_cues"] or ()]
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise ValueError(f"vocabulary: {exc}") from None
