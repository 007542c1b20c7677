"""Enrichment: derive Signals (sentiment, situation, complaint severity, who is asking,
urgency, language, PII, topics) from one Mention. Pure, fast, and explained: every signal
carries a short "because" (docs/signals.md). The lexicons and the tokeniser live in
lexicons.py, PII in pii.py, language in language.py, severity in severity.py.

The fast path is one lower-casing, one word regex (its tokens serve sentiment and language)
and one Aho-Corasick pass over the text for every lexicon phrase (customer-service phrases,
situation cues, workspace topics); PII regexes only run on texts with a run of digits, an
address-like number or an e-mail domain; the language detector (CLD2) only sees texts
with non-ASCII letters or too few English words to tell. Sentiment starts from the VADER
lexicon (MIT) and adds customer-service phrases that are negative without an angry word
("charged twice", "still waiting").
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from functools import cache
from itertools import compress
from operator import itemgetter, methodcaller

import ahocorasick

from escapevelocity.domain import lexicons
from escapevelocity.domain.language import detect_language
from escapevelocity.domain.language import language as language_of
from escapevelocity.domain.lexicons import URL, WORD, WORD_ASCII
from escapevelocity.domain.pii import _word_char, find_pii, mask_pii
from escapevelocity.domain.pii import may_have as may_have_pii
from escapevelocity.domain.playbook import fold
from escapevelocity.domain.playbook.facts import FOLD_TABLE
from escapevelocity.domain.records import Mention, Signals
from escapevelocity.domain.severity import severity as complaint_severity
from escapevelocity.domain.vocabulary import Vocabulary

MAX_TEXT = 20_000  # characters of a post that enrichment (and a learned model) reads
_CAPS = re.compile(r"\b[A-Z]{3,}\b")
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
_MODIFIER_WORDS = frozenset(_MODIFIERS)
# A sentiment word followed by one of these is part of a hedge or an idiom, not an opinion.
_HEDGES = {"kind": frozenset(["of"]), "sort": frozenset(["of"]), "pretty": frozenset(["much"]),
           "no": frozenset(["matter", "idea", "clue"]),
           "hard": frozenset(["drive", "disk", "copy"])}
# Time words a negation does not reach: in "hasn't arrived yet" it negates "arrived", and
# "yet" still says the wait goes on.
_TEMPORAL = frozenset(["yet", "still", "again", "anymore", "already"])
# Negation words that do not negate: "nothing but the best", "not only good", "not just fast".
_NOT_NEGATING = frozenset([("nothing", "but"), ("not", "only"), ("not", "just")])


def _r2(x: float) -> float:
    """round(x, 2) for 0 <= x <= 1, without the decimal formatting round() goes through."""
    return int(x * 100 + 0.5) / 100


_STRENGTH = itemgetter(0)  # reasons are (-|valence|, name)
_IS_TAG = methodcaller("startswith", "#")
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
COMPLAINT_EDGE = -0.1  # at or below, and about the brand: a complaint
POSITIVE_EDGE = 0.3  # score at or above: positive; social posts are mostly neutral-ish
# A negation that negates no sentiment word ("it won't load", "hasn't arrived", "can't log in")
# is itself evidence of a problem: mildly negative, enough for a complaint to a brand (score
# below COMPLAINT_EDGE) but not, alone, for a negative label.
NEGATION_ALONE = -0.5
QUESTION_POSITIVE_SCALE = 0.6  # a post that asks something: its positive words count for less
EXCLAIM_ALONE = 1.3  # the total that puts a post just past POSITIVE_EDGE (1.22)
NAME_SCALE = 0.25  # a sentiment word inside a Capitalised name ("Good Morning America")
LABEL_EDGE = POSITIVE_EDGE  # kept for callers that read it


# What the sentiment loop knows of a word (Enricher._entries).
_Entry = tuple[float, bool, str, str, bool, frozenset[str] | None, bool]
# What one scan finds: sentiment phrases, situation cues, topics, the first sarcasm markers,
# the first complaint-severity cue per level.
_Scan = tuple[list[tuple[str, float]], dict[str, list[str]], tuple[str, ...], str | None,
              str | None, dict[str, str]]


def _in_name(title: str, text: str) -> bool:
    """Is the word `title` (Capitalised) written next to another Capitalised word ("Miss USA",
    "Good Morning America", "Gentle Yoga"): part of a name or a title, not an opinion."""
    for start, end in _whole_words(title, text):
        before = text[max(0, start - 64):start].rstrip()  # the word before, not the post
        if not before and start > 64:
            before = text[:start].rstrip()
        after = text[end:].lstrip()
        if after[:1].isupper() and after[1:2].islower():  # the next word is Capitalised
            return True
        starts_sentence = not before or before[-1] in ".!?:\"\n" or _ENDS_HANDLE(before)
        if not starts_sentence and _ENDS_TITLE(before):  # so is the word before
            return True
    return False


def _whole_words(word: str, text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each whole-word occurrence of `word` (a word of letters) in `text`, as
    re.finditer(r"\\b" + word + r"\\b", text) would give them, without building (and, past
    re's cache, compiling: ~80 µs) a pattern per word."""
    size, length = len(word), len(text)
    start = text.find(word)
    while start >= 0:
        end = start + size
        if (not start or not _word_char(text[start - 1])) and \
                (end == length or not _word_char(text[end])):
            yield start, end
        start = text.find(word, end)


