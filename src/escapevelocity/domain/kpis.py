"""KPIs: what one case adds to the report rollups, and the report maths over them. Pure.

Each case contributes to counters keyed by the UTC day it opened and its dimensions (channel,
situation, sentiment, author class, team, track). A contribution is a function of the case's
projected state alone (itself a fold of its events), so the store keeps the rollups in the
same transaction as the events by adding `contribution(new) - contribution(old)` whenever a
case row is written, and `ev workspace rebuild` recomputes them from the rebuilt projection.
A report over a period sums a few thousand rows instead of rescanning the log.

Times (to first response, to resolution) are business minutes on the calendar of the case's
track (the SLA's calendar, domain/calendar.py; around the clock when the track has none): the
store fixes them in the case row when it writes the answer or the resolution
(`business_times`), so a later change of calendar never recounts a case differently, and the
SLA outcome compares the same business minutes with the decision's budget, as the SLA clocks
do. They go into a mergeable histogram: log-spaced buckets
(each 20 % wider than the last, from one minute to past 80 days), so the histograms of many
days and teams add up by summing counts, and a percentile is read from the summed counts with
at most 20 % relative error (the bucket's upper edge is reported, and the bucket itself).

What is *not* a function of a case's state is computed live, by index, when a page asks: the
open cases whose SLA is near or past now ("SLA at risk now": a finished-outcome ratio read
100 % while eight P1 crisis cases counted down to breach), queue depth and oldest waiting case.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from escapevelocity.domain.calendar import BusinessCalendar
    from escapevelocity.domain.cases import Case

DIMS = ("channel", "situation", "sentiment", "author_class", "team", "track")
# Per-case 0/1 (or sums) kept in the cell of (day, *DIMS).
MEASURES = ("cases", "needs_reply", "no_reply", "responded", "missed", "private", "leads",
            "resolved", "open", "sla_met", "sla_late", "approvals", "approvals_pending",
            "csat_n", "csat_sum", "crisis")
OPEN_STATES = ("queued", "assigned", "claimed", "replied")
KEY_CHARS = 64  # every dimension value is bounded (a hostile label cannot grow the keys)

# Families of the long counters (day, family, key).
TTFR, TTR, SLA, NO_REPLY, HOUR = "ttfr", "ttr", "sla", "no_reply", "hour"
BACKLOG = "backlog"  # key: team; open cases that need an answer, by the day they opened
DUE = "due"  # key: hour "HH"; cases waiting for a first answer, by the day and hour it is due
TOPIC = "topic"  # key: team|topic|sentiment; a case counts once under each of its topics
CALENDAR = "calendar"  # key: team|calendar|track; cases with a business time, by its calendar
NO_TOPIC = ""
WAITING_STATES = ("queued", "assigned", "claimed")  # a replied case has its first answer
RATIO = 1.2  # histogram buckets: [0, 1) minute, then [1.2^(k-1), 1.2^k)
MAX_BUCKET = 64


def bucket(minutes: float) -> int:
    """The histogram bucket of a duration in minutes."""
    if minutes < 1:
        return 0
    return min(MAX_BUCKET, math.floor(math.log(minutes) / math.log(RATIO) + 1e-9) + 1)


def bucket_edges(k: int) -> tuple[float, float]:
    """(lower, upper) minutes of bucket `k`."""
    if k <= 0:
        return 0.0, 1.0
    return RATIO ** (k - 1), (RATIO ** k if k < MAX_BUCKET else math.inf)


def percentile(hist: Mapping[int, int], q: float) -> tuple[float, float] | None:
    """(lower, upper) minutes of the bucket that holds the q-quantile (nearest rank), or None
    with no values."""
    n = sum(hist.values())
    if n <= 0:
        return None
    rank = max(1, math.ceil(q * n))
    seen = 0
    for k in sorted(hist):
        seen += hist[k]
        if seen >= rank:
            return bucket_edges(k)
    return bucket_edges(max(hist))


def _dim(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is str and len(value) <= KEY_CHARS and "|" not in value:
        return value  # the common case, without a copy
    return str(value)[:KEY_CHARS].replace("|", "/")


def day_of(at: datetime | None) -> str | None:
    return at.date().isoformat() if at is not None else None


def is_lead(case: Case) -> bool:
    return case.track == "sales_lead" or case.situation == "lead"


def sla_outcome(case: Case) -> str | None:
    """First-response outcome of a case that needed an answer: met, late, missed (resolved
    without an answer) or None (still open: live, see `at_risk`). The business minutes to the
    first answer (elapsed minutes for a row written before they were kept) against the
    decision's budget, which the SLA clocks also count in business minutes."""
    if not case.respond or case.sla_minutes is None or case.opened_at is None:
        return None
    first = case.first_response_at
    if first is not None:
        used = first_response_minutes(case)
        return "met" if used is not None and used <= case.sla_minutes else "late"
    return "missed" if case.state == "resolved" else None


