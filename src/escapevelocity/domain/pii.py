"""PII in a post (card, account and phone numbers, e-mail addresses, street addresses): found so
the playbook can move the conversation private, and masked wherever the UI shows the post.
Cheap hints first: most posts have no run of digits and no e-mail, and skip the regexes."""

from __future__ import annotations

import re

# Each pattern starts with a character class (its "(?<!...)" test comes after the first
# character), so the regex engine jumps between candidate characters instead of trying the
# pattern at every position; tests/unit/test_pii_patterns.py checks them against the plain
# forms they replaced.
_CARD = re.compile(r"\d(?<!\d\d)(?:[ -]?\d){12,18}(?!\d)")
_ACCOUNT = re.compile(r"\b(?:acc(?:ount)?(?:\s*(?:no|number|#))?[\s:#-]*(?:(?:is|was)\s+)?)"
                      r"(\d{3,}(?:[ -]\d{3,}){0,4})\b",
                      re.IGNORECASE)
_ACCOUNT_HINT = re.compile(r"[aA][cC][cC]").search  # every account match says "acc"
_EMAIL_DOMAIN = re.compile(r"@[\w-]+\.[\w.-]+")
# An optional +country code, an area code in brackets or digits, then 3-4 and 3-4 digits; the
# first character is consumed before the "not after a word character" test.
_PHONE = re.compile(r"[+(\d](?<!\w[+(\d])"
                    r"(?:(?<=\+)\d{1,3}[\s-]?(?:\(\d{2,5}\)[\s-]?|\d{2,5}[\s-])"
                    r"|(?<=\()\d{2,5}\)[\s-]?|(?<=\d)\d{1,4}[\s-])"
                    r"\d{3,4}[\s-]?\d{3,4}(?!\d)")
_HAS_DIGIT = re.compile(r"\d").search
# Six digits with at most single separators: any card, account or phone number has them.
_DIGIT_RUN = re.compile(r"\d(?:[\s-]?\d){5}").search
_ADDRESS_HINT = re.compile(r"\d\s+[A-Z]").search
# Every text with PII has a run of six digits, an address-like number or an e-mail domain.
_DIGIT_HINT = re.compile(r"[0-9](?:[\s-]?[0-9]){5}|[0-9]\s+[A-Z]").search
_ADDRESS = re.compile(r"\d(?<!\w\d)\d{0,3}\s+[A-Z][a-z]+\s+"
                      r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Close|Drive|Way)\b")


def may_have(text: str, ascii_text: bool) -> bool:
    """False when `text` surely has no PII; cheap (the regexes start on a digit or '@')."""
    if "@" in text and _has_email_hint(text):
        return True
    return bool(_DIGIT_HINT(text) if ascii_text else _HAS_DIGIT(text))


def _has_email_hint(text: str) -> bool:
    """`_EMAIL_HINT` found, searched from each '@' (a literal the regex engine jumps to) and
    then checking the character before it: an e-mail has a local part, a @handle does not.
    The same answer as the regex, a tenth of its time on tweets full of @handles."""
    for m in _AT_DOT(text):
        at = m.start()
        if at and (text[at - 1] in "._+-" or _word_char(text[at - 1])):
            return True
    return False


_AT_DOT = re.compile(r"@[\w-]+\.").finditer


def _emails(text: str) -> list[tuple[int, int, str]]:
    """The matches of [\\w.+-]+@[\\w-]+\\.[\\w.-]+, found from each '@' and its domain (a
    literal the regex engine jumps to) and then the local part read backwards: the same spans,
    without the pattern's retries at every letter of every word (quadratic in word length)."""
    found: list[tuple[int, int, str]] = []
    bound = 0  # an address does not start inside the previous one
    for m in _EMAIL_DOMAIN.finditer(text):
        at = start = m.start()
        while start > bound and (text[start - 1] in "._+-" or _word_char(text[start - 1])):
            start -= 1
        if start < at:
            found.append((start, m.end(), "email"))
            bound = m.end()
    return found


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
    if "@" in text and _has_email_hint(text):
        spans.extend(_emails(text))
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
    for m in _ACCOUNT.finditer(text) if _ACCOUNT_HINT(text) else ():
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


def _word_char(c: str) -> bool:
    """What the regex \\b treats as part of a word."""
    return c.isalnum() or c == "_"
