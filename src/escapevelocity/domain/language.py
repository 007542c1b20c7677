"""Language of a post: an English fast path in front of CLD2, a trained detector
(docs/decisions/0004-language-detection.md). Pure; the detector is a C library."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import pycld2

from escapevelocity.domain import lexicons
from escapevelocity.domain.lexicons import URL, WORD

_HANDLE = re.compile(r"@\w+")
_NON_ASCII_LETTER = re.compile(r"[^\W\d_\x00-\x7f]").search
_ANY_LETTER = re.compile(r"[^\W\d_]").search
ENGLISH = frozenset(["the", "and", "or", "but", "my", "me", "i", "i'm", "im", "you", "your", "it",
                      "it's", "is", "are", "were", "been", "to", "of", "on", "at", "for", "with",
                      "this", "that", "have", "has", "had", "not", "no", "does", "did", "can",
                      "just", "what", "how", "why", "when", "who", "any", "anyone", "thanks",
                      "please", "still"])


def detect_language(text: str) -> str:
    """ISO 639-1, or 'und'. ASCII posts that read as English are English (the fast path);
    everything else goes to CLD2, a trained detector."""
    lower = (text or "").lower()
    plain = URL.sub(" ", lower) if ("http" in lower or "www." in lower) else lower
    return language(text or "", plain, lower.isascii(), WORD.findall(plain))[0]


def language(text: str, plain: str, ascii_text: bool, tokens: list[str],
             english: bool | None = None,
             cut: Callable[[str], list[str]] = WORD.findall) -> tuple[str, float]:
    """(language, confidence) of `text`, given it lower-cased without URLs and its word tokens.

    Fast path: text whose letters are all ASCII and that has an English function word, or
    whose words are mostly known English words (the sentiment lexicons, common words), is
    English. Everything else, and every text with other letters, goes to CLD2; an ASCII
    text it is unsure about is counted English, the common case for short posts. `english`:
    whether an English function word is among `tokens`, when the caller knows (kernels.Words);
    `cut`: the word cutter (the WORD regex, or its compiled kernel)."""
    if not ascii_text:
        if not _ANY_LETTER(plain):
            return "und", 0.0
        if _NON_ASCII_LETTER(plain):  # accents, other scripts: the detector decides
            return _langid(_no_urls(text)[:1000])
    # Only ASCII letters (perhaps with emoji or symbols).
    if english if english is not None else not ENGLISH.isdisjoint(tokens):
        return "en", 0.9
    if "@" in plain:  # handles say nothing about the language of the post
        tokens = cut(_HANDLE.sub(" ", plain))
    words = [t for t in tokens if t[0] != "#" and t.isalpha()]
    if not words:
        return "und", 0.0
    known = _known_english()
    hits = sum(map(known.__contains__, words))
    if hits and hits * 2 >= len(words):
        return "en", 0.7
    if len(words) < 3:  # "@apple store NY", "wowwww": too little for any detector to tell
        return "en", 0.5
    return _english_or(text)


def _no_urls(text: str) -> str:
    """The words of a post that are in its language: no links, @handles, #tags or "RT" (the
    detector reads "#Samsung #Google" as English in a French post)."""
    if "http" in text or "www." in text:
        text = URL.sub(" ", text)
    if "@" in text or "#" in text or "RT " in text:
        words = _NOT_LANGUAGE.sub(" ", text)
        if _ANY_LETTER(words):
            return words
    return text


# [@#]\w+|\bRT\b, written so that every alternative starts with a literal character: the
# regex engine then skips to the next '@', '#' or 'R' instead of trying both at every position
# (`(?<!\wR)` after the R is the \b before it).
_NOT_LANGUAGE = re.compile(r"@\w+|#\w+|R(?<!\wR)T\b")


def _english_or(text: str) -> tuple[str, float]:
    lang, prob = _langid(_no_urls(text)[:1000])
    return ("en", 0.5) if lang == "und" else (lang, prob)


@cache
def _known_english() -> frozenset[str]:
    """Words that are evidence of English: the sentiment lexicons and common English words."""
    lex = lexicons.shipped()
    return frozenset(w for w in (*lexicons.vader(), *lex["words"], *lex["problems"],
                                 *lex.get("english", ())) if isinstance(w, str) and w.isalpha())


# CLD2 answers in its own codes for a few languages; the rest are ISO 639-1 already.
_CLD2_CODES = {"iw": "he", "jw": "jv", "in": "id", "ji": "yi", "zh-Hant": "zh", "un": "und"}


def _langid(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, confidence) from CLD2, Chromium's compact language detector (pycld2):
    a trained detector that decides a tweet in ~15 µs, where py3langid took ~200 µs, which on a
    multilingual stream was most of enrichment's time. 'und' when it cannot tell."""
    try:
        reliable, _, details = pycld2.detect(text, bestEffort=True)
    except (pycld2.error, UnicodeError):  # lone surrogates: still a defined answer
        return "und", 0.0
    code, percent = details[0][1], details[0][2]
    lang = _CLD2_CODES.get(code) or code.split("-")[0]
    if lang == "und" or not percent:
        return "und", 0.0
    confidence = percent / 100 if reliable else percent / 200
    return (lang, round(confidence, 2)) if confidence >= 0.5 else ("und", 0.0)