def first_response_minutes(case: Case) -> float | None:
    """Business minutes from opening to the first answer (see `business_times`)."""
    kept = case.first_response_minutes
    if kept is not None:
        return kept
    first, opened = case.first_response_at, case.opened_at
    return None if first is None or opened is None else (first - opened).total_seconds() / 60


def resolution_minutes(case: Case) -> float | None:
    """Business minutes from opening to resolution, for a resolved case."""
    if case.state != "resolved":
        return None
    kept = case.resolution_minutes
    if kept is not None:
        return kept
    done, opened = case.resolved_at, case.opened_at
    return None if done is None or opened is None else (done - opened).total_seconds() / 60


def business_times(case: Case,
                   calendar_of: Callable[[str | None], tuple[str, BusinessCalendar]]
                   ) -> dict[str, Any]:
    """The fields to write with a case so that its business times are fixed once: the
    business minutes to its first answer and to its resolution on its track's calendar
    (`calendar_of(track)` gives the name, "" around the clock, and the calendar), computed
    when the instant appears and kept after; cleared when the instant goes (a reopened case).
    Rounded to a hundredth of a minute, so both databases store the same float."""
    out: dict[str, Any] = {}
    opened = case.opened_at
    first = case.first_response_at
    resolved = case.resolved_at if case.state == "resolved" else None
    need_first = first is not None and case.first_response_minutes is None
    need_done = resolved is not None and case.resolution_minutes is None
    if first is None and case.first_response_minutes is not None:
        out["first_response_minutes"] = None
    if resolved is None and case.resolution_minutes is not None:
        out["resolution_minutes"] = None
    if opened is None or not (need_first or need_done):
        return out
    name, cal = calendar_of(case.track)
    out["sla_calendar"] = name[:KEY_CHARS]
    if need_first:
        out["first_response_minutes"] = round(cal.minutes(opened, first), 2)
    if need_done:
        out["resolution_minutes"] = round(cal.minutes(opened, resolved), 2)
    return out


Cell = tuple[str, ...]  # (day, *DIMS)
# The fields a contribution reads: a write that changes none of them moves no counter.
FIELDS = ("opened_at", "channel", "situation", "sentiment", "author_class", "team", "track",
          "respond", "first_response_at", "state", "resolved_at", "visibility",
          "approval_state", "csat", "sla_minutes", "assignee", "rule_id", "sla_due", "topics",
          "sla_calendar", "first_response_minutes", "resolution_minutes")


_fields_of = operator.attrgetter(*FIELDS)


def _same(old: Case, new: Case) -> bool:
    return old is new or _fields_of(old) == _fields_of(new)


