"""The lexicons enrichment reads, and how a post is cut into the words looked up in them: VADER's
lexicon (MIT licence, shipped inside vaderSentiment) and our own customer-service additions
(lexicon.yaml beside this module), each loaded once."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

import yaml

# Words, hashtags, emoticons (":(", ";)"), runs of !/?, and emoji (one token each).
# (The lookahead lets the regex engine skip spaces and punctuation without trying each branch.)
WORD = re.compile(r"(?=[#a-z:;=8<!?\U0001F300-\U0001FAFF\u2600-\u27BF])"
                  r"(?:#?[a-z][a-z'0-9]*|(?<![\w:;=])[:;=8][-o^']?[()\[\]dpo/\\|*$@3](?!\w)|<3|[!?]+|"
                  r"[\U0001F300-\U0001FAFF\u2600-\u27BF])")
# The same tokens for text with no character past ASCII (most posts): no emoji ranges for the
# regex engine to test at every position.
WORD_ASCII = re.compile(r"(?=[#a-z:;=8<!?])"
                        r"(?:#?[a-z][a-z'0-9]*|(?<![\w:;=])[:;=8][-o^']?[()\[\]dpo/\\|*$@3](?!\w)|<3|"
                        r"[!?]+)")
URL = re.compile(r"https?://\S+|www\.\S+")


@cache
def vader() -> dict[str, float]:
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
def shipped() -> dict:
    return yaml.safe_load(files("escapevelocity.domain").joinpath("lexicon.yaml").read_text(
        encoding="utf-8"))
