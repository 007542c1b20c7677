"""Brand relevance: is a post about us? Applied after enrichment, from the brand profile.

Why a separate step: enrichment reads words, and words alone dropped real customers ("@Tesco
nothing. Sort it out tesco." was off-topic, so monitor, so nobody answered). Who a post is
addressed to is a stronger fact than any word in it, and only the workspace knows its own
handles. So, on top of the rules' situations:

- a post that addresses, replies to or quotes one of the brand's handles is about the brand:
  never off-topic; negative and said to us is a complaint, not venting into the void;
- a post to our handle that complains or asks is a customer, not spam, whatever phrase
  looked like self-promotion;
- a post that names the brand, a product, a campaign hashtag or one of our executives is about
  the brand too;
- off-topic is kept only where a profile says who we are and the post is not about us (a
  listening result); with no profile there is nothing to be off-topic from, so an
  unclassified post is "other" (a person decides), never silently dropped;
- a product or campaign name that contains a danger word ("Fire TV Stick", "Killer Deal") is
  read as a name: the text enrichment and the playbook's keyword lists see is `masked`.

Pure: a profile and a mention in, Signals out; compiled once per profile (`Relevance`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import msgspec

from escapevelocity.domain.brand import BrandProfile
from escapevelocity.domain.records import Mention, Signals

# Words that make a name look like a safety, crisis or legal signal to a word-level reader
# (the crisis cues of domain/lexicon.yaml and the default playbook's safety and legal lists,
# word by word). A product or campaign name that contains one is masked before reading.
DANGER_WORDS = frozenset("""
fire fires burn burning burned burnt smoke smoking explode exploded explosion explosive blast
bomb killer kill kills killing dead death deadly die injury injured hospital shock melted
melt dangerous unsafe toxic poison crash crashing emergency gun shot shooter attack weapon
sue lawsuit lawyer attorney legal court hazard flame flames inferno spark sparked scorch
""".split())  # noqa: SIM905 (a word list reads best as words)
MASK = "product"
# The rules of this module by name, so an evaluation can leave one out and measure what it is
# worth on each set (scripts/respond_cv.py); a workspace always runs them all.
RULES = frozenset({"addressed", "named", "venting_is_complaint", "customer_not_spam", "mask"})


def _name_pattern(names: list[str]) -> re.Pattern[str] | None:
    # a one-letter name ("X") would make every post that says it about us
    names = sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True)
    if not names:
        return None
    return re.compile(r"(?<![\w@])(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Relevance:
    """A brand profile compiled for the hot path: one regex for handles, one for names."""

    profile: BrandProfile
    rules: frozenset[str] = RULES
    _handles: re.Pattern[str] | None = field(init=False, repr=False)
    _names: re.Pattern[str] | None = field(init=False, repr=False)
    _danger: re.Pattern[str] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        p = self.profile
        handles = sorted(p.all_handles(), key=len, reverse=True)
        object.__setattr__(self, "_handles", re.compile(
            r"@(" + "|".join(re.escape(h) for h in handles) + r")(?![\w])", re.IGNORECASE)
            if handles else None)
        named = [*p.all_names(), *p.products, *p.hashtags, *p.executives]
        object.__setattr__(self, "_names", _name_pattern(named))
        dangerous = [n for n in (*p.products, *p.hashtags, *p.names)
                     if not DANGER_WORDS.isdisjoint(re.findall(r"[a-z]+", n.lower()))]
        object.__setattr__(self, "_danger", _name_pattern(dangerous))

    def addressed(self, mention: Mention) -> str | None:
        """The brand handle the post addresses, replies to or quotes ("@tesco"), if any. A
        handle of the profile counts on every channel: people write the Twitter handle on
        Facebook too."""
        if self._handles is None or "addressed" not in self.rules:
            return None
        if mention.to and self._handles.fullmatch("@" + mention.to.lstrip("@")):
            return "@" + mention.to.lstrip("@").lower()
        if "@" not in mention.text:
            return None
        m = self._handles.search(mention.text)
        return f"@{m.group(1).lower()}" if m else None

    def named(self, text: str) -> str | None:
        if self._names is None or "named" not in self.rules:
            return None
        m = self._names.search(text)
        return m.group(0) if m else None

    def masked(self, mention: Mention) -> Mention:
        """The mention as enrichment and the playbook's keyword lists read it: product and
        campaign names that contain a danger word replaced by a neutral word."""
        if self._danger is None or "mask" not in self.rules:
            return mention
        text = self._danger.sub(MASK, mention.text)
        return mention if text == mention.text else msgspec.structs.replace(mention, text=text)

    def apply(self, mention: Mention, signals: Signals) -> Signals:
        """The rules' signals, corrected by what the profile knows (see the module text)."""
        situations = signals.situations or (signals.situation,)
        if "spam" in situations and ("complaint" in situations or "question" in situations) \
                and "customer_not_spam" in self.rules:
            handle = self.addressed(mention)
            if handle is None:
                return signals
            # A post to our handle that complains or asks is a customer, even when a phrase
            # reads like spam ("can you dm me for …", "my gift card is not working").
            kept = tuple(s for s in situations if s != "spam")
            because = {**signals.because, "situation": f"{kept[0]}: said to {handle}; not spam"}
            author = signals.author_class
            if author == "bot" and signals.confidence.get("author_class", 0) < 0.9:
                # a bot only because of that phrase (no list says so): a customer
                author = "customer"
                because["author_class"] = f"writes to {handle} with a complaint or a question"
            return msgspec.structs.replace(signals, situation=kept[0], situations=kept,
                                           author_class=author, because=because)
        if "off_topic" not in situations and "venting" not in situations:
            return signals
        handle = self.addressed(mention)
        about = handle or self.named(mention.text)
        if about is None:
            if not self.profile.empty or "off_topic" not in situations:
                return signals  # a listening result, or venting about someone else
            new, why = ("other",), "no brand profile to tell whether it is about the brand"
        elif "venting" in situations:
            if "venting_is_complaint" not in self.rules:
                return signals
            new = ("complaint",)
            why = f"complaint: negative and {'said to ' + handle if handle else 'names ' + about}"
        else:
            new = ("other",)
            why = f"about the brand: {'addresses ' + handle if handle else 'names ' + about}"
        rest = tuple(s for s in situations if s not in ("off_topic", "venting"))
        situations = tuple(dict.fromkeys((*new, *rest)))
        return msgspec.structs.replace(
            signals, situation=situations[0], situations=situations,
            because={**signals.because, "situation": why})