def contribution(case: Case) -> tuple[dict[tuple[Cell, str], int],
                                                  dict[tuple[str, str, str], int]]:
    """What one case adds: (cell, measure) counts and (day, family, key) counts. On every
    write of a case (twice: old and new), so kept lean."""
    opened = case.opened_at
    if opened is None:
        return {}, {}
    if opened.tzinfo is not None:  # days and hours are UTC's, whatever the session's zone
        opened = opened.astimezone(UTC)
    day = opened.date().isoformat()
    team = _dim(case.team)
    cell = (day, _dim(case.channel), _dim(case.situation), _dim(case.sentiment),
            _dim(case.author_class), team, _dim(case.track))
    outcome = sla_outcome(case)
    cells = {(cell, m): 1 for m in _measures(case, outcome)}
    csat = case.csat
    if csat is not None:
        cells[(cell, "csat_sum")] = int(csat)
    counts = {(day, HOUR, f"{opened.hour:02d}|{cell[3]}"): 1}
    for topic in (case.topics or NO_TOPIC).split(","):
        counts[(day, TOPIC, f"{team}|{_dim(topic)}|{cell[3]}")] = 1
    first = case.first_response_at
    state = case.state
    used = first_response_minutes(case) if first is not None else None
    if used is not None:
        counts[(day, TTFR, f"{team}|{bucket(used)}")] = 1
    done = resolution_minutes(case)
    if done is not None:
        counts[(day, TTR, f"{team}|{bucket(done)}")] = 1
    if used is not None or done is not None:  # is_timed
        counts[(day, CALENDAR, f"{team}|{_dim(case.sla_calendar)}|{cell[6]}")] = 1
    if outcome is not None:
        counts[(day, SLA, f"{cell[6]}|{team}|{_dim(case.assignee)}|{outcome}")] = 1
    if not case.respond:
        counts[(day, NO_REPLY, _dim(case.rule_id))] = 1
    elif state in OPEN_STATES:
        counts[(day, BACKLOG, team)] = 1
        due = case.sla_due
        if state in WAITING_STATES and first is None and due is not None:
            due = due.astimezone(UTC) if due.tzinfo is not None else due
            counts[(due.date().isoformat(), DUE, f"{due.hour:02d}")] = 1
    return cells, counts


# Measures the drill-down knows beyond the cells' (counted by a counter family instead):
# "timed", the cases with a business time, behind the CALENDAR counter.
DRILL_MEASURES = ("timed",)


def is_timed(case: Case) -> bool:
    """Whether a case has a business time (an answer, or a resolution): what the CALENDAR
    counter counts."""
    return ((case.first_response_at is not None and case.opened_at is not None)
            or resolution_minutes(case) is not None)


def measures(case: Case) -> list[str]:
    """The 0/1 measures a case counts in (the drill-down filters cases by the same list)."""
    return _measures(case, sla_outcome(case))


def _measures(case: Case, outcome: str | None) -> list[str]:
    out = ["cases"]
    respond = bool(case.respond)
    answered = case.first_response_at is not None
    state = case.state
    out.append("needs_reply" if respond else "no_reply")
    if respond and answered:
        out.append("responded")
    if outcome == "missed":
        out.append("missed")
    elif outcome is not None:
        out.append(f"sla_{outcome}")
    if case.visibility == "private":
        out.append("private")
    if is_lead(case):
        out.append("leads")
    out.append("resolved" if state == "resolved" else "open")
    if case.approval_state:
        out.append("approvals")
        if case.approval_state == "pending":
            out.append("approvals_pending")
    if case.csat is not None:
        out.append("csat_n")
    if case.situation == "crisis" or case.track == "crisis":
        out.append("crisis")
    return out


def delta(old: Case | None, new: Case | None
          ) -> tuple[dict[tuple[Cell, str], int], dict[tuple[str, str, str], int]]:
    """contribution(new) - contribution(old), without the zeros (negative counts kept)."""
    if old is not None and new is not None and _same(old, new):
        return {}, {}  # a claim, a note, a clock's next look: no counter moves
    cells, counts = contribution(new) if new is not None else ({}, {})
    if old is not None:
        old_cells, old_counts = contribution(old)
        for mine, theirs in ((cells, old_cells), (counts, old_counts)):
            for k, v in theirs.items():
                n = mine.get(k, 0) - v
                if n:
                    mine[k] = n
                else:
                    del mine[k]
    return cells, counts


# --- the report maths ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """Days [start, end) in UTC."""
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def instants(self) -> tuple[datetime, datetime]:
        """The period as UTC instants [start, end), for reads by time."""
        return (datetime.combine(self.start, datetime.min.time(), UTC),
                datetime.combine(self.end, datetime.min.time(), UTC))

    def previous(self) -> Period:
        return Period(self.start - timedelta(days=self.days), self.start)

    def day_list(self) -> list[str]:
        return [(self.start + timedelta(days=i)).isoformat() for i in range(self.days)]

    @classmethod
    def last(cls, days: int, now: datetime) -> Period:
        end = now.date() + timedelta(days=1)
        return cls(end - timedelta(days=days), end)


