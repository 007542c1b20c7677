"""Enrichment: derive Signals (sentiment, situation, who is asking, urgency, language, PII,
topics) from one Mention. Pure, fast, and explained: every signal carries a short "because".

The fast path is one lower-casing, one word regex (its tokens serve sentiment and language)
and one Aho-Corasick pass over the text for every lexicon phrase (customer-service phrases,
situation cues, workspace topics); PII regexes only run on texts with a run of digits, an
address-like number or an e-mail domain; the language detector (py3langid) only sees texts
with non-ASCII letters or too few English words to tell. Sentiment starts from the VADER
lexicon (MIT) and adds customer-service phrases that are negative without an angry word
("charged twice", "still waiting").
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import cache
from importlib.resources import files

import ahocorasick
import yaml

from escapevelocity.domain.playbook import fold
from escapevelocity.domain.records import Mention, Signals
from escapevelocity.domain.vocabulary import Vocabulary

# Words, hashtags, emoticons (":(", ";)"), runs of !/?, and emoji (one token each).
# (The lookahead lets the regex engine skip spaces and punctuation without trying each branch.)
_WORD = re.compile(r"(?=[#a-z:;=8<!?\U0001F300-\U0001FAFF\u2600-\u27BF])"
                   r"(?:#?[a-z][a-z'0-9]*|(?<![\w:;=])[:;=8][-o^']?[()\[\]dpo/\\|*$@3](?!\w)|<3|[!?]+|"
                   r"[\U0001F300-\U0001FAFF\u2600-\u27BF])")
_CAPS = re.compile(r"\b[A-Z]{3,}\b")
_URL = re.compile(r"https?://\S+|www\.\S+")
NEGATIONS = frozenset(["not", "no", "never", "none", "nobody", "nothing", "neither", "nor",
                       "cannot", "can't", "don't", "doesn't", "didn't", "isn't", "wasn't", "aren't",
                       "won't", "wouldn't", "shouldn't", "haven't", "hasn't", "couldn't", "hadn't",
                       "without", "dont", "doesnt", "didnt", "isnt", "wasnt", "cant", "wont",
                       "couldnt", "aint", "ain't", "non"])
# Intensifiers and dampeners (VADER's list, MIT, in spirit: scale the next sentiment word).
BOOSTERS = {"very": 0.3, "really": 0.3, "so": 0.25, "extremely": 0.4, "absolutely": 0.35,
            "totally": 0.3, "completely": 0.3, "super": 0.3, "incredibly": 0.4, "utterly": 0.4,
            "most": 0.25, "highly": 0.3, "truly": 0.3, "seriously": 0.3, "deeply": 0.3,
            "such": 0.2, "too": 0.2, "fucking": 0.4, "effing": 0.35, "freaking": 0.3,
            "bloody": 0.3, "beyond": 0.3, "hugely": 0.3, "especially": 0.25}
DAMPENERS = {"slightly": -0.3, "somewhat": -0.25, "kinda": -0.25, "barely": -0.3,
             "little": -0.2, "bit": -0.2, "fairly": -0.15, "almost": -0.2, "hardly": -0.3}
NEGATION_SCALE = -0.74  # VADER's constant: "not good" is mildly negative, not "bad"
# What each of the three words before a sentiment word does to it (negation first).
_MODIFIERS = {**{w: 1 + v for w, v in DAMPENERS.items()}, **{w: 1 + v for w, v in BOOSTERS.items()},
              **dict.fromkeys(NEGATIONS, NEGATION_SCALE)}
# Customer-service weighting: when a post carries both praise words and complaint evidence, the
# complaint is what needs handling ("thanks for the robotic and non helpful assistance"), so
# positive words count for less next to negative ones; polite "thanks" rarely makes a post happy.
MIXED_POSITIVE_SCALE = 0.5
NEGATIVE_WEIGHT = 1.15
# Edges calibrated on a mix of customer-service and general tweets (airline, Sanders brand
# mentions, TweetEval development sets; every set improved or held): a post needs a little more
# than one mild word to leave neutral, while a complaint needs less negativity than a negative
# label does (a complaint is often polite).
NEGATIVE_EDGE = -0.2  # score at or below: negative
COMPLAINT_EDGE = -0.12  # at or below, and about the brand: a complaint
POSITIVE_EDGE = 0.3  # score at or above: positive; social posts are mostly neutral-ish
NAME_SCALE = 0.5  # a sentiment word inside a Capitalised name ("Good Morning America")
LABEL_EDGE = POSITIVE_EDGE  # kept for callers that read it


class _FoldTable(dict):
    """str.translate table for playbook.fold done per character (case fold, NFKD, no combining
    marks), filled as characters are met: the same result without a generator per text."""

    def __missing__(self, codepoint: int) -> str:
        decomposed = unicodedata.normalize("NFKD", chr(codepoint).casefold())
        folded = "".join(c for c in decomposed if not unicodedata.combining(c))
        self[codepoint] = folded
        return folded


_FOLD = _FoldTable()


def _in_name(tok: str, text: str) -> bool:
    """Is `tok` written Capitalised next to another Capitalised word ("Miss USA", "Good Morning
    America", "Gentle Yoga"): part of a name or a title, not an opinion."""
    title = tok.capitalize()
    if title not in text:
        return False
    for m in re.finditer(r"\b" + title + r"\b", text):
        before = text[:m.start()].rstrip()
        after = text[m.end():].lstrip()
        if after[:1].isupper() and after[1:2].islower():  # the next word is Capitalised
            return True
        starts_sentence = not before or before[-1] in ".!?:\"\n" or _ENDS_HANDLE(before)
        if not starts_sentence and _ENDS_TITLE(before):  # so is the word before
            return True
    return False


_ENDS_HANDLE = re.compile(r"@\w+$").search
_ENDS_TITLE = re.compile(r"\b[A-Z][a-z]+$").search


def _substrings(markers: list[str]) -> ahocorasick.Automaton:
    """An automaton that finds any of `markers` anywhere in a text (values: the marker)."""
    automaton = ahocorasick.Automaton()
    for marker in markers:
        automaton.add_word(marker, marker)
    automaton.make_automaton()
    return automaton


@cache
def _vader() -> dict[str, float]:
    """The VADER lexicon (MIT licence) as shipped inside the vaderSentiment package."""
    path = files("vaderSentiment").joinpath("vader_lexicon.txt")
    lexicon: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            try:
                lexicon[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return lexicon


@cache
def _shipped() -> dict:
    return yaml.safe_load(files("escapevelocity.domain").joinpath("lexicon.yaml").read_text(
        encoding="utf-8"))


class Enricher:
    """Compiled once per workspace vocabulary; `enrich` is then a pure function of the mention."""

    def __init__(self, vocabulary: Vocabulary | None = None,
                 models: dict | None = None) -> None:
        """`models`: signal -> learn.SignalModel learned from the workspace's corrections; each
        overrides the rules' answer for its signal (and says so in `because`)."""
        self.vocabulary = vocabulary or Vocabulary()
        self.models = dict(models or {})
        lex = _shipped()
        self.words = dict(_vader())
        self.words.update({k: float(v) for k, v in lex["words"].items()})
        self.problems = frozenset(lex["problems"])
        self.words.update({k: float(v) for k, v in lex["problems"].items()})
        self.emoji = {k: float(v) for k, v in lex["emoji"].items()}
        # One table for the token loop: a word's valence wins over an emoji's; words the
        # lexicon sets to 0 (brand names, politeness) are left out, so they never score.
        self.lookup = {k: v for k, v in {**self.emoji, **self.words}.items() if v}
        self.zero = frozenset(k for k, v in self.words.items() if not v)
        # ONE Aho-Corasick automaton for every phrase: sentiment phrases, situation cues and the
        # workspace's topics; a phrase's value carries all its roles, so one pass finds all.
        self.automaton = ahocorasick.Automaton()
        entries: dict[str, list[tuple[str, str, float]]] = {}
        for phrase, valence in lex["phrases"].items():
            entries.setdefault(fold(phrase), []).append(("sentiment", phrase, float(valence)))
        for situation, cues in lex["situations"].items():
            for cue in cues:
                entries.setdefault(fold(cue), []).append(("situation", situation, 0.0))
        for topic, phrases in self.vocabulary.products.items():
            for phrase in phrases:
                entries.setdefault(fold(phrase), []).append(("topic", topic, 0.0))
        for phrase, items in entries.items():
            self.automaton.add_word(phrase, (len(phrase), tuple(items)))
        self.automaton.make_automaton()
        self.question_openers = tuple(lex["question_openers"])
        self.sarcasm_explicit = _substrings(lex["sarcasm"]["explicit"])
        self.sarcasm_context = _substrings(lex["sarcasm"]["with_a_problem"])
        self.hashtag_cues = tuple((k, float(v)) for k, v in lex.get("hashtag_cues", {}).items())
        v = self.vocabulary
        self.listed: dict[str, str] = {}  # handle -> author class; the first list named wins
        for cls, members in (("bot", v.bots), ("troll", v.trolls), ("competitor", v.competitors),
                             ("partner", v.partners), ("journalist", v.journalists),
                             ("employee", v.employees)):
            for handle in members:
                self.listed[handle] = cls

    @classmethod
    @cache
    def default(cls) -> Enricher:
        return cls()

    # --- the pipeline step --------------------------------------------------------------------

    def enrich(self, mention: Mention) -> Signals:
        text = mention.text or ""
        if len(text) > 20_000:  # bounded work for hostile sizes; the edge limits text anyway
            text = text[:20_000]
        lower = text.lower()
        if "\u2019" in lower:  # typographic apostrophes: "don’t" is "don't"
            lower = lower.replace("\u2019", "'")
        ascii_text = lower.isascii()
        # Accent folding only when there is something to fold (emoji alone need none).
        folded = lower if ascii_text or unicodedata.is_normalized("NFKD", lower) \
            else lower.translate(_FOLD)
        phrases, situations_hit, topics = self._scan(folded)
        plain = _URL.sub(" ", lower) if ("http" in lower or "www." in lower) else lower
        tokens = _WORD.findall(plain)
        score, sentiment_because = self._sentiment(text, lower, tokens, phrases)
        label = ("negative" if score <= NEGATIVE_EDGE else "positive" if score >= POSITIVE_EDGE
                 else "neutral")
        pii = find_pii(text) if _pii_hint(text, ascii_text) else ()
        author_class, author_because = self._author(mention, situations_hit)
        situations, situation_because = self._situations(mention, lower, label, score,
                                                         situations_hit, topics, author_class)
        if author_class == "customer" and "lead" in situations and \
                mention.author.handle.lower() not in self.vocabulary.customers:
            author_class, author_because = "prospect", "asks to buy and is not a known customer"
        urgency = _urgency(text, lower, situations, score)
        language, language_confidence = _language(text, plain, ascii_text, tokens)
        because = {"sentiment": sentiment_because, "situation": situation_because,
                   "author_class": author_because}
        if pii:
            because["pii"] = "found " + ", ".join(pii)
        if topics:
            because["topics"] = "mentions " + ", ".join(topics)
        signals = Signals(
            sentiment=score, sentiment_label=label, situation=situations[0],
            situations=tuple(situations), author_class=author_class, urgency=urgency,
            language=language, pii=pii, topics=topics,
            keywords=tuple(sorted({p for p, _ in phrases})) if phrases else (),
            confidence={"sentiment": round(min(1.0, 0.5 + abs(score)), 2),
                        "situation": 0.8 if situations_hit else 0.5,
                        "author_class": 0.9 if "list" in author_because else 0.5,
                        "language": language_confidence},
            because=because)
        if self.models:
            from escapevelocity.domain.learn import apply_models

            signals = apply_models(self.models, text, signals)
        return signals

    def _scan(self, folded: str) -> tuple[list[tuple[str, float]], dict[str, list[str]],
                                          tuple[str, ...]]:
        phrases: list[tuple[str, float]] = []
        situations: dict[str, list[str]] = {}
        topics: list[str] = []
        n = len(folded)
        for end, (length, items) in self.automaton.iter(folded):
            start = end - length + 1
            if ((start > 0 and folded[start - 1].isalnum())
                    or (end + 1 < n and folded[end + 1].isalnum())):
                continue
            for kind, name, valence in items:
                if kind == "sentiment":
                    phrases.append((name, valence))
                elif kind == "situation":
                    situations.setdefault(name, []).append(folded[start:end + 1])
                elif name not in topics:
                    topics.append(name)
        return phrases, situations, tuple(topics)

    def _sentiment(self, text: str, lower: str, tokens: list[str],
                   phrases: list[tuple[str, float]]) -> tuple[float, str]:
        lookup = self.lookup
        if "#" in lower:
            zero = self.zero
            hits = [i for i, tok in enumerate(tokens)
                    if tok in lookup or (tok[0] == "#" and len(tok) > 3 and tok not in zero)]
        else:
            hits = [i for i, tok in enumerate(tokens) if tok in lookup]
        if not hits and not phrases and "!" not in lower and "?" not in lower:
            return 0.0, "no sentiment words"
        pos = neg = 0.0
        reasons: list[tuple[float, str]] = []
        problem = False
        if hits:
            # ALL-CAPS words: a shouted post (three or more), or this word shouted. Checked per
            # sentiment word (a substring test first), not with a regex over every text.
            shouting = text != lower and text.upper() == text
            all_caps = shouting and len({w for w in _CAPS.findall(text)}) >= 3
            upper = text if text != lower else ""
            but = tokens.index("but") if "but" in tokens else -1
            problems = self.problems
            modifiers = _MODIFIERS
            for i in hits:
                tok = tokens[i]
                v = lookup.get(tok)
                if v is None:
                    v = self._hashtag(tok[1:])
                    if not v:
                        continue
                scale = 1.0
                for prev in tokens[i - 3 if i > 3 else 0:i]:
                    m = modifiers.get(prev)
                    if m is not None:
                        scale *= m
                if all_caps or (upper and len(tok) > 2 and tok.upper() in upper and tok.isalpha()
                                and re.search(r"\b" + tok.upper() + r"\b", upper)):
                    scale *= 1.3
                if NAME_SCALE != 1.0 and upper and tok.isalpha() and _in_name(tok, text):
                    scale *= NAME_SCALE
                if but >= 0:  # VADER: what follows "but" is what the writer means
                    scale *= 0.5 if i < but else 1.5 if i > but else 1.0
                if scale < 0 < v:  # "not helpful", "non helpful": a service that failed
                    problem = True
                v *= scale
                if v > 0:
                    pos += v
                else:
                    neg += v
                    problem = problem or tok in problems
                reasons.append((v, tok))
        for phrase, v in phrases:
            if v > 0:
                pos += v
            else:
                neg += v
                problem = True
            reasons.append((v, f"'{phrase}'"))
        if pos:
            sarcasm = next(self.sarcasm_explicit.iter(lower), (0, None))[1]
            if sarcasm is None and problem:
                sarcasm = next(self.sarcasm_context.iter(lower), (0, None))[1]
            if sarcasm:  # "yeah right", "#sarcasm", "love how …" next to a problem
                neg -= pos
                pos = 0.0
                reasons.append((-9.0, f"sarcasm '{sarcasm}'"))
            elif problem:
                pos *= MIXED_POSITIVE_SCALE
        total = pos + NEGATIVE_WEIGHT * neg
        bangs = min(lower.count("!"), 4)
        if bangs and total:
            total += math.copysign(0.25 * bangs, total)
        if "?!" in lower or "!?" in lower or "??" in lower:
            total -= 0.5
        if total == 0:
            return 0.0, "no sentiment words"
        score = total / math.sqrt(total * total + 15)
        top = sorted(reasons, key=lambda r: -abs(r[0]))[:3]
        sign = "negative" if score < 0 else "positive"
        return round(score, 4), f"{sign}: " + ", ".join(name for _, name in top)

    def _hashtag(self, tag: str) -> float:
        """#unitedfail, #badservice, #loveit: a known word, or a known start or end."""
        v = self.words.get(tag)
        if v:
            return v
        for cue, valence in self.hashtag_cues:
            if tag.startswith(cue) or tag.endswith(cue):
                return valence
        return 0.0

    def _author(self, mention: Mention, hits: dict[str, list[str]]) -> tuple[str, str]:
        a = mention.author
        handle = a.handle.lower().lstrip("@")
        v = self.vocabulary
        cls = self.listed.get(handle)
        if cls is not None:
            return cls, f"@{handle} is on the workspace's {cls} list"
        if a.bio:
            bio = a.bio.lower()
            cue = next((c for c in v.media_bio_cues if c in bio), None)
            if cue:
                return "journalist", f"bio says '{cue}'"
        if "spam" in hits and a.followers < 100:
            return "bot", "spam pattern from a low-reach account"
        if handle in v.customers:
            return "customer", "known customer"
        if a.followers >= 10_000:
            return "influencer", f"{a.followers:,} followers"
        return "customer", "default: nothing says otherwise"

    def _situations(self, mention: Mention, lower: str, label: str, score: float,
                    hits: dict[str, list[str]], topics: tuple[str, ...], author_class: str
                    ) -> tuple[list[str], str]:
        found: list[str] = []
        why = ""
        for name in ("crisis", "legal", "spam", "misinformation"):
            if name in hits:
                found.append(name)
                why = why or f"{name}: '{hits[name][0]}'"
        if "spam" not in found and lower.count("http") >= 2 and author_class == "bot":
            found.append("spam")
            why = why or "spam: several links from a bot"
        stripped = lower.strip()
        is_question = ("?" in lower or stripped.startswith(self.question_openers)
                       or "question" in hits)
        if "lead" in hits:
            found.append("lead")
            why = why or f"lead: '{hits['lead'][0]}'"
        if "complaint" in hits or (score <= COMPLAINT_EDGE and (topics or "@" in lower)):
            found.append("complaint")
            cue = hits.get("complaint", [None])[0]
            why = why or (f"complaint: '{cue}'" if cue else "complaint: negative about the brand")
        if "feedback" in hits:
            found.append("feedback")
            why = why or f"feedback: '{hits['feedback'][0]}'"
        if is_question and "complaint" not in found[:1]:
            found.append("question")
            why = why or "question: asks something"
        elif is_question:
            found.append("question")
        if label == "positive" and ("praise" in hits or score >= 0.45):
            found.append("praise")
            why = why or "praise: positive about the brand"
        if not found:
            if label == "negative":
                found.append("venting")
                why = "venting: negative with no ask and nothing about the brand"
            elif topics or "orbit" in lower:
                found.append("other")
                why = "about the brand, no clear situation"
            else:
                found.append("off_topic")
                why = "nothing about the brand or its products"
        return list(dict.fromkeys(found)), why


# --- PII ----------------------------------------------------------------------------------------

_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_ACCOUNT = re.compile(r"\b(?:acc(?:ount)?(?:\s*(?:no|number|#))?[\s:#-]*(?:(?:is|was)\s+)?)"
                      r"(\d{3,}(?:[ -]\d{3,}){0,4})\b",
                      re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"(?<![\w])(?:\+\d{1,3}[\s-]?)?(?:\(\d{2,5}\)[\s-]?|\d{2,5}[\s-])"
                    r"\d{3,4}[\s-]?\d{3,4}(?!\d)")
_HAS_DIGIT = re.compile(r"\d").search
_HANDLE = re.compile(r"@\w+")
# Six digits with at most single separators: any card, account or phone number has them.
_DIGIT_RUN = re.compile(r"\d(?:[\s-]?\d){5}").search
_ADDRESS_HINT = re.compile(r"\d\s+[A-Z]").search
# Every text with PII has a run of six digits, an address-like number or an e-mail domain.
_DIGIT_HINT = re.compile(r"[0-9](?:[\s-]?[0-9]){5}|[0-9]\s+[A-Z]").search
_AT_HINT = re.compile(r"@[\w-]+\.").search
_EMAIL_HINT = re.compile(r"[\w.+-]@[\w-]+\.").search
_NON_ASCII_LETTER = re.compile(r"[^\W\d_\x00-\x7f]").search
_ANY_LETTER = re.compile(r"[^\W\d_]").search
_ENGLISH = frozenset(["the", "and", "or", "but", "my", "me", "i", "i'm", "im", "you", "your", "it",
                      "it's", "is", "are", "were", "been", "to", "of", "on", "at", "for", "with",
                      "this", "that", "have", "has", "had", "not", "no", "does", "did", "can",
                      "just", "what", "how", "why", "when", "who", "any", "anyone", "thanks",
                      "please", "still"])
_ADDRESS = re.compile(r"\b\d{1,4}\s+[A-Z][a-z]+\s+"
                      r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Close|Drive|Way)\b")


def _pii_hint(text: str, ascii_text: bool) -> bool:
    """False when `text` surely has no PII; cheap (the regexes start on a digit or '@')."""
    if "@" in text and _AT_HINT(text):
        return True
    return bool(_DIGIT_HINT(text) if ascii_text else _HAS_DIGIT(text))


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _pii_spans(text: str) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    if "@" in text and _EMAIL_HINT(text):
        for m in _EMAIL.finditer(text):
            spans.append((m.start(), m.end(), "email"))
    if not _HAS_DIGIT(text):
        return spans
    if _ADDRESS_HINT(text):
        for m in _ADDRESS.finditer(text):
            spans.append((m.start(), m.end(), "address"))
    if not _DIGIT_RUN(text):
        return _kept(spans)
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and _luhn(digits):
            spans.append((m.start(), m.end(), "card_number"))
    for m in _ACCOUNT.finditer(text):
        if sum(c.isdigit() for c in m.group(1)) >= 6:
            spans.append((m.start(1), m.end(1), "account_number"))
    for m in _PHONE.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= 9:
            spans.append((m.start(), m.end(), "phone"))
    return _kept(spans)


def _kept(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    if len(spans) < 2:
        return spans
    spans.sort(key=lambda s: (s[0], -s[1]))
    kept: list[tuple[int, int, str]] = []
    for s in spans:  # the first (longest-claimed) kind wins an overlap
        if not kept or s[0] >= kept[-1][1]:
            kept.append(s)
    return kept


def find_pii(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(kind for _, _, kind in _pii_spans(text)))


def mask_pii(text: str) -> str:
    """What the UI shows of a public post: PII replaced, the last digits of numbers kept."""
    out, last = [], 0
    for start, end, kind in _pii_spans(text):
        out.append(text[last:start])
        value = text[start:end]
        if kind in ("card_number", "account_number", "phone"):
            digits = [c for c in value if c.isdigit()]
            out.append(f"[{kind.replace('_', ' ')} ••{''.join(digits[-2:])}]")
        else:
            out.append(f"[{kind}]")
        last = end
    out.append(text[last:])
    return "".join(out)


# --- language and urgency -----------------------------------------------------------------------

def detect_language(text: str) -> str:
    """ISO 639-1, or 'und'. ASCII posts that read as English are English (the fast path);
    everything else goes to py3langid, a trained detector."""
    lower = (text or "").lower()
    plain = _URL.sub(" ", lower) if ("http" in lower or "www." in lower) else lower
    return _language(text or "", plain, lower.isascii(), _WORD.findall(plain))[0]


def _language(text: str, plain: str, ascii_text: bool, tokens: list[str]) -> tuple[str, float]:
    """(language, confidence) of `text`, given it lower-cased without URLs and its word tokens.

    Fast path: text whose letters are all ASCII and that has an English function word, or
    whose words are mostly known English words (the sentiment lexicons, common words), is
    English. Everything else, and every text with other letters, goes to py3langid; an ASCII
    text it is unsure about is counted English, the common case for short posts."""
    if not ascii_text:
        if not _ANY_LETTER(plain):
            return "und", 0.0
        if _NON_ASCII_LETTER(plain):  # accents, other scripts: the detector decides
            return _langid(_no_urls(text)[:1000])
    # Only ASCII letters (perhaps with emoji or symbols).
    if not _ENGLISH.isdisjoint(tokens):
        return "en", 0.9
    if "@" in plain:  # handles say nothing about the language of the post
        tokens = _WORD.findall(_HANDLE.sub(" ", plain))
    words = [t for t in tokens if t[0] != "#" and t.isalpha()]
    if not words:
        return "und", 0.0
    known = _known_english()
    hits = sum(1 for w in words if w in known)
    if hits and hits * 2 >= len(words):
        return "en", 0.7
    return _english_or(text)


def _no_urls(text: str) -> str:
    return _URL.sub("", text) if ("http" in text or "www." in text) else text


def _english_or(text: str) -> tuple[str, float]:
    lang, prob = _langid(_no_urls(text)[:1000])
    return ("en", 0.5) if lang == "und" else (lang, prob)


@cache
def _known_english() -> frozenset[str]:
    """Words that are evidence of English: the sentiment lexicons and common English words."""
    lex = _shipped()
    return frozenset(w for w in (*_vader(), *lex["words"], *lex["problems"],
                                 *lex.get("english", ())) if isinstance(w, str) and w.isalpha())


@cache
def _identifier():
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def _langid(text: str) -> tuple[str, float]:
    try:
        lang, prob = _identifier().classify(text)
    except Exception:
        return "und", 0.0
    return (lang, round(float(prob), 2)) if prob >= 0.5 else ("und", 0.0)


def _urgency(text: str, lower: str, situations: list[str], score: float) -> int:
    if "crisis" in situations:
        return 3
    level = 2 if "legal" in situations else 0
    if score <= -0.6:
        level = max(level, 1)
    if "!!" in text or "urgent" in lower or "asap" in lower or "emergency" in lower:
        level += 1
    return min(level, 3)
