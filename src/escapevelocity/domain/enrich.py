"""Enrichment: derive Signals (sentiment, situation, complaint severity, who is asking,
urgency, language, PII, topics) from one Mention. Pure, fast, and explained: every signal
carries a short "because" (docs/signals.md).

This file is the one text of the rules: the decisions (sentiment label, situations, author
class, urgency, severity via severity.py, language via language.py) are written here, once,
in Python. What they read comes from four kernels, the hot loops with no decision in them
(kernels.py: the phrase scan, the word cutter, the sentiment loop, the PII gate), which
hotpath.pyx compiles when it is built (docs/decisions/0007-one-text-of-the-rules.md). This text
itself (and severity.py, language.py) is compiled as it is by Cython too, so the decisions run
as C calls; a build from another text than this one is not run (domain/compiled.py), and
EV_PURE_PYTHON=1 runs this .py.

The fast path is one lower-casing, one word cut (its tokens serve sentiment and language) and
one automaton pass over the text for every lexicon phrase (customer-service phrases, situation
cues, workspace topics); PII regexes only run on texts with a run of digits, an address-like
number or an e-mail domain; the language detector (CLD2) only sees texts with non-ASCII
letters or too few English words to tell. Sentiment starts from the VADER lexicon (MIT) and
adds customer-service phrases that are negative without an angry word ("charged twice").
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from functools import cache
from operator import itemgetter
from pathlib import Path
from types import SimpleNamespace

import ahocorasick

from escapevelocity.domain import kernels, lexicons, tone
from escapevelocity.domain.compiled import sha256
from escapevelocity.domain.kernels import (
    HEDGES,
    MAX_TEXT,
    NEGATION_ALONE,
    NEGATIONS,
    TEMPORAL,
    Entry,
)
from escapevelocity.domain.language import detect_language
from escapevelocity.domain.language import language as language_of
from escapevelocity.domain.pii import find_pii, mask_pii
from escapevelocity.domain.playbook import fold
from escapevelocity.domain.records import Author, Mention, Signals
from escapevelocity.domain.severity import severity as complaint_severity
from escapevelocity.domain.vocabulary import Vocabulary

# Edges calibrated on a mix of customer-service and general tweets (airline, Sanders brand
# mentions, TweetEval development sets; every set improved or held): a post needs a little more
# than one mild word to leave neutral, while a complaint needs less negativity than a negative
# label does (a complaint is often polite).
NEGATIVE_EDGE = -0.2  # score at or below: negative
COMPLAINT_EDGE = -0.1  # at or below, and about the brand: a complaint
POSITIVE_EDGE = 0.3  # score at or above: positive; social posts are mostly neutral-ish
LABEL_EDGE = POSITIVE_EDGE  # kept for callers that read it
PRAISE_EDGE = 0.45  # a positive post at or above this is praise without a praise cue
URGENT_EDGE = -0.6  # a post this negative is a little urgent
# Situations a cue alone decides, in the order their reasons are preferred.
CUE_SITUATIONS = ("crisis", "legal", "spam", "misinformation")


_first_of = itemgetter(0)  # of a (phrase, valence) pair


def _r2(x: float) -> float:
    """round(x, 2) for 0 <= x <= 1, without the decimal formatting round() goes through."""
    return int(x * 100 + 0.5) / 100


@cache
def _hotpath():
    """The compiled kernels' module, or None when it is not built (a checkout before `make
    install`), is built from another hotpath.pyx than the one beside it (its baked-in source
    hash differs: a stale build must not run), or EV_PURE_PYTHON is set (to run, profile or
    debug the Python)."""
    if os.environ.get("EV_PURE_PYTHON"):
        return None
    try:
        from escapevelocity.domain import hotpath
    except ImportError:
        return None
    # hotpath.pyx beside this file; None when it is not there (a wheel ships the extension)
    source = sha256(Path(__file__).with_name("hotpath.pyx"))
    if source is not None and source != getattr(hotpath, "SOURCE_SHA256", None):
        warnings.warn("domain/hotpath.pyx changed since the extension was built: running the "
                      "Python kernels; run `make install`", RuntimeWarning, stacklevel=3)
        return None
    return hotpath


class Enricher:
    """Compiled once per workspace vocabulary; `enrich` is then a pure function of the mention."""

    def __init__(self, vocabulary: Vocabulary | None = None,
                 models: dict | None = None, defer_vectors: bool = False,
                 compiled: bool = True, model: bool = True) -> None:
        """`models`: signal -> learn.SignalModel learned from the workspace's corrections; each
        overrides the rules' answer for its signal (and says so in `because`).
        `defer_vectors`: `enrich_many` leaves a model's sentence vectors to the refine job
        (services/refine.py) and marks those signals provisional: the ingest path.
        `compiled`: run hotpath.pyx's kernels when they are built (the default); False runs
        kernels.py's, as EV_PURE_PYTHON=1 does for every Enricher. The rules are the same
        Python either way. `model`: the shipped sentiment model (domain/tone.py) reads the
        posts the rules call neutral; False leaves the rules' label (the scripts that measure
        the rules alone)."""
        self.tone = tone.shipped() if model else None
        self.vocabulary = vocabulary or Vocabulary()
        self.models = dict(models or {})
        self.defer_vectors = defer_vectors
        lex = lexicons.shipped()
        # The word tables come from the shipped lexicons alone: built once per process
        # (_word_tables), copied here so no Enricher shares a dict with another.
        t = _word_tables()
        self.words = dict(t.words)
        self.problems = t.problems
        self.emoji = dict(t.emoji)
        self.lookup = dict(t.lookup)
        self.negation_alone = t.negation_alone
        self.zero = t.zero
        self.lookup_broadcast = dict(t.lookup_broadcast)
        self.entries = dict(t.entries)
        self.evaluative = t.evaluative
        self.entries_broadcast = dict(t.entries_broadcast)
        # ONE Aho-Corasick automaton for every phrase: sentiment phrases, situation cues and the
        # workspace's topics; a phrase's value carries all its roles, so one pass finds all.
        self.automaton = ahocorasick.Automaton()
        entries: dict[str, list[tuple[str, str, float]]] = {}
        for phrase, valence in lex["phrases"].items():
            entries.setdefault(fold(phrase), []).append(("sentiment", phrase, float(valence)))
        for situation, cues in lex["situations"].items():
            for cue in cues:
                entries.setdefault(fold(cue), []).append(("situation", situation, 0.0))
        for level, cues in lex.get("severity", {}).items():
            for cue in cues:
                entries.setdefault(fold(cue), []).append(("severity", level, 0.0))
        for topic, phrases in self.vocabulary.products.items():
            for phrase in phrases:
                entries.setdefault(fold(phrase), []).append(("topic", topic, 0.0))
        # Sarcasm markers ride the same pass; they match anywhere ("#not", " /s"), so they are
        # exempt from the whole-word test the other phrases need.
        for marker in lex["sarcasm"]["explicit"]:
            entries.setdefault(marker, []).append(("sarcasm", marker, 0.0))
        for marker in lex["sarcasm"]["with_a_problem"]:
            entries.setdefault(marker, []).append(("irony", marker, 0.0))
        for phrase, items in entries.items():
            anywhere = any(kind in ("sarcasm", "irony") for kind, _, _ in items)
            self.automaton.add_word(phrase, (len(phrase), tuple(items), anywhere))
        self.automaton.make_automaton()
        self.question_openers = tuple(lex["question_openers"])
        # the openers by their first character: a post's first character picks the few that
        # could open it, where testing all of them on every post showed in the profile
        self.openers_by_first: dict[str, tuple[str, ...]] = {}
        for opener in self.question_openers:
            first = opener[:1]
            self.openers_by_first[first] = (*self.openers_by_first.get(first, ()), opener)
        self.hashtag_cues = tuple((k, float(v)) for k, v in lex.get("hashtag_cues", {}).items())
        # Negated positive idioms ("no problem", "couldn't be happier"): scored as a whole.
        self.idioms = {phrase: frozenset(phrase.split()) for phrase, v in lex["phrases"].items()
                       if float(v) > 0 and not NEGATIONS.isdisjoint(phrase.split())}
        v = self.vocabulary
        self.listed: dict[str, str] = {}  # handle -> author class; the first list named wins
        for cls, members in (("bot", v.bots), ("troll", v.trolls), ("competitor", v.competitors),
                             ("partner", v.partners), ("journalist", v.journalists),
                             ("employee", v.employees)):
            for handle in members:
                self.listed[handle] = cls
        self.any_list = bool(self.listed or v.customers)  # else who is asking needs no lookup
        self.brand_names = tuple(v.brand_names)
        # The kernels read this Enricher's tables once, here: an Enricher is not changed once
        # built (a new vocabulary or new models make a new Enricher, as the workspace does).
        self.kernels = kernels.Kernels(self)
        hotpath = _hotpath() if compiled else None
        self.compiled = hotpath is not None
        if hotpath is not None:
            self.kernels = hotpath.Kernels(self.kernels)
        self.read_tone = self.tone.kernel(hotpath) if self.tone is not None else None
        if not self.models:  # nothing learned: enrich is the rules, with no frame between
            self.enrich = self.rules  # type: ignore[method-assign]

    @classmethod
    @cache
    def default(cls) -> Enricher:
        return cls()

    # --- the pipeline step --------------------------------------------------------------------

    def enrich(self, mention: Mention) -> Signals:
        if self.models:  # the learned models' one path, for a batch of one
            return self.enrich_many([mention])[0]
        return self.rules(mention)

    def rules(self, mention: Mention) -> Signals:
        """The shipped rules' signals, before any learned model."""
        # The hot path (every mention of every channel): the kernels read the post (one
        # lower-casing, one scan, one word cut); what follows is decisions, in order. What they
        # read is unpacked once, in kernels.Reading's and kernels.Scan's field order (one
        # unpacking costs less than an attribute lookup a field, which on this path shows), each
        # as a plain tuple: compiled, a tuple is unpacked by index, a NamedTuple by iterating.
        (text, lower, plain, ascii_text, words, scan, score, sentiment_because,
         pii) = tuple(self.kernels.read(mention.text or ""))
        phrases, cues, topics, _, _, marks = tuple(scan)
        label = ("negative" if score <= NEGATIVE_EDGE else "positive" if score >= POSITIVE_EDGE
                 else "neutral")
        # Where the rules' words leave a post neutral, the shipped model (domain/tone.py) reads
        # it again: their polar calls stand (negation, sarcasm and the service phrases are
        # theirs), and the rules' score stays the strength the situation edges below measure.
        if label == "neutral" and self.read_tone is not None:
            label, polarity, sure, term = self.read_tone(score, label, lower, words, scan)
            # (how sure is the confidence beside it, not repeated here)
            weighs = f", '{term}' weighs most" if term else ""
            sentiment_because = f"{label} by the model{weighs} (lexicon: {sentiment_because})"
            sentiment_confidence = _r2(sure)
        else:
            polarity = score
            strength = -score if score < 0 else score
            # |score| says how far from neutral a post is, not how often we are right:
            # at most 90% sure, however strong the words.
            sentiment_confidence = _r2(0.5 + 0.4 * strength) if strength < 1.0 else 0.9
        author = mention.author
        author_class, author_because = self._author(author, cues)
        situations, situation_because = self._situations(lower, label, score, cues, topics,
                                                         author_class)
        if author_class == "customer" and "lead" in situations and \
                author.handle.lower() not in self.vocabulary.customers:
            author_class, author_because = "prospect", "asks to buy and is not a known customer"
        if "crisis" in situations:
            urgency = 3
        else:
            urgency = 2 if "legal" in situations else 1 if score <= URGENT_EDGE else 0
            if "!!" in text or "urgent" in lower or "asap" in lower or "emergency" in lower:
                urgency = min(urgency + 1, 3)
        language, language_confidence = language_of(text, plain, ascii_text, words.tokens,
                                                     words.english, self.kernels.cut)
        because = {"sentiment": sentiment_because, "situation": situation_because,
                   "author_class": author_because}
        if "complaint" in situations:
            severity, because["severity"] = complaint_severity(words, marks)
        else:
            severity = ""
        if pii:
            because["pii"] = "found " + ", ".join(pii)
        if topics:
            because["topics"] = "mentions " + ", ".join(topics)
        return Signals(
            sentiment=polarity, sentiment_label=label, situation=situations[0],
            situations=situations, severity=severity, author_class=author_class,
            urgency=urgency,
            language=language, pii=pii, topics=topics,
            keywords=tuple(sorted(set(map(_first_of, phrases)))) if phrases else (),
            confidence={"sentiment": sentiment_confidence,
                        "situation": 0.8 if cues else 0.5,
                        "author_class": 0.9 if "list" in author_because else 0.5,
                        "language": language_confidence},
            because=because)

    def enrich_many(self, mentions: Sequence[Mention]) -> list[Signals]:
        """`enrich` for a batch (ingest, intake, drills, evaluation): the rules per mention,
        then the learned models over the whole batch, so a model over sentence vectors runs
        one batched forward pass instead of one per mention."""
        if not self.models:
            return [self.rules(m) for m in mentions]
        from escapevelocity.domain.learn import apply_models_many

        texts = [(m.text or "")[:MAX_TEXT] for m in mentions]
        return apply_models_many(self.models, texts, [self.rules(m) for m in mentions],
                                 defer_vectors=self.defer_vectors)

    def _author(self, a: Author, cues: dict[str, list[str]]) -> tuple[str, str]:
        """Who is asking: the workspace's lists first, then a bio, a spam pattern, reach."""
        v = self.vocabulary
        # Most workspaces list few handles: the handle is normalised only when a list exists.
        handle = a.handle.lower().lstrip("@") if self.any_list else ""
        cls = self.listed.get(handle) if handle else None
        if cls is not None:
            return cls, f"@{handle} is on the workspace's {cls} list"
        if a.bio:
            bio = a.bio.lower()
            cue = next((c for c in v.media_bio_cues if c in bio), None)
            if cue:
                return "journalist", f"bio says '{cue}'"
        if cues and "spam" in cues and a.followers < 100:
            return "bot", "spam pattern from a low-reach account"
        if handle and handle in v.customers:
            return "customer", "known customer"
        if a.followers >= v.influencer_followers:
            edge = v.influencer_followers
            tier = "mega" if a.followers >= 100 * edge else "macro" if a.followers >= 10 * edge \
                else "micro"
            return "influencer", f"{a.followers:,} followers ({tier}: at least {edge:,})"
        return "customer", "default: nothing says otherwise"

    def _situations(self, lower: str, label: str, score: float, cues: dict[str, list[str]],
                    topics: tuple[str, ...], author_class: str) -> tuple[tuple[str, ...], str]:
        """The post's situations, most pressing first, and the reason for the first."""
        found: list[str] = []
        why = ""
        if cues:
            for name in CUE_SITUATIONS:
                if name in cues:
                    found.append(name)
                    why = why or f"{name}: '{cues[name][0]}'"
        if author_class == "bot" and "spam" not in found and lower.count("http") >= 2:
            found.append("spam")
            why = why or "spam: several links from a bot"
        if "?" in lower or "question" in cues:
            is_question = True
        else:  # it opens with a question word
            opening = lower.lstrip()
            is_question = opening.startswith(self.openers_by_first.get(opening[:1], ()))
        if "lead" in cues:
            found.append("lead")
            why = why or f"lead: '{cues['lead'][0]}'"
        # negative about the brand: the lexicon's score past the complaint edge, or a negative
        # label (the shipped model's, where the lexicon had no opinion: "my broadband dropped
        # again" is a complaint, never venting)
        if "complaint" in cues or ((score <= COMPLAINT_EDGE or label == "negative")
                                   and (topics or "@" in lower)):
            found.append("complaint")
            cue = cues["complaint"][0] if "complaint" in cues else None
            why = why or (f"complaint: '{cue}'" if cue else "complaint: negative about the brand")
        if "feedback" in cues:
            found.append("feedback")
            why = why or f"feedback: '{cues['feedback'][0]}'"
        if is_question:
            found.append("question")
            if found[0] != "complaint":  # a complaint that asks is explained as a complaint
                why = why or "question: asks something"
        if label == "positive" and ("praise" in cues or score >= PRAISE_EDGE):
            found.append("praise")
            why = why or "praise: positive about the brand"
        if not found:
            if label == "negative":
                return ("venting",), "venting: negative with no ask and nothing about the brand"
            if topics or self._names_brand(lower):
                return ("other",), "about the brand, no clear situation"
            return ("off_topic",), "nothing about the brand or its products"
        return tuple(dict.fromkeys(found) if len(found) > 1 else found), why

    def _names_brand(self, lower: str) -> bool:
        """Does the post name the brand (the vocabulary's `brand_names`, anywhere in it)?"""
        return any(map(lower.__contains__, self.brand_names))


__all__ = ["Enricher", "detect_language", "find_pii", "mask_pii"]  # the pieces callers import


@cache
def _word_tables() -> SimpleNamespace:
    """What an Enricher needs of the shipped lexicons' words, the same for every Enricher: made
    once per process. (Made per Enricher it was ~15,000 Entry objects, ~40 ms each time a
    workspace rebuilt its triager for a new playbook, organisation or brand version.)"""
    t = SimpleNamespace()
    lex = lexicons.shipped()
    t.words = dict(lexicons.vader())
    t.words.update({k: float(v) for k, v in lex["words"].items()})
    t.problems = frozenset(lex["problems"])
    t.words.update({k: float(v) for k, v in lex["problems"].items()})
    t.emoji = {k: float(v) for k, v in lex["emoji"].items()}
    # One table for the token loop: a word's valence wins over an emoji's; words the
    # lexicon sets to 0 (brand names, politeness) are left out, so they never score.
    t.lookup = {k: v for k, v in {**t.emoji, **t.words}.items() if v and isinstance(k, str)}
    for neg in NEGATIONS:
        t.lookup.setdefault(neg, NEGATION_ALONE)
    t.negation_alone = frozenset(n for n in NEGATIONS if t.lookup[n] == NEGATION_ALONE)
    t.zero = frozenset(k for k, v in t.words.items() if not v)
    # Assent and thanks are politeness in a post addressed to someone (it starts with "@"),
    # scored low above; in a post to everyone they keep VADER's value. Two tables, one
    # chosen per post: no per-token cost.
    vader = lexicons.vader()
    t.lookup_broadcast = dict(t.lookup)
    for w in lex.get("politeness", ()):
        if vader.get(w):
            t.lookup_broadcast[w] = vader[w]
    # What the sentiment loop needs of each word, computed once (one table for posts to
    # someone, one for posts to everyone; see lookup_broadcast).
    t.entries = _entries(t.lookup, t.problems, t.negation_alone)
    # Words that judge (strongly negative, not a problem report, not a negation): what
    # makes a complaint a disapproval rather than a report (domain/severity.py).
    t.evaluative = frozenset(w for w, e in t.entries.items()
                             if e.valence <= -1.5 and not e.is_problem and not e.negation_alone)
    t.entries_broadcast = _entries(t.lookup_broadcast, t.problems, t.negation_alone)
    return t


def _entries(lookup: dict[str, float], problems: frozenset[str],
             alone: frozenset[str]) -> dict[str, Entry]:
    """What the sentiment loop needs of each word (kernels.Entry): valence; whether it
    names a service problem; its SHOUTED form (words longer than two letters); its
    Capitalised form (a word inside a name, "Good Morning America", counts for less; a
    problem word in Title Case, "Flight Delayed", is a report, not a name); whether a
    negation can flip it (words, not emoji or ":)", nor time words like "yet"); the words
    that make it a hedge ("kind of"); whether it is a negation that counts on its own when
    it negates nothing."""
    return {tok: Entry(v, tok in problems,
                       tok.upper() if len(tok) > 2 and tok.isalpha() else "",
                       tok.capitalize() if tok.isalpha() and tok not in problems else "",
                       (tok[0].isalpha() or tok[0] == "#") and tok not in TEMPORAL,
                       HEDGES.get(tok), tok in alone)
            for tok, v in lookup.items()}