def parse_period(text: str, now: datetime) -> Period:
    """"7d", "30d", "2026-11-01..2026-11-30" (both days included)."""
    text = (text or "").strip()
    if ".." in text:
        a, b = text.split("..", 1)
        start, end = date.fromisoformat(a), date.fromisoformat(b) + timedelta(days=1)
        if end <= start or (end - start).days > 400:
            raise ValueError("a period is 1 to 400 days, start before end")
        return Period(start, end)
    if text.endswith("d") and text[:-1].isdigit() and 1 <= int(text[:-1]) <= 400:
        return Period.last(int(text[:-1]), now)
    raise ValueError(f"period {text[:40]!r}: write 7d, 30d or YYYY-MM-DD..YYYY-MM-DD")


@dataclass
class Figures:
    """A period's KPIs, from its cells and counters."""
    period: Period
    totals: dict[str, int] = field(default_factory=dict)
    by: dict[str, dict[str, int]] = field(default_factory=dict)  # dim -> value -> cases
    daily: dict[str, dict[str, int]] = field(default_factory=dict)  # day -> sentiment -> cases
    ttfr: dict[int, int] = field(default_factory=dict)
    ttr: dict[int, int] = field(default_factory=dict)
    sla: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # by -> who -> out
    no_reply: dict[str, int] = field(default_factory=dict)
    backlog_by_day: dict[str, int] = field(default_factory=dict)  # opened day -> open cases
    channel_daily: dict[str, dict[str, int]] = field(default_factory=dict)
    approval_wait: dict[int, int] = field(default_factory=dict)  # bucket -> decisions
    # what waited for approval -> bucket -> decisions (reply drafts by reason, playbook
    # versions, spokes); `approval_wait` is their sum
    approval_kinds: dict[str, dict[int, int]] = field(default_factory=dict)
    topics: dict[str, dict[str, int]] = field(default_factory=dict)  # topic -> sentiment -> n
    calendars: dict[str, dict[str, int]] = field(default_factory=dict)  # calendar -> track -> n

    # derived --------------------------------------------------------------------------------
    def share(self, a: str, b: str) -> float | None:
        d = self.totals.get(b, 0)
        return self.totals.get(a, 0) / d if d else None

    @property
    def response_rate(self) -> float | None:
        return self.share("responded", "needs_reply")

    @property
    def no_reply_share(self) -> float | None:
        return self.share("no_reply", "cases")

    @property
    def missed_share(self) -> float | None:
        return self.share("missed", "needs_reply")

    @property
    def csat(self) -> float | None:
        n = self.totals.get("csat_n", 0)
        return self.totals.get("csat_sum", 0) / n if n else None

    def attainment(self, by: str = "all") -> dict[str, float | None]:
        out = {}
        for who, o in self.sla.get(by, {}).items():
            done = o.get("met", 0) + o.get("late", 0) + o.get("missed", 0)
            out[who] = o.get("met", 0) / done if done else None
        return out

    def percentiles(self, which: str) -> dict[str, tuple[float, float] | None]:
        hist = {TTFR: self.ttfr, TTR: self.ttr}.get(which, self.approval_wait)
        return {"p50": percentile(hist, 0.5), "p90": percentile(hist, 0.9)}

    def topic_volume(self) -> list[tuple[str, int, dict[str, int]]]:
        """(topic, cases, cases by sentiment), most cases first; "" is the cases without a
        topic. A case with two topics counts under both, so these add up to more than
        the period's cases."""
        rows = [(t, sum(s.values()), dict(sorted(s.items()))) for t, s in self.topics.items()]
        return sorted(rows, key=lambda r: (-r[1], r[0]))

    def approval_percentiles(self) -> dict[str, dict[str, tuple[float, float] | None]]:
        """Per kind of approval: the median and p90 of the minutes it waited."""
        return {k: {"p50": percentile(h, 0.5), "p90": percentile(h, 0.9), "n": sum(h.values())}
                for k, h in sorted(self.approval_kinds.items())}

    def channel_share(self) -> dict[str, float]:
        n = self.totals.get("cases", 0)
        return {c: v / n for c, v in sorted(self.by.get("channel", {}).items())} if n else {}


