"""The hot loops of enrichment, in Python: the phrase scan, the word cutter, the sentiment
loop and the PII gate. Each is a kernel with a narrow interface (plain text in, a plain typed
result out) and no decision in it: what a post's situation, author class, severity, language
and urgency are is decided once, in enrich.py, from what these return.

This file is the reference: hotpath.pyx compiles the same four kernels (docs/decisions/
0007-one-text-of-the-rules.md), tests/unit/test_hotpath.py holds each to its reference here,
and without a compiler (or with EV_PURE_PYTHON=1) an Enricher runs these.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from itertools import compress
from operator import itemgetter, methodcaller
from typing import TYPE_CHECKING, NamedTuple

from escapevelocity.domain.language import ENGLISH
from escapevelocity.domain.lexicons import URL, WORD, WORD_ASCII
from escapevelocity.domain.pii import _word_char, find_pii
from escapevelocity.domain.pii import may_have as may_have_pii
from escapevelocity.domain.playbook.facts import FOLD_TABLE
from escapevelocity.domain.severity import FAILURE_WORDS, JUDGEMENTS, SECOND_PERSON

if TYPE_CHECKING:
    from escapevelocity.domain.enrich import Enricher

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
MODIFIERS = {**{w: 1 + v for w, v in DAMPENERS.items()}, **{w: 1 + v for w, v in BOOSTERS.items()},
             **dict.fromkeys(NEGATIONS, NEGATION_SCALE)}
MODIFIER_WORDS = frozenset(MODIFIERS)
# A sentiment word followed by one of these is part of a hedge or an idiom, not an opinion.
HEDGES = {"kind": frozenset(["of"]), "sort": frozenset(["of"]), "pretty": frozenset(["much"]),
          "no": frozenset(["matter", "idea", "clue"]),
          "hard": frozenset(["drive", "disk", "copy"])}
# Time words a negation does not reach: in "hasn't arrived yet" it negates "arrived", and
# "yet" still says the wait goes on.
TEMPORAL = frozenset(["yet", "still", "again", "anymore", "already"])
# Negation words that do not negate: "nothing but the best", "not only good", "not just fast".
NOT_NEGATING = frozenset([("nothing", "but"), ("not", "only"), ("not", "just")])


_STRENGTH = itemgetter(0)  # reasons are (-|valence|, name)
_IS_TAG = methodcaller("startswith", "#")
# Customer-service weighting: when a post carries both praise words and complaint evidence, the
# complaint is what needs handling ("thanks for the robotic and non helpful assistance"), so
# positive words count for less next to negative ones; polite "thanks" rarely makes a post happy.
MIXED_POSITIVE_SCALE = 0.7
NEGATIVE_WEIGHT = 1.15
# A negation that negates no sentiment word ("it won't load", "hasn't arrived", "can't log in")
# is itself evidence of a problem: mildly negative, enough for a complaint to a brand (score
# below enrich.COMPLAINT_EDGE) but not, alone, for a negative label.
NEGATION_ALONE = -0.5
QUESTION_POSITIVE_SCALE = 0.6  # a post that asks something: its positive words count for less
EXCLAIM_ALONE = 1.3  # the total that puts a post just past POSITIVE_EDGE (1.22)
NAME_SCALE = 0.25  # a sentiment word inside a Capitalised name ("Good Morning America")


class Entry(NamedTuple):
    """What the sentiment loop knows of a word, computed once per table (Enricher.entries)."""

    valence: float
    is_problem: bool  # names a service problem ("delayed", "refund")
    shout: str  # its SHOUTED form, for words of three letters or more
    title: str  # its Capitalised form: inside a name it counts for less
    negatable: bool  # a negation before it flips it (words; not emoji, nor "yet")
    hedge: frozenset[str] | None  # the next words that make it a hedge ("kind of")
    negation_alone: bool  # a negation that counts on its own when it negates nothing


# A letter written three times or more: "soooo good", "loveeee it", "yessss", "nooooo".
_STRETCHED = re.compile(r"([a-z])\1\1").search
_RUN = re.compile(r"([a-z])\1{2,}")


def unstretch(tokens: list[str], known: frozenset[str]) -> list[str]:
    """The words of a post with each stretched word ("goood", "soooo", "loveeee", "looool")
    read as the word it stretches: its runs cut to two letters if that is a known word
    ("good"), else to one ("so", "love", "lol"); a word neither form of which is known is left
    as written. Shared by both builds of the kernels (hotpath.pyx calls this one): it runs only
    for the few posts with a letter three times in a row."""
    out = []
    for tok in tokens:
        if len(tok) > 2 and _RUN.search(tok):
            two = _RUN.sub(r"\1\1", tok)
            if two in known:
                tok = two
            else:
                one = _RUN.sub(r"\1", tok)
                if one in known:
                    tok = one
        out.append(tok)
    return out


# A clause ends at , . ; : ! or ?, and a negation does not reach past it ("No, it's great",
# "not yet! good to see you"): the words written just before such a mark, cut as the word
# cutter cuts them.
_CLAUSE_END = re.compile(r"([a-z][a-z'0-9]*)\s*[,.;:!?]").findall
# A sentence ends at . ! or ?: "but" weighs the words of its own sentence ("Great crew. The
# seat was fine but the wifi died": "Great" is not the half-meant part).
_SENTENCE_END = re.compile(r"([a-z][a-z'0-9]*)\s*[.!?]").findall


class Words(NamedTuple):
    """A post's words, and what the rules ask of them, answered in the cut's pass."""

    tokens: list[str]  # words and hashtags, emoticons, "<3", runs of ! and ?, emoji
    english: bool  # an English function word among them (language.ENGLISH)
    to_company: bool  # a second-person word: said to the company (severity.SECOND_PERSON)
    judgement: str | None  # the first judgement of the company, "useless" (severity.JUDGEMENTS)
    failure: str | None  # the first failure or problem word, "still", "delayed"
    evaluative: str | None  # the first strongly negative judging word, "awful"


def _first(tokens: list[str], words: frozenset[str]) -> str | None:
    return None if words.isdisjoint(tokens) else next(t for t in tokens if t in words)


class Scan(NamedTuple):
    """What one pass of the phrase automaton finds in a folded post."""

    phrases: list[tuple[str, float]]  # sentiment phrases and their valence, in order
    cues: dict[str, list[str]]  # situation -> the cues found for it, in order
    topics: tuple[str, ...]  # the workspace's topics, first mention first
    sarcasm: str | None  # the first explicit sarcasm marker ("#sarcasm", "yeah right")
    irony: str | None  # the first marker that is sarcasm next to a problem ("love how")
    marks: dict[str, str]  # complaint-severity level -> its first cue


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


def _whole_word(word: str, text: str) -> bool:
    return next(_whole_words(word, text), None) is not None


_ENDS_HANDLE = re.compile(r"@\w+$").search
_ENDS_TITLE = re.compile(r"\b[A-Z][a-z]+$").search


class Reading(NamedTuple):
    """What the kernels read of one post: all the rules decide from."""

    text: str  # the post, at most MAX_TEXT characters (bounded work for hostile sizes)
    lower: str  # lower-cased, typographic apostrophes straightened ("don’t" is "don't")
    plain: str  # `lower` without its URLs
    ascii_text: bool  # `lower` is ASCII
    words: Words  # the words of `plain`
    scan: Scan  # the phrases of `lower`, accents folded
    sentiment: float  # -1..1
    sentiment_because: str
    pii: tuple[str, ...]  # the kinds of PII in `text`


class Kernels:
    """The four kernels over one Enricher's tables (read once: an Enricher is not changed
    once built)."""

    def __init__(self, enricher: Enricher) -> None:
        self.automaton = enricher.automaton
        self.entries = enricher.entries
        self.entries_broadcast = enricher.entries_broadcast
        self.idioms = enricher.idioms
        self.zero = enricher.zero
        self.lexicon_words = enricher.words
        # the word sets Words answers for, besides ENGLISH, SECOND_PERSON and JUDGEMENTS
        self.failures = FAILURE_WORDS | enricher.problems
        self.evaluative = enricher.evaluative
        self.hashtag_cues = enricher.hashtag_cues
        self.hashtag_affixes = tuple(k for k, _ in self.hashtag_cues)
        self._tags: dict[str, float] = {}  # memo of hashtag: tags repeat
        # what a stretched word may be read as: a sentiment word, a booster or a negation
        self.known = frozenset(enricher.entries) | MODIFIER_WORDS

    def read(self, text: str) -> Reading:
        """A post through every kernel: one lower-casing, one scan, one word cut."""
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT]
        lower = text.lower()
        if "\u2019" in lower:
            lower = lower.replace("\u2019", "'")
        ascii_text = lower.isascii()
        # Accent folding only when there is something to fold (emoji alone need none).
        folded = lower if ascii_text or unicodedata.is_normalized("NFKD", lower) \
            else lower.translate(FOLD_TABLE)
        scan = self.scan(folded)
        plain = URL.sub(" ", lower) if ("http" in lower or "www." in lower) else lower
        words = self.words(plain, ascii_text)
        score, because = self.sentiment(text, lower, words.tokens, scan)
        return Reading(text, lower, plain, ascii_text, words, scan, score, because,
                       self.pii(text, ascii_text))

    def scan(self, folded: str) -> Scan:
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
        return Scan(phrases, situations, tuple(topics), explicit, irony, marks)

    cut = staticmethod(WORD.findall)  # the bare cutter (language.py reads handle-free text)

    def words(self, plain: str, ascii_text: bool) -> Words:
        """The word cutter, and the first word of each set the rules ask about."""
        tokens = (WORD_ASCII if ascii_text else WORD).findall(plain)
        if _STRETCHED(plain):
            tokens = unstretch(tokens, self.known)
        return Words(tokens, not ENGLISH.isdisjoint(tokens), not SECOND_PERSON.isdisjoint(tokens),
                     _first(tokens, JUDGEMENTS), _first(tokens, self.failures),
                     _first(tokens, self.evaluative))

    def pii(self, text: str, ascii_text: bool) -> tuple[str, ...]:
        """The PII gate: the kinds of PII in `text`, the regexes run only past a cheap test."""
        return find_pii(text) if may_have_pii(text, ascii_text) else ()

    def sentiment(self, text: str, lower: str, tokens: list[str], scan: Scan) -> tuple[float, str]:
        """(score in -1..1, because) of a post from its words and the phrases and sarcasm
        markers its scan found."""
        phrases, sarcasm, irony = scan.phrases, scan.sarcasm, scan.irony
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
            if but >= 0:  # its sentence: from the last sentence end before it to the next
                first, last = self.sentence_of(tokens, but, self.clause_ends(lower, True))
            modifiers = MODIFIERS if not MODIFIER_WORDS.isdisjoint(tokens) else None
            ends = None  # the words a clause ends after (_CLAUSE_END), read when a negation is met
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
                    v = self.hashtag(tok[1:])
                    if not v:
                        continue
                    entry = Entry(v, False, "", "", True, None, False)
                v, is_problem, shout, title, negatable, hedge, alone = entry
                if alone:
                    negates = False
                    # the first word it could negate among the three after it: it does if no
                    # clause ends before it ("not good", counted there; not "No, it's great")
                    for k, t in enumerate(tokens[i + 1:i + 4], i + 1):
                        after = entries.get(t)
                        if after is not None and after.negatable and not after.negation_alone \
                                and t[0].isalpha():
                            if ends is None:
                                ends = self.clause_ends(lower)
                            negates = ends.isdisjoint(tokens[i:k])
                            break
                    if not negates:  # it negates nothing: "won't load", "hasn't arrived"
                        reasons.append((-abs(NEGATION_ALONE), tok))
                        neg += NEGATION_ALONE
                    continue
                if hedge is not None and i + 1 < len(tokens) and tokens[i + 1] in hedge:
                    continue  # "kind of", "pretty much", "no matter": a hedge, not a sentiment
                if tok in BOOSTERS and i + 1 < len(tokens):
                    after = entries.get(tokens[i + 1])
                    if after is not None and after.negatable:
                        continue  # "so fucking excited", "super helpful": it scales the next word
                scale = 1.0
                if modifiers is not None and negatable:
                    for j in range(i - 3 if i > 3 else 0, i):
                        m = modifiers.get(tokens[j])
                        if m is None:
                            continue
                        if m < 0:
                            if (tokens[j], tokens[j + 1]) in NOT_NEGATING:
                                continue  # "not only", "nothing but"
                            if ends is None:
                                ends = self.clause_ends(lower)
                            if not ends.isdisjoint(tokens[j:i]):
                                continue  # a clause ended between: "No, it's great"
                        scale *= m
                if upper:
                    if all_caps or (shout and shout in upper and _whole_word(shout, upper)):
                        scale *= 1.3
                    if title and title in text and _in_name(title, text):
                        scale *= NAME_SCALE
                if but >= 0 and first <= i < last:  # VADER: what follows "but" is what is meant
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

    def clause_ends(self, lower: str, sentence: bool = False) -> frozenset[str]:
        """The words of `lower` a clause ends after (a , . ; : ! or ? follows), or with
        `sentence` a sentence (. ! or ?), as the word cutter gives them (a stretched word as the
        word it stretches): a negation does not reach past a clause end, "but" past a sentence
        end. Read only for posts with a negation or a "but"."""
        found = (_SENTENCE_END if sentence else _CLAUSE_END)(lower)
        return frozenset(unstretch(found, self.known) if _STRETCHED(lower) else found)

    @staticmethod
    def sentence_of(tokens: list[str], at: int, ends: frozenset[str]) -> tuple[int, int]:
        """The tokens [first, last) of the sentence token `at` is in, given the words a
        sentence ends after (hotpath.pyx calls this one too)."""
        first, last = 0, len(tokens)
        for k in range(at - 1, -1, -1):
            if tokens[k] in ends:
                first = k + 1
                break
        for k in range(at, len(tokens)):
            if tokens[k] in ends:
                last = k + 1
                break
        return first, last

    def hashtag(self, tag: str) -> float:
        """#unitedfail, #badservice, #loveit, #nothappy: a known word, a negated one, or a known
        start or end (memoised: hashtags repeat, and the cue loop is the costly part)."""
        v = self._tags.get(tag)
        if v is None:
            if len(self._tags) > 50_000:
                self._tags.clear()
            v = self._tags[tag] = self._hashtag_uncached(tag)
        return v

    def _hashtag_uncached(self, tag: str) -> float:
        v = self.lexicon_words.get(tag)
        if v:
            return v
        for prefix in ("not", "no", "never"):  # #nothappy, #notimpressed, #nolove: negated
            if tag.startswith(prefix) and len(tag) > len(prefix) + 2:
                rest = tag[len(prefix):]
                v = self.lexicon_words.get(rest) or next(
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

