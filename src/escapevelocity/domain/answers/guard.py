"""The one rule for automated replies: may this case get an answer no person sent?

Every path that could send a reply without a person (ingest, the worker, `ev answers auto`,
the web's and the API's "send the suggested answer automatically") builds an `AutoReplyAsk`
and calls `verdict`; nothing else decides. It is pure, so a property test can throw every
combination at it and check that the exclusions always win.

Allowed only when all hold: the playbook's rule said `auto_reply: true`; the question is
FAQ-like (situation "question"); the best match is an approved answer with a score at or above
the threshold. Never, whatever the playbook says: while any crisis level is active (watch
included: only "normal" is calm); when the author is angry or negative; when the author is
influential (an influencer, a journalist, a VIP, or reach at or above INFLUENTIAL_REACH); when
the case is not a customer's; or when the author already got AUTHOR_LIMIT automated replies
within AUTHOR_WINDOW (the rate limit).

The text sent always begins with empathy and offers a human (`compose`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec

MIN_SCORE = 0.80  # a fused match score (0-1); below it a person chooses
INFLUENTIAL_REACH = 10_000  # followers
AUTHOR_LIMIT = 1  # automated replies per author per window
AUTHOR_WINDOW = timedelta(hours=24)
FAQ_SITUATIONS = frozenset({"question"})
# Classes never answered by automation: influence (influencer, journalist), and anyone who is
# not plainly a customer asking (employees, partners, competitors, trolls, bots).
AUTOMATABLE_CLASSES = frozenset({"customer", "prospect"})
NEGATIVE = frozenset({"negative"})
CALM_LEVELS = frozenset({"", "normal", "none"})


class AutoReplyAsk(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the rule reads about one case at one moment."""

    playbook_allows: bool
    situation: str | None
    sentiment: str | None  # negative / neutral / positive
    author_class: str | None
    reach: int = 0
    vip: bool = False
    crisis_level: str = "normal"
    match_score: float = 0.0
    answer_approved: bool = False
    recent_auto_replies: Sequence[datetime] = ()  # to this author, any case
    now: datetime
    already_replied: bool = False  # a person or the automation already answered this case


class Verdict(msgspec.Struct, frozen=True):
    allowed: bool
    reasons: tuple[str, ...]  # why not (every reason that holds), or why yes


def verdict(ask: AutoReplyAsk) -> Verdict:
    """Whether an automated reply may go out, and every reason it may not."""
    no: list[str] = []
    if (ask.crisis_level or "normal").lower() not in CALM_LEVELS:
        no.append(f"crisis level {ask.crisis_level} is active: automation is held")
    if (ask.sentiment or "").lower() in NEGATIVE:
        no.append("the author is negative or angry: a person answers")
    cls = (ask.author_class or "").lower()
    if cls == "journalist":
        no.append("the author is a journalist")
    elif cls == "influencer" or ask.vip or ask.reach >= INFLUENTIAL_REACH:
        no.append("the author is influential")
    elif cls not in AUTOMATABLE_CLASSES:
        no.append(f"the author is a {cls or 'unknown'}, not a customer asking")
    if not ask.playbook_allows:
        no.append("the playbook rule does not allow auto-replies")
    if (ask.situation or "") not in FAQ_SITUATIONS:
        no.append(f"not an FAQ-type question (situation {ask.situation or 'unknown'})")
    if not ask.answer_approved:
        no.append("no approved answer matched")
    elif not ask.match_score >= MIN_SCORE:  # NaN fails too
        no.append(f"match score {ask.match_score:.2f} is below {MIN_SCORE:.2f}")
    recent = [t for t in ask.recent_auto_replies if ask.now - t < AUTHOR_WINDOW]
    if len(recent) >= AUTHOR_LIMIT:
        no.append(f"the author already had {len(recent)} automated repl"
                  f"{'y' if len(recent) == 1 else 'ies'} in the last "
                  f"{int(AUTHOR_WINDOW.total_seconds() // 3600)} h")
    if ask.already_replied:
        no.append("the case already has a reply")
    if no:
        return Verdict(False, tuple(no))
    return Verdict(True, (f"playbook allows; approved answer matched at {ask.match_score:.2f}",))


def compose(author_name: str, answer: str) -> str:
    """Empathy first, then the approved answer, then a person on offer."""
    name = f" {author_name}" if author_name else ""
    return (f"Hi{name}, thanks for asking, and sorry for any trouble. {answer.strip()} "
            "If this doesn't solve it, reply here and a person from our team will help.")