def figures(period: Period, cells: Iterable[tuple[Cell, Mapping[str, int]]],
            counts: Iterable[tuple[str, str, str, int]]) -> Figures:
    """Sum the rows of a period (rows outside it are ignored) into its Figures."""
    lo, hi = period.start.isoformat(), period.end.isoformat()
    f = Figures(period)
    totals: Counter[str] = Counter()
    for cell, values in cells:
        day = cell[0]
        if not lo <= day < hi:
            continue
        n = values.get("cases", 0)
        for m in MEASURES:
            totals[m] += values.get(m, 0)
        for d, v in zip(DIMS, cell[1:], strict=True):
            f.by.setdefault(d, {})
            f.by[d][v] = f.by[d].get(v, 0) + n
        sent = f.daily.setdefault(day, {})
        sent[cell[3]] = sent.get(cell[3], 0) + n
        ch = f.channel_daily.setdefault(day, {})
        ch[cell[1]] = ch.get(cell[1], 0) + n
        if values.get("open"):
            f.backlog_by_day[day] = f.backlog_by_day.get(day, 0) + values["open"]
    f.totals = dict(totals)
    sla_all: dict[str, dict[str, dict[str, int]]] = {"all": {}, "track": {}, "team": {},
                                                     "member": {}}
    for day, family, key, n in counts:
        if not lo <= day < hi or not n:
            continue
        if family in (TTFR, TTR):
            _, _, k = key.rpartition("|")
            hist = f.ttfr if family == TTFR else f.ttr
            hist[int(k)] = hist.get(int(k), 0) + n
        elif family == SLA:
            track, team, member, outcome = [*key.split("|"), "", "", "", ""][:4]
            for by, who in (("all", "all"), ("track", track), ("team", team),
                            ("member", member)):
                if by == "member" and not member:
                    continue
                o = sla_all[by].setdefault(who, {})
                o[outcome] = o.get(outcome, 0) + n
        elif family == NO_REPLY:
            f.no_reply[key] = f.no_reply.get(key, 0) + n
        elif family == TOPIC:
            _, topic, sentiment = [*key.split("|"), "", ""][:3]
            slot = f.topics.setdefault(topic, {})
            slot[sentiment] = slot.get(sentiment, 0) + n
        elif family == CALENDAR:
            _, cal, track = [*key.split("|"), "", ""][:3]
            slot = f.calendars.setdefault(cal, {})
            slot[track] = slot.get(track, 0) + n
    f.sla = sla_all
    return f


def only_teams(cells: Iterable[tuple[Cell, Mapping[str, int]]],
               counts: Iterable[tuple[str, str, str, int]], teams: frozenset[str]
               ) -> tuple[list, list]:
    """The rows of the teams a member sees (cells by their team; counters whose key starts
    with a team or has it second; counters without a team, such as no-reply rules, left out)."""
    kept_cells = [(c, v) for c, v in cells if c[5] in teams]
    kept = []
    for day, family, key, n in counts:
        parts = key.split("|")
        team = (parts[0] if family in (TTFR, TTR, BACKLOG, TOPIC, CALENDAR)
                else parts[1] if family == SLA and len(parts) > 1 else None)
        if team is not None and team in teams:
            kept.append((day, family, key, n))
    return kept_cells, kept


def by_day_bucket(rows: Mapping[str, int], period: Period) -> dict[int, int]:
    """A histogram from "<day> <bucket>[ <kind>]" keyed counters (an event rollup), for the
    period, every kind together."""
    out: dict[int, int] = {}
    for hist in by_kind_bucket(rows, period).values():
        for k, n in hist.items():
            out[k] = out.get(k, 0) + n
    return out


def by_kind_bucket(rows: Mapping[str, int], period: Period) -> dict[str, dict[int, int]]:
    """kind -> histogram from "<day> <bucket>[ <kind>]" keyed counters, for the period (a key
    without a kind, written before kinds were kept, is a reply draft: REPLY)."""
    lo, hi = period.start.isoformat(), period.end.isoformat()
    out: dict[str, dict[int, int]] = {}
    for key, n in rows.items():
        day, _, rest = key.partition(" ")
        k, _, kind = rest.partition(" ")
        if lo <= day < hi and k.isdigit() and n:
            hist = out.setdefault(kind or REPLY, {})
            hist[int(k)] = hist.get(int(k), 0) + n
    return out


