"""The PII patterns were rewritten for speed (each starts with a character class the regex engine
can jump to). These properties hold them to the plain forms they replaced, span for span, on
text built from the characters that matter to them."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from escapevelocity.domain import pii

# The plain forms, as they were before the rewrite: the oracle.
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
PHONE = re.compile(r"(?<![\w])(?:\+\d{1,3}[\s-]?)?(?:\(\d{2,5}\)[\s-]?|\d{2,5}[\s-])"
                   r"\d{3,4}[\s-]?\d{3,4}(?!\d)")
ADDRESS = re.compile(r"\b\d{1,4}\s+[A-Z][a-z]+\s+"
                     r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Close|Drive|Way)\b")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")

# Digits (ASCII and not), the separators and brackets the patterns read, letters, word
# characters that are not letters, and the start of an address.
PIECES = st.sampled_from(["1", "2", "7", "0", "٣", " ", "  ", "-", "+", "(", ")", "@", ".", "_",
                          "a", "acc", "Acc", "account no ", "#", ":", "is ", "x", "é", "\n",
                          " Main ", "Street", "St", "Rd", "12 High Road", "+44 ", "(020) ",
                          "4111 1111 1111 1111", "me@orbit.com", "jo.b+x@mail.co.uk"])
TEXT = st.lists(PIECES, max_size=40).map("".join)


def spans(pattern: re.Pattern, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


@settings(max_examples=600, deadline=None)
@given(TEXT)
def test_number_patterns_match_their_plain_forms(text):
    assert spans(pii._CARD, text) == spans(CARD, text)
    assert spans(pii._PHONE, text) == spans(PHONE, text)
    assert spans(pii._ADDRESS, text) == spans(ADDRESS, text)


@settings(max_examples=600, deadline=None)
@given(TEXT)
def test_emails_read_from_the_at_sign_match_the_plain_pattern(text):
    assert [(s, e) for s, e, _ in pii._emails(text)] == spans(EMAIL, text)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_the_account_hint_never_hides_an_account(text):
    if pii._ACCOUNT.search(text):
        assert pii._ACCOUNT_HINT(text)


def test_examples_still_found():
    assert pii.find_pii("card 4111 1111 1111 1111, call +44 (020) 7946 0018, "
                        "write to jo.b+x@mail.co.uk, account no 12345678, 12 High Road") == (
        "card_number", "phone", "email", "account_number", "address")
