"""How hard a complaint is: the four levels of complaint severity annotated on customer
complaints (Trosborg's scale, as in X-CI, Singh et al. 2023), each with its reason.

- no explicit reproach: a problem reported, nobody judged ("my order hasn't arrived");
- disapproval: the state of affairs judged bad ("this is so frustrating");
- accusation: the company named as the one that failed ("you still haven't replied");
- blame: the company held responsible and judged ("your incompetence ruined my trip",
  "never flying with you again").

Evidence is cheap and explainable: cue phrases found by enrichment's one scan (lexicon.yaml,
`severity`), whether the post speaks to the company (second person), and the sentiment and
problem words enrichment already has (the word cut answers for the word sets below, in its
pass: kernels.Words). Pure; called only for posts that are complaints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escapevelocity.domain.kernels import Words

LEVELS = ("no_explicit_reproach", "disapproval", "accusation", "blame")

SECOND_PERSON = frozenset(["you", "your", "you're", "youre", "you've", "youve", "you'll",
                           "yours", "yourself", "y'all", "yall", "u", "ur"])
# Judgements of the company itself: blame when said to it, disapproval otherwise.
JUDGEMENTS = frozenset(["incompetent", "incompetence", "useless", "pathetic", "disgrace",
                        "disgraceful", "joke", "scam", "scammers", "scammed", "liars", "lied",
                        "lying", "thieves", "ripoff", "subpar", "shameful", "shame",
                        "unprofessional", "clowns", "idiots", "rude", "worst", "terrible",
                        "awful", "horrible", "unacceptable", "ridiculous", "appalling",
                        "disgusting", "fraud", "crooks", "greedy"])
# What a failure looks like when it is the company's: its negation or problem words next to
# "you"/"your" make an accusation.
FAILURE_WORDS = frozenset(["not", "no", "never", "still", "can't", "cant", "won't", "wont",
                           "didn't", "didnt", "haven't", "havent", "hasn't", "hasnt", "isn't",
                           "isnt", "doesn't", "doesnt", "don't", "dont", "wasn't", "wasnt",
                           "couldn't", "couldnt", "nothing", "nobody", "without", "ignoring",
                           "ignored", "ignore", "promised", "failed", "fail", "lost", "charged",
                           "cancelled", "canceled", "delayed", "broke", "broken", "again"])


def severity(words: Words, marks: dict[str, str]) -> tuple[str, str]:
    """(level, because) of a complaint, from what its words say (kernels.Words: a word to the
    company, its first judgement, its first failure or problem word, its first evaluative
    negative word, "frustrated", "awful": a judgement, where "delayed" or "broken" only report
    a problem) and the severity cues the scan found (`marks`: level -> first cue)."""
    if "blame" in marks:
        return "blame", f"blame: '{marks['blame']}'"
    judged = words.judgement
    if judged and words.to_company:
        return "blame", f"blame: '{judged}' said to the company"
    if "accusation" in marks:
        return "accusation", f"accusation: '{marks['accusation']}'"
    if words.to_company and words.failure:
        return "accusation", f"accusation: the company's '{words.failure}'"
    if judged or words.evaluative:
        return "disapproval", f"disapproval: '{judged or words.evaluative}'"
    return "no_explicit_reproach", "no explicit reproach: a problem reported, nobody judged"