def _compiled_rules(enricher: Enricher):
    """hotpath.Rules(enricher).rules, or None when the extension is not built (a checkout
    before `make install`) or EV_PURE_PYTHON is set (to run, profile or debug the Python)."""
    if os.environ.get("EV_PURE_PYTHON"):
        return None
    try:
        from escapevelocity.domain import hotpath
    except ImportError:
        return None
    return hotpath.Rules(enricher).rules


def _whole_word(word: str, text: str) -> bool:
    return next(_whole_words(word, text), None) is not None


_ENDS_HANDLE = re.compile(r"@\w+$").search
_ENDS_TITLE = re.compile(r"\b[A-Z][a-z]+$").search


class Enricher:
    """Compiled once per workspace vocabulary; `enrich` is then a pure function of the mention."""

    def __init__(self, vocabulary: Vocabulary | None = None,
                 models: dict | None = None, defer_vectors: bool = False,
                 compiled: bool = True) -> None:
        """`models`: signal -> learn.SignalModel learned from the workspace's corrections; each
        overrides the rules' answer for its signal (and says so in `because`).
        `defer_vectors`: `enrich_many` leaves a model's sentence vectors to the refine job
        (services/refine.py) and marks those signals provisional: the ingest path.
        `compiled`: use hotpath.pyx's translation of `rules` when it is built (the default);
        False runs this file's Python, as EV_PURE_PYTHON=1 does for every Enricher."""
        self.vocabulary = vocabulary or Vocabulary()
        self.models = dict(models or {})
        self.defer_vectors = defer_vectors
        lex = lexicons.shipped()
        self.words = dict(lexicons.vader())
        self.words.update({k: float(v) for k, v in lex["words"].items()})
        self.problems = frozenset(lex["problems"])
        self.words.update({k: float(v) for k, v in lex["problems"].items()})
        self.emoji = {k: float(v) for k, v in lex["emoji"].items()}
        # One table for the token loop: a word's valence wins over an emoji's; words the
        # lexicon sets to 0 (brand names, politeness) are left out, so they never score.
        self.lookup = {k: v for k, v in {**self.emoji, **self.words}.items()
                       if v and isinstance(k, str)}
        for neg in NEGATIONS:
            self.lookup.setdefault(neg, NEGATION_ALONE)
        self.negation_alone = frozenset(n for n in NEGATIONS if self.lookup[n] == NEGATION_ALONE)
        self.zero = frozenset(k for k, v in self.words.items() if not v)
        # Assent and thanks are politeness in a post addressed to someone (it starts with "@"),
        # scored low above; in a post to everyone they keep VADER's value. Two tables, one
        # chosen per post: no per-token cost.
        vader = lexicons.vader()
        self.lookup_broadcast = dict(self.lookup)
        for w in lex.get("politeness", ()):
            if vader.get(w):
                self.lookup_broadcast[w] = vader[w]
        # What the sentiment loop needs of each word, computed once (one table for posts to
        # someone, one for posts to everyone; see lookup_broadcast).
        self.entries = self._entries(self.lookup)
        # Words that judge (strongly negative, not a problem report, not a negation): what
        # makes a complaint a disapproval rather than a report (domain/severity.py).
        self.evaluative = frozenset(t for t, e in self.entries.items()
                                    if e[0] <= -1.5 and not e[1] and not e[6])
        self.entries_broadcast = self._entries(self.lookup_broadcast)
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
        self.hashtag_cues = tuple((k, float(v)) for k, v in lex.get("hashtag_cues", {}).items())
        self.hashtag_affixes = tuple(k for k, _ in self.hashtag_cues)
        self._tags: dict[str, float] = {}  # memo of _hashtag: tags repeat
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
        # The compiled twin of `rules` (hotpath.pyx) when it is built: the same answers in a
        # fraction of the time. `Enricher.rules(enricher, mention)` is always this file's. It
        # reads this Enricher's tables once, here: an Enricher is not changed once built (a new
        # vocabulary or new models make a new Enricher, as the workspace does).
        self.compiled = False
        rules = _compiled_rules(self) if compiled else None
        if rules is not None:
            self.rules = rules  # type: ignore[method-assign]
            self.compiled = True
            if not self.models:  # nothing learned: enrich is the rules, with no frame between
                self.enrich = rules  # type: ignore[method-assign]

    def _entries(self, lookup: dict[str, float]) -> dict[str, _Entry]:
        """What the sentiment loop needs of each word: valence; whether it names a service
        problem; its SHOUTED form (words longer than two letters); its Capitalised form (a word
        inside a name, "Good Morning America", counts for less; a problem word in Title Case,
        "Flight Delayed", is a report, not a name); whether a negation can flip it (words,
        not emoji or ":)", nor time words like "yet"); the words that make it a hedge ("kind
        of"); whether it is a negation that counts on its own when it negates nothing."""
        problems, alone = self.problems, self.negation_alone
        return {tok: (v, tok in problems,
                      tok.upper() if len(tok) > 2 and tok.isalpha() else "",
                      tok.capitalize() if tok.isalpha() and tok not in problems else "",
                      (tok[0].isalpha() or tok[0] == "#") and tok not in _TEMPORAL,
                      _HEDGES.get(tok), tok in alone)
                for tok, v in lookup.items()}

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
        """The shipped rules' signals, before any learned model. The definition: hotpath.pyx
        is its compiled translation, which an Enricher uses when it is built."""
        # The hot path (every mention of every channel): one lower-casing, one scan, one
        # tokenisation, and fast paths for what most posts are (no cue, no list, no PII hint).
        text = mention.text or ""
        if len(text) > MAX_TEXT:  # bounded work for hostile sizes; the edge limits text anyway
            text = text[:MAX_TEXT]
        lower = text.lower()
        if "\u2019" in lower:  # typographic apostrophes: "don’t" is "don't"
            lower = lower.replace("\u2019", "'")
        ascii_text = lower.isascii()
        # Accent folding only when there is something to fold (emoji alone need none).
        folded = lower if ascii_text or unicodedata.is_normalized("NFKD", lower) \
            else lower.translate(FOLD_TABLE)
        phrases, cues, topics, sarcasm, irony, marks = self._scan(folded)
        plain = URL.sub(" ", lower) if ("http" in lower or "www." in lower) else lower
        tokens = (WORD_ASCII if ascii_text else WORD).findall(plain)
        score, sentiment_because = self._sentiment(text, lower, tokens, phrases, sarcasm, irony)
        label = ("negative" if score <= NEGATIVE_EDGE else "positive" if score >= POSITIVE_EDGE
                 else "neutral")
        pii = find_pii(text) if may_have_pii(text, ascii_text) else ()
        author = mention.author
        author_class, author_because = self._author(mention, cues)
        if cues or author_class == "bot":
            situations, situation_because = self._situations(lower, label, score, cues, topics,
                                                             author_class)
        else:
            situations, situation_because = self._plain_situations(lower, label, score, topics)
        if author_class == "customer" and "lead" in situations and \
                author.handle.lower() not in self.vocabulary.customers:
            author_class, author_because = "prospect", "asks to buy and is not a known customer"
        if "crisis" in situations:
            urgency = 3
        else:
            urgency = 2 if "legal" in situations else 1 if score <= -0.6 else 0
            if "!!" in text or "urgent" in lower or "asap" in lower or "emergency" in lower:
                urgency = min(urgency + 1, 3)
        language, language_confidence = language_of(text, plain, ascii_text, tokens)
        because = {"sentiment": sentiment_because, "situation": situation_because,
                   "author_class": author_because}
        if "complaint" in situations:
            judging = self.evaluative
            evaluative = None if judging.isdisjoint(tokens) else \
                next(t for t in tokens if t in judging)
            severity, because["severity"] = complaint_severity(tokens, marks, evaluative,
                                                               self.problems)
        else:
            severity = ""
        if pii:
            because["pii"] = "found " + ", ".join(pii)
        if topics:
            because["topics"] = "mentions " + ", ".join(topics)
        return Signals(
            sentiment=score, sentiment_label=label, situation=situations[0],
            situations=tuple(situations), severity=severity, author_class=author_class,
            urgency=urgency,
            language=language, pii=pii, topics=topics,
            keywords=tuple(sorted({p for p, _ in phrases})) if phrases else (),
            # |score| says how far from neutral a post is, not how often we are right:
            # at most 90% sure, however strong the words.
            confidence={"sentiment": _r2(min(0.9, 0.5 + 0.4 * abs(score))),
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

    def _scan(self, folded: str) -> _Scan:
        """One Aho-Corasick pass: sentiment phrases, situation cues, topics (whole words only)
        and the first sarcasm markers (anywhere)."""
        phrases: list[tuple[str, float]] = []
        situations: dict[str, list[str]] = {}
        topics: list[str] = []
        explicit = irony = None
        marks: dict[str, str] = {}
        n = len(folded)
        for end, (length, items, anywhere) in self.automaton.iter(folded):
            start = end - length + 1
            whole = not ((start > 0 and folded[start - 1].isalnum())
                         or (end + 1 < n and folded[end + 1].isalnum()))
            if not whole and not anywhere:
                continue
            for kind, name, valence in items:
                if kind == "sarcasm":
                    explicit = explicit or name
                elif kind == "irony":
                    irony = irony or name
                elif not whole:
                    continue
                elif kind == "sentiment":
                    phrases.append((name, valence))
                elif kind == "situation":
                    situations.setdefault(name, []).append(folded[start:end + 1])
                elif kind == "severity":
                    marks.setdefault(name, folded[start:end + 1])
                elif name not in topics:
                    topics.append(name)
        return phrases, situations, tuple(topics), explicit, irony, marks

    def _sentiment(self, text: str, lower: str, tokens: list[str],
                   phrases: list[tuple[str, float]], sarcasm: str | None,
                   irony: str | None) -> tuple[float, str]:
        # The hot loop of enrichment: the lexicon lookup runs in C (map + compress over the
        # tokens); only sentiment words reach Python, and each brings its precomputed forms.
        to_someone = lower[:1] == "@"
        entries = self.entries if to_someone else self.entries_broadcast
        hits = list(compress(range(len(tokens)), map(entries.__contains__, tokens)))
        if "#" in lower:
            zero = self.zero
            tags = [i for i in compress(range(len(tokens)), map(_IS_TAG, tokens))
                    if len(tokens[i]) > 3 and tokens[i] not in zero and tokens[i] not in entries]
            if tags:
                hits = sorted(hits + tags)
        if not hits and not phrases and "!" not in lower and "?" not in lower:
            return 0.0, "no sentiment words"
        pos = neg = 0.0
        reasons: list[tuple[float, str]] = []
        problem = False
        if hits:
            # ALL-CAPS words: a shouted post (three or more), or this word shouted. Checked per
            # sentiment word (a substring test first), not with a regex over every text.
            upper = text if text != lower else ""
            all_caps = bool(upper) and text.isupper() and \
                len({w for w in _CAPS.findall(text)}) >= 3
            but = tokens.index("but") if "but" in tokens else -1
            modifiers = _MODIFIERS if not _MODIFIER_WORDS.isdisjoint(tokens) else None
            # A negated idiom ("no problem", "couldn't be happier", "not bad") is scored as a
            # whole: its words are not also negated one by one.
            idioms = self.idioms
            covered = frozenset().union(*(idioms[p] for p, _ in phrases if p in idioms)) \
                if phrases else ()
            for i in hits:
                tok = tokens[i]
                if covered and tok in covered:
                    continue  # a phrase's words are scored by the phrase
                entry = entries.get(tok)
                if entry is None:
                    v = self._hashtag(tok[1:])
                    if not v:
                        continue
                    entry = (v, False, "", "", True, None, False)
                v, is_problem, shout, title, negatable, hedge, alone = entry
                if alone:
                    for t in tokens[i + 1:i + 4]:
                        after = entries.get(t)
                        if after is not None and after[4] and not after[6] and t[0].isalpha():
                            break  # it negates the word after it ("not good"): counted there
                    else:
                        reasons.append((-abs(NEGATION_ALONE), tok))
                        neg += NEGATION_ALONE
                    continue
                if hedge is not None and i + 1 < len(tokens) and tokens[i + 1] in hedge:
                    continue  # "kind of", "pretty much", "no matter": a hedge, not a sentiment
                if tok in BOOSTERS and i + 1 < len(tokens):
                    after = entries.get(tokens[i + 1])
                    if after is not None and after[4]:
                        continue  # "so fucking excited", "super helpful": it scales the next word
                scale = 1.0
                if modifiers is not None and negatable:
                    for j in range(i - 3 if i > 3 else 0, i):
                        m = modifiers.get(tokens[j])
                        if m is not None and (m > 0 or (tokens[j], tokens[j + 1])
                                              not in _NOT_NEGATING):
                            scale *= m
                if upper:
                    if all_caps or (shout and shout in upper and _whole_word(shout, upper)):
                        scale *= 1.3
                    if title and title in text and _in_name(title, text):
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
                    problem = problem or is_problem
                reasons.append((-abs(v), tok))
        for phrase, v in phrases:
            if v > 0:
                pos += v
            else:
                neg += v
                problem = True
            reasons.append((-abs(v), f"'{phrase}'"))
        if pos:
            if sarcasm is None and problem:
                sarcasm = irony
            if sarcasm:  # "yeah right", "#sarcasm", "love how …" next to a problem
                neg -= pos
                pos = 0.0
                reasons.append((-9.0, f"sarcasm '{sarcasm}'"))
            elif problem:
                pos *= MIXED_POSITIVE_SCALE
        total = pos + NEGATIVE_WEIGHT * neg
        if "!" in lower:
            if total:
                total += math.copysign(0.25 * min(lower.count("!"), 4), total)
            elif not neg and "?" not in lower and not to_someone:
                # "PUMPED for tonight!", "Bring on the weekend!": an exclamation with no word
                # of sentiment, in a post that is not addressed to someone (to a brand "!" is
                # urgency), is enthusiasm: just past the positive edge.
                total = EXCLAIM_ALONE
                reasons.append((-EXCLAIM_ALONE, "'!'"))
        if "?" in lower:
            if "?!" in lower or "!?" in lower or "??" in lower:
                total -= 0.5
            if total > 0:
                # A post that asks something is asking, not praising: "any update? thanks",
                # "is the new one any good?", "hope you can help?" (its positive words are
                # politeness).
                total *= QUESTION_POSITIVE_SCALE
        if total == 0:
            return 0.0, "no sentiment words"
        score = total / math.sqrt(total * total + 15)
        if len(reasons) > 1:
            reasons.sort(key=_STRENGTH)  # strongest first; ties keep their order
            names = ", ".join([name for _, name in reasons[:3]])
        else:
            names = reasons[0][1] if reasons else ""
        rounded = int(score * 10_000 + (0.5 if score > 0 else -0.5)) / 10_000  # round() is slow
        return rounded, ("negative: " if score < 0 else "positive: ") + names

    def _hashtag(self, tag: str) -> float:
        """#unitedfail, #badservice, #loveit, #nothappy: a known word, a negated one, or a known
        start or end (memoised: hashtags repeat, and the cue loop is the costly part)."""
        v = self._tags.get(tag)
        if v is None:
            if len(self._tags) > 50_000:
                self._tags.clear()
            v = self._tags[tag] = self._hashtag_uncached(tag)
        return v

    def _hashtag_uncached(self, tag: str) -> float:
        v = self.words.get(tag)
        if v:
            return v
        for prefix in ("not", "no", "never"):  # #nothappy, #notimpressed, #nolove: negated
            if tag.startswith(prefix) and len(tag) > len(prefix) + 2:
                rest = tag[len(prefix):]
                v = self.words.get(rest) or next(
                    (val for cue, val in self.hashtag_cues if rest.startswith(cue)), 0.0)
                if v:
                    return v * NEGATION_SCALE if v > 0 else v
        affixes = self.hashtag_affixes
        if not (tag.startswith(affixes) or tag.endswith(affixes)):  # one C call for most tags
            return 0.0
        for cue, valence in self.hashtag_cues:
            if tag.startswith(cue) or tag.endswith(cue):
                return valence
        return 0.0

    def _author(self, mention: Mention, hits: dict[str, list[str]]) -> tuple[str, str]:
        a = mention.author
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
        if hits and "spam" in hits and a.followers < 100:
            return "bot", "spam pattern from a low-reach account"
        if handle and handle in v.customers:
            return "customer", "known customer"
        if a.followers >= v.influencer_followers:
            edge = v.influencer_followers
            tier = "mega" if a.followers >= 100 * edge else "macro" if a.followers >= 10 * edge \
                else "micro"
            return "influencer", f"{a.followers:,} followers ({tier}: at least {edge:,})"
        return "customer", "default: nothing says otherwise"

    def _plain_situations(self, lower: str, label: str, score: float,
                          topics: tuple[str, ...]) -> tuple[list[str], str]:
        """`_situations` for a post with no situation cue by an author who is not a bot (most
        posts): the same answers without the cue bookkeeping."""
        is_question = "?" in lower or lower.strip().startswith(self.question_openers)
        if score <= COMPLAINT_EDGE and (topics or "@" in lower):
            found = ["complaint", "question"] if is_question else ["complaint"]
            why = "complaint: negative about the brand"
        elif is_question:
            found, why = ["question"], "question: asks something"
        else:
            found, why = [], ""
        if label == "positive" and score >= 0.45:
            found.append("praise")
            why = why or "praise: positive about the brand"
        if found:
            return found, why
        if label == "negative":
            return ["venting"], "venting: negative with no ask and nothing about the brand"
        if topics or "orbit" in lower:
            return ["other"], "about the brand, no clear situation"
        return ["off_topic"], "nothing about the brand or its products"

    def _situations(self, lower: str, label: str, score: float, hits: dict[str, list[str]],
                    topics: tuple[str, ...], author_class: str) -> tuple[list[str], str]:
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


__all__ = ["Enricher", "detect_language", "find_pii", "mask_pii"]  # the pieces callers import