# --- what waits for approval --------------------------------------------------------------------
# A reply draft waits for the weightiest of its reasons (domain/engagement.approval_need says
# them in words); "+edited" when the approver changed the wording before deciding. Playbook
# versions (the automation: rules, routing, auto-replies) wait for their approver, and a spoke
# for its hub: their waits are read from their own streams' request and decision events.
REPLY = "reply"  # a reply draft decided before the kinds were recorded
_REASONS = (("training", ("has not completed training", "is in training")),
            ("role", ("role need approval",)), ("playbook", ("the playbook requires",)),
            ("risk", ("risk list",)))
APPROVAL_KINDS = (REPLY, *(f"reply_{k}{e}" for k, _ in _REASONS for e in ("", "+edited")),
                  f"{REPLY}+edited", "playbook_version", "spoke")
APPROVAL_LABELS = {"reply": "Reply drafts", "reply_training": "Replies by untrained members",
                   "reply_role": "Replies by a role that needs approval",
                   "reply_playbook": "Replies the playbook holds for approval",
                   "reply_risk": "Replies that match the risk list",
                   "playbook_version": "Playbook versions (automation rules)",
                   "spoke": "Spokes waiting for their hub"}


def approval_kind(reasons: Iterable[str], edited: bool) -> str:
    """The kind a reply draft's wait counts under: its first reason in the order of
    _REASONS (training, role, playbook, risk list), "+edited" when the approver changed it."""
    text = " ".join(reasons)
    kind = next((f"reply_{k}" for k, cues in _REASONS if any(c in text for c in cues)), REPLY)
    return kind + ("+edited" if edited else "")


def approval_label(kind: str) -> str:
    base, _, edited = kind.partition("+")
    label = APPROVAL_LABELS.get(base, base)
    return label + (", edited by the approver" if edited else "")


def stream_waits(events: Iterable[Any], period: Period, requested: Mapping[str, str],
                 decided: Mapping[str, str]) -> dict[str, list[tuple[str, float]]]:
    """Approvals kept on streams of their own (playbook versions, spokes): for each request
    (`requested`: event kind -> approval kind) decided in the period by one of `decided`'s
    kinds, (stream, minutes waited), by approval kind. A request waits from its latest
    request to the first decision after it."""
    lo, hi = period.instants()
    asked: dict[str, Any] = {}
    out: dict[str, list[tuple[str, float]]] = {}
    for e in sorted(events, key=lambda x: (x.seq or 0, x.at)):
        if e.kind in requested:
            asked[e.stream] = (e.at, requested[e.kind])
        elif e.kind in decided and e.stream in asked:
            at, kind = asked.pop(e.stream)
            if lo <= e.at < hi:
                out.setdefault(kind, []).append(
                    (e.stream, round(max(0.0, (e.at - at).total_seconds() / 60), 2)))
    return out


def age_buckets(backlog_by_day: Mapping[str, int], today: date) -> dict[str, int]:
    """Open cases by age of their opening day: today, 1 day, 2-6 days, 7-29, 30+."""
    out = {"today": 0, "1 day": 0, "2-6 days": 0, "7-29 days": 0, "30+ days": 0}
    for day, n in backlog_by_day.items():
        age = (today - date.fromisoformat(day)).days
        label = ("today" if age <= 0 else "1 day" if age == 1 else "2-6 days" if age < 7
                 else "7-29 days" if age < 30 else "30+ days")
        out[label] += n
    return out


def change(now: float | None, before: float | None) -> float | None:
    """Relative change from the previous period (None when either is unknown or zero)."""
    if now is None or not before:
        return None
    return (now - before) / before


def stream_pending(events: Iterable[Any], requested: Mapping[str, str],
                   decided: Mapping[str, str]) -> list[tuple[str, str, datetime]]:
    """Requests on streams of their own still waiting for a decision: (stream, approval
    kind, since when)."""
    asked: dict[str, tuple[datetime, str]] = {}
    for e in sorted(events, key=lambda x: (x.seq or 0, x.at)):
        if e.kind in requested:
            asked[e.stream] = (e.at, requested[e.kind])
        elif e.kind in decided:
            asked.pop(e.stream, None)
    return [(stream, kind, at) for stream, (at, kind) in sorted(asked.items())]


