"""Engagement rules as data, and the pure decisions made from them.

The policy (who approves, how fast, what text is risky, which teams let only the assignee
reply, when to follow up per track) is one YAML document in the workspace; the functions here
decide from it without I/O: whether a reply needs approval and why, who is on call to approve
and who comes next, which colleagues a note mentions, what a customer's satisfaction answer
means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

import msgspec

from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions, yamlsafe
from escapevelocity.domain.cases import Case
from escapevelocity.domain.events import Event
from escapevelocity.domain.org import Member, Organisation

POLICY_DOCUMENT = "engagement_policy"
ASKS = ("csat", "thumbs")
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_:-]{0,39}$")
MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})")
MAX_TAGS = 30


class FollowupRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    after_minutes: int = 1440
    ask: str = "csat"  # csat (1-5) or thumbs (up/down)


class Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    approval_sla_minutes: int = 15
    # approval group (a team or role named by the playbook, or default_group) -> member ids in
    # on-call order; a group not listed here gets default_rotation()
    rotations: dict[str, list[str]] = {}
    default_group: str = "approvers"
    # Approval routed by the reason it is needed: a text on the risk list goes to this group
    # (legal review); a reply held for its author's role or training goes to the case team's
    # hub (its lead and approvers: an agency's routine reply is the hub's to check).
    risk_group: str = "legal"
    roles_needing_approval: list[str] = msgspec.field(default_factory=lambda: ["agency"])
    in_training: list[str] = []  # member ids whose replies need approval while they learn
    risk_terms: list[str] = msgspec.field(default_factory=lambda: [
        "legal action", "lawsuit", "liable", "liability", "our fault", "we admit",
        "compensation", "settlement", "guarantee", "guaranteed", "off the record"])
    assignee_only_teams: list[str] = []  # teams where only the assignee may reply
    followups: dict[str, FollowupRule] = msgspec.field(default_factory=lambda: {
        "support": FollowupRule(1440, "csat"), "sales_lead": FollowupRule(1440, "thumbs")})
    happy_csat: int = 4  # a CSAT at or above this invites the customer to update the post
    ask_csat: str = ("Hi {author_name}, we hope everything is sorted now. How did we do, "
                     "from 1 (poor) to 5 (great)?")
    ask_thumbs: str = ("Hi {author_name}, we hope everything is sorted now. Did we help? "
                       "A thumbs up or down is all we need.")
    invite: str = ("Thank you {author_name}, glad we could help! If you have a moment, would "
                   "you update your original post so others know it's fixed?")


def load_policy(text: str | None) -> Policy:
    """The policy from its YAML document; an empty or missing document is the default."""
    data = yamlsafe.load(text) if text else None
    try:
        policy = msgspec.convert(data or {}, Policy)
    except msgspec.ValidationError as exc:
        raise ValueError(f"engagement policy: {exc}") from None
    problems = [f"follow-up for track {t!r}: ask must be one of {ASKS}"
                for t, r in policy.followups.items() if r.ask not in ASKS]
    if policy.approval_sla_minutes < 1:
        problems.append("approval_sla_minutes must be at least 1")
    if problems:
        raise ValueError("engagement policy: " + "; ".join(problems))
    return policy


def check_policy(policy: Policy, org: Organisation) -> list[str]:
    """Problems with a policy against the organisation, in words."""
    out = []
    for group, ids in policy.rotations.items():
        if not ids:
            out.append(f"rotation {group!r} is empty")
        for i in ids:
            m = org.member(i)
            if m is None:
                out.append(f"rotation {group!r}: unknown member {i!r}")
            elif not permissions.allowed((m.role,), permissions.APPROVE):
                out.append(f"rotation {group!r}: {i} ({m.role}) may not approve")
    return out


# --- approval --------------------------------------------------------------------------------

class ApprovalNeed(msgspec.Struct, frozen=True):
    group: str
    reasons: tuple[str, ...]


def risk_matches(text: str, terms: Iterable[str]) -> list[str]:
    low = text.lower()
    return [t for t in terms if re.search(r"(?<!\w)" + re.escape(t.lower()) + r"(?!\w)", low)]


def approval_need(case: Case, member: Member, text: str, policy: Policy,
                  untrained: Sequence[str] = (), org: Organisation | None = None
                  ) -> ApprovalNeed | None:
    """Why a reply needs approval (playbook, the member's role or training, risky words), or
    None when it can be sent as is. `untrained`: what the member's training still lacks
    (domain/governance.training_gaps); a public reply by someone untrained waits for approval.
    The group follows the weightiest reason: the playbook's group, else legal risk to
    `risk_group`, else the role or training to the case team's hub (when `org` says which),
    else `default_group`."""
    reasons: list[str] = []
    if untrained and case.visibility == "public":
        reasons.append(f"{member.id} has not completed training: " + "; ".join(untrained))
    group = ""
    if case.approval:
        group = case.approval
        reasons.append(f"the playbook requires approval by {group} on this case")
    held_for_author = False
    if member.role in policy.roles_needing_approval:
        reasons.append(f"replies by the {member.role.replace('_', ' ')} role need approval")
        held_for_author = True
    if member.id in policy.in_training:
        reasons.append(f"{member.id} is in training")
        held_for_author = True
    risky = risk_matches(text, policy.risk_terms)
    if risky:
        reasons.append("the text matches the risk list: " + ", ".join(risky))
        group = group or policy.risk_group
    if not reasons:
        return None
    if not group and held_for_author and org is not None:
        team = org.team(case.team or "")
        group = (team.hub or (team.id if team.kind == "hub" else "")) if team else ""
    return ApprovalNeed(group or policy.default_group, tuple(reasons))


def default_rotation(group: str, org: Organisation) -> list[str]:
    """Who approves for `group` when the policy names nobody: members of that team (or with
    that role) who may approve, then the approver role, then strategists, then admins."""
    def can(m: Member) -> bool:
        return permissions.allowed((m.role,), permissions.APPROVE)
    tiers = (
        [m for m in org.members if (group in m.teams or m.role == group) and can(m)],
        [m for m in org.members if m.role == "approver"],
        [m for m in org.members if m.role == "strategist"],
        [m for m in org.members if m.role == "admin"],
    )
    out: list[str] = []
    team = org.team(group)
    lead = org.member(team.lead) if team and team.lead else None
    if lead is not None and can(lead):  # a team's draft goes to its lead first
        out.append(lead.id)
    for tier in tiers:
        out += [m.id for m in tier if m.id not in out]
    return out


def rotation(group: str, org: Organisation, policy: Policy) -> list[str]:
    return list(policy.rotations.get(group) or default_rotation(group, org))


def on_call(order: Sequence[str], org: Organisation, at: datetime,
            exclude: Iterable[str] = ()) -> str | None:
    """The first member of the rotation on shift at `at`; if nobody is, the first of it.
    Members in `exclude` (the submitter: nobody approves their own reply) are skipped."""
    skip = set(exclude)
    candidates = [i for i in order if i not in skip]
    for i in candidates:
        m = org.member(i)
        if m is not None and m.shift.covers(at):
            return i
    return candidates[0] if candidates else None


def next_approver(order: Sequence[str], current: str | None,
                  exclude: Iterable[str] = ()) -> str | None:
    """The next member after `current` in the rotation, wrapping round; the same member when
    they are the only one."""
    skip = set(exclude)
    candidates = [i for i in order if i not in skip]
    if not candidates:
        return None
    if current not in candidates:
        return candidates[0]
    return candidates[(candidates.index(current) + 1) % len(candidates)]


def may_approve(member: Member, group: str, order: Sequence[str]) -> bool:
    """Members of the group's rotation may approve; strategists and admins always may."""
    if not permissions.allowed((member.role,), permissions.APPROVE):
        return False
    return member.id in order or member.role in ("strategist", "admin")


# --- notes, tags, follow-up ------------------------------------------------------------------

def mentions(text: str, known: Iterable[str]) -> list[str]:
    """Colleagues @mentioned in a note, in order, each once; unknown handles are ignored."""
    ids = {k.lower(): k for k in known}
    out: list[str] = []
    for handle in MENTION_RE.findall(text):
        member = ids.get(handle.lower().rstrip(".-"))
        if member and member not in out:
            out.append(member)
    return out


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Lower-case tags, each checked; raises ValueError naming the bad one."""
    out = []
    for raw in tags:
        tag = raw.strip().lower().replace(" ", "-")
        if not tag:
            continue
        if not TAG_RE.match(tag):
            raise ValueError(f"tag {raw!r}: use up to 40 letters, digits, '-', '_' or ':'")
        if tag not in out:
            out.append(tag)
    return out


_THUMBS_UP = ("👍", "yes", "thumbs up", "up", "great", "good", "thanks", "thank you")
_THUMBS_DOWN = ("👎", "no", "thumbs down", "down", "bad", "poor")


def parse_answer(text: str) -> tuple[int | None, str | None]:
    """A customer's answer to the satisfaction question: (csat 1-5, None), (None, 'up'/'down'),
    or (None, None) when it is neither."""
    t = text.strip().lower()
    m = re.search(r"(?<!\d)([1-5])(?:\s*(?:/|out of)\s*5)?(?!\d)", t)
    if m and len(t) <= 40:
        return int(m.group(1)), None
    if any(w in t for w in ("👍",)) or t in _THUMBS_UP:
        return None, "up"
    if any(w in t for w in ("👎",)) or t in _THUMBS_DOWN:
        return None, "down"
    return None, None


def happy(csat: int | None, thumbs: str | None, policy: Policy) -> bool:
    return (csat is not None and csat >= policy.happy_csat) or thumbs == "up"


def fill(template: str, case: Case) -> str:
    """A follow-up text with the case's facts; unknown placeholders are left as written."""
    facts = {"author_name": case.author_handle or "there",
             "title": case.title or "", "case_id": case.id or ""}
    return re.sub(r"\{(\w+)\}", lambda m: str(facts.get(m.group(1), m.group(0))), template)


def answer_events(case: Case, csat: int | None, thumbs: str | None, text: str,
                  actor: str, now: datetime, rules: Policy,
                  mention: str | None = None) -> list[Event]:
    """The answer and, when the customer is happy, the invitation to update the public post
    (pure; shared by `answer` and by ingest, where answers arrive as mentions: `mention`)."""
    is_happy = happy(csat, thumbs, rules)
    events: list[Event] = [ev.FollowupAnswered(
        stream=case.id, at=now, actor=actor, csat=csat, thumbs=thumbs, happy=is_happy,
        text=text[:500], mention=mention)]
    if is_happy:
        events.append(ev.FollowupInvited(
            stream=case.id, at=now, actor=ev.SYSTEM, text=fill(rules.invite, case),
            visibility=case.visibility, dry_run=True))
    return events