def waiting_now(items: Iterable[tuple[str, str, datetime]], now: datetime
                ) -> list[dict[str, Any]]:
    """What waits for approval now, by kind: how many, the oldest and the median wait in
    minutes, and the items themselves (ref, minutes), longest waiting first. Live, like "SLA
    at risk now": a wait still running is not in the decided histograms."""
    by: dict[str, list[tuple[str, float]]] = {}
    for ref, kind, since in items:
        by.setdefault(kind, []).append(
            (ref, round(max(0.0, (now - since).total_seconds() / 60), 1)))
    out = []
    for kind, rows in sorted(by.items()):
        rows.sort(key=lambda r: (-r[1], r[0]))
        waits = sorted(m for _, m in rows)
        out.append({"kind": kind, "label": approval_label(kind), "count": len(rows),
                    "oldest_minutes": rows[0][1],
                    "median_minutes": waits[(len(waits) - 1) // 2], "items": rows})
    return out


# --- crisis time and drill scores ---------------------------------------------------------------

CRISIS_LEVELS = ("crisis1", "crisis2", "crisis3")  # "in crisis mode"; watch is not


def crisis_time(heads: Iterable[Any], period: Period, now: datetime) -> list[dict[str, Any]]:
    """Per incident that overlaps the period: minutes at each level within the period (to
    now while it is still open), and its minutes in crisis mode (any crisis level). `heads`:
    the incidents' opened / level / stood-down events (Event objects with .stream, .kind,
    .at and, for the first two, .level), in log order. Newest incident first."""
    lo, hi = period.instants()
    end_of = min(hi, now)
    spans: dict[str, list[tuple[datetime, str | None]]] = {}
    for e in heads:
        level = getattr(e, "level", None) if e.kind != "incident_stood_down" else None
        spans.setdefault(e.stream, []).append((e.at, level))
    out = []
    for stream, marks in spans.items():
        levels: dict[str, float] = {}
        for (at, level), nxt in zip(marks, [*marks[1:], (None, None)], strict=True):
            if level is None:
                continue
            stop = nxt[0] if nxt[0] is not None else end_of
            a, b = max(at, lo), min(stop, end_of)
            if b > a:
                levels[level] = levels.get(level, 0.0) + (b - a).total_seconds() / 60
        opened, closed = marks[0][0], (marks[-1][0] if marks[-1][1] is None else None)
        if opened >= end_of or (closed is not None and closed < lo):
            continue
        out.append({"id": stream, "opened_at": opened, "closed_at": closed,
                    "minutes": {k: round(v, 1) for k, v in sorted(levels.items())},
                    "crisis_minutes": round(sum(v for k, v in levels.items()
                                                if k in CRISIS_LEVELS), 1),
                    "peak": max((m[1] for m in marks if m[1]), key=_rank, default="normal")})
    return sorted(out, key=lambda i: i["opened_at"], reverse=True)


def _rank(level: str) -> int:
    order = ("normal", "watch", *CRISIS_LEVELS)
    return order.index(level) if level in order else 0


def drill_scores(scored: Iterable[Any], period: Period) -> list[dict[str, Any]]:
    """The drills played by people whose scores were recorded in the period (drill_scored
    events, one per player): per drill, players, mean, lowest and best score, how many
    passed the pass mark of the time, and the events' sequence numbers (the trace)."""
    lo, hi = period.instants()
    by: dict[str, dict[str, Any]] = {}
    for e in scored:
        if not lo <= e.at < hi:
            continue
        d = by.setdefault(e.drill or "?", {"drill": e.drill or "?", "scores": [], "passed": 0,
                                           "seqs": [], "members": []})
        d["scores"].append(float(e.score))
        d["passed"] += float(e.score) >= e.min_score
        d["seqs"].append(e.seq)
        d["members"].append(e.member)
    out = []
    for d in by.values():
        s = d.pop("scores")
        out.append({**d, "players": len(s), "mean": round(sum(s) / len(s), 1),
                    "lowest": min(s), "best": max(s)})
    return sorted(out, key=lambda d: d["drill"])
