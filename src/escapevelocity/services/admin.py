"""Administration without YAML: the organisation, SLA policies, calendars, vocabulary and the
customer list, changed by an admin in the web app.

Each change is one transaction that (1) checks the acting member may ADMINISTER, (2) builds
the new record and validates it with the same checks the files get (`Organisation.check`, the
playbook compiler, `Vocabulary.from_dict`), (3) stores it where the YAML/CLI path stores it
(the "org" document and tables, a new active playbook version, the "vocabulary" and
"customers" documents), and (4) appends an `org_changed` event with the record before and
after: the audit of every admin change is the log's. Routing reads the organisation from the
store, so the next mention routes by the change (`Workspace.triager` recompiles when the
organisation's text changes, in this process or another).

`ev org apply`, `ev playbook save` and the YAML files keep working: an admin page writes the
same documents, as YAML, that a person would.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from typing import Any

import msgspec
import yaml

from escapevelocity.adapters.store import Tx
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain import yamlsafe
from escapevelocity.domain.org import (
    ACTIONS,
    DAYS,
    ROLES,
    EscalationStep,
    Member,
    Organisation,
    Shift,
    Team,
)
from escapevelocity.domain.vocabulary import Vocabulary

MEMBERS, TEAMS, SLA, VOCABULARY, CUSTOMERS, SETTINGS = (
    "members", "teams", "sla", "vocabulary", "customers", "settings")
MAX_CSV_ROWS = 50_000
MAX_TEXT = 200_000


class AdminError(ValueError):
    """A change that cannot be made, in words an admin can act on."""


def stream(section: str) -> str:
    return ev.ORG_PREFIX + section


def _admin(tx: Tx, member_id: str) -> Member:
    from escapevelocity.services.casetx import acting

    who = acting(tx, member_id)
    perm.check((who.role,), perm.ADMINISTER, member=who.id)
    return who


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value) if value is not None else None


def _record(tx: Tx, who: Member, now: Any, section: str, target: str, change: str,
            before: Any, after: Any, note: str = "") -> ev.Event:
    event = ev.OrgChanged(stream=stream(section), at=now, actor=who.id, section=section,
                          target=target, change=change, before=_plain(before),
                          after=_plain(after), note=note[:500])
    tx.events.append([event])
    return event


_KEEP_EMPTY = frozenset({"teams", "members", "languages", "days"})  # empty is not the default


def _prune(value: Any) -> Any:
    """Leave out what is empty and means the default, so the file reads like a written one."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _prune(v)
            if k not in _KEEP_EMPTY and (v is None or v == "" or v == [] or v == {}):
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def org_yaml(org: Organisation) -> str:
    """The organisation as the YAML document `ev org apply` reads (defaults left out)."""
    data = msgspec.to_builtins(org)
    default_shift = msgspec.to_builtins(Shift())
    for m in data["members"]:
        if m.get("shift") == default_shift:
            del m["shift"]
    return yaml.safe_dump(_prune(data), sort_keys=False, allow_unicode=True, width=100)


# --- the organisation -------------------------------------------------------------------------

def _change_org(ws: Any, actor: str, section: str, target: str, change: str,
                edit: Callable[[Organisation], Organisation], *,
                before: Any = None, after: Callable[[Organisation], Any] | None = None,
                note: str = "") -> Organisation:
    with ws.store.begin() as tx:
        who = _admin(tx, actor)
        old = tx.org.load()
        new = edit(old)
        problems = new.check()
        if problems:
            raise AdminError("; ".join(problems))
        if msgspec.to_builtins(new) == msgspec.to_builtins(old):
            raise AdminError("nothing changed")
        now = ws.clock.now()
        for m in old.members:  # removed or given another role: signed out (as `org apply`)
            changed = new.member(m.id)
            if changed is None or changed.role != m.role:
                tx.signin.revoke_member_sessions(m.id, now)
        tx.org.save(new)
        tx.documents.put("org", org_yaml(new), now)
        _record(tx, who, now, section, target, change, before,
                after(new) if after else None, note)
    ws._triager = None  # this process routes by the new organisation at once
    return new


def _replace(items: list, key: str, new: Any) -> list:
    return [new if x.id == key else x for x in items]


def save_member(ws: Any, actor: str, member: Member, *, create: bool = False) -> Organisation:
    """Create a member, or replace one's record (role, teams, skills, languages, shift...)."""
    if member.role not in ROLES:
        raise AdminError(f"unknown role {member.role!r}")

    def edit(org: Organisation) -> Organisation:
        exists = org.member(member.id) is not None
        if create and exists:
            raise AdminError(f"there is already a member {member.id!r}")
        if not create and not exists:
            raise AdminError(f"there is no member {member.id!r}")
        members = [*org.members, member] if create else _replace(org.members, member.id, member)
        return msgspec.structs.replace(org, members=members)

    with ws.store.begin() as tx:
        before = tx.org.load().member(member.id)
    return _change_org(ws, actor, MEMBERS, member.id, "created" if create else "updated", edit,
                       before=None if create else before, after=lambda o: o.member(member.id))


def set_password(ws: Any, actor: str, member_id: str, password: str) -> None:
    """An admin sets a member's password: the member is signed out everywhere, and the log
    says who set it and when (never the password)."""
    if len(password) < 10:
        raise AdminError("a password needs 10 characters or more")
    with ws.store.begin() as tx:
        who = _admin(tx, actor)
        if tx.org.load().member(member_id) is None:
            raise AdminError(f"there is no active member {member_id!r}")
        _record(tx, who, ws.clock.now(), MEMBERS, member_id, "password set", None, None)
    ws.set_password(member_id, password)


def deactivate_member(ws: Any, actor: str, member_id: str) -> Organisation:
    """Take a member out of the organisation: they are signed out, route nothing and see
    nothing. Their record stays in the event, so they can be reactivated as they were."""
    if member_id == actor:
        raise AdminError("you cannot deactivate yourself; ask another admin")

    def edit(org: Organisation) -> Organisation:
        if org.member(member_id) is None:
            raise AdminError(f"there is no active member {member_id!r}")
        for t in org.teams:
            if t.lead == member_id or member_id in t.on_call:
                raise AdminError(f"{member_id} leads or is on call for team {t.id}; name "
                                 "someone else there first")
        return msgspec.structs.replace(org, members=[m for m in org.members
                                                     if m.id != member_id])

    with ws.store.begin() as tx:
        before = tx.org.load().member(member_id)
    return _change_org(ws, actor, MEMBERS, member_id, "deactivated", edit, before=before)


def deactivated(ws: Any) -> list[Member]:
    """Members taken out by an admin and not put back, from the log."""
    with ws.store.begin() as tx:
        events = tx.events.stream(stream(MEMBERS))
        org = tx.org.load()
    out: dict[str, Member] = {}
    for e in events:
        if e.change == "deactivated" and e.before:
            out[e.target] = msgspec.convert(e.before, Member)
        elif e.change in ("reactivated", "created"):
            out.pop(e.target, None)
    return [m for m in out.values() if org.member(m.id) is None]


def reactivate_member(ws: Any, actor: str, member_id: str) -> Organisation:
    found = {m.id: m for m in deactivated(ws)}.get(member_id)
    if found is None:
        raise AdminError(f"{member_id!r} is not a deactivated member")

    def edit(org: Organisation) -> Organisation:
        known = {t.id for t in org.teams}
        return msgspec.structs.replace(org, members=[*org.members, msgspec.structs.replace(
            found, teams=[t for t in found.teams if t in known])])

    return _change_org(ws, actor, MEMBERS, member_id, "reactivated", edit,
                       after=lambda o: o.member(member_id))


def save_team(ws: Any, actor: str, team: Team, *, create: bool = False) -> Organisation:
    """Create a team or spoke, or change one (kind, hub, strategy, overflow, lead, on call)."""

    def edit(org: Organisation) -> Organisation:
        exists = org.team(team.id) is not None
        if create and exists:
            raise AdminError(f"there is already a team {team.id!r}")
        if not create and not exists:
            raise AdminError(f"there is no team {team.id!r}")
        # keep the overflow rules the form does not show
        old = org.team(team.id)
        kept = msgspec.structs.replace(team, overflows=old.overflows) if old else team
        teams = [*org.teams, kept] if create else _replace(org.teams, team.id, kept)
        return msgspec.structs.replace(org, teams=teams)

    with ws.store.begin() as tx:
        before = tx.org.load().team(team.id)
    return _change_org(ws, actor, TEAMS, team.id, "created" if create else "updated", edit,
                       before=None if create else before, after=lambda o: o.team(team.id))


def parse_ladder(text: str) -> list[EscalationStep]:
    """"notify_assignee 0.75, reassign 1.0" (or one step a line) -> steps."""
    steps = []
    for part in text.replace("\n", ",").split(","):
        bits = part.replace("@", " ").replace(":", " ").split() if part.strip() else []
        if not bits:
            continue
        if len(bits) != 2:
            raise AdminError(f"escalation step {part.strip()!r}: write an action and a share, "
                             "such as `reassign 1.0`")
        action, share = bits
        action = action.strip().replace(" ", "_")
        if action not in ACTIONS:
            raise AdminError(f"unknown escalation action {action!r}; actions: "
                             f"{', '.join(ACTIONS)}")
        try:
            steps.append(EscalationStep(action, float(share)))
        except ValueError:
            raise AdminError(f"escalation step {part.strip()!r}: {share!r} is not a number") \
                from None
    return steps


def save_sla_settings(ws: Any, actor: str, warn_at: float,
                      ladders: dict[str, list[EscalationStep]]) -> Organisation:
    """The warning share and the escalation ladders (who is told, who takes over)."""
    with ws.store.begin() as tx:
        before = tx.org.load().sla

    def edit(org: Organisation) -> Organisation:
        sla = msgspec.structs.replace(org.sla, warn_at=warn_at,
                                      escalation={k: v for k, v in ladders.items() if v})
        return msgspec.structs.replace(org, sla=sla)

    return _change_org(ws, actor, SLA, "escalation", "updated", edit, before=before,
                       after=lambda o: o.sla)


def parse_shift(tz: str, days: list[str], start: str, end: str, holidays: str) -> Shift:
    bad = [d for d in days if d not in DAYS]
    if bad:
        raise AdminError(f"unknown days {bad}")
    try:
        hol = [date.fromisoformat(h.strip()) for h in holidays.replace("\n", ",").split(",")
               if h.strip()]
    except ValueError as exc:
        raise AdminError(f"holidays: {exc}; write dates as 2026-12-25") from None
    return Shift(tz=tz.strip() or "UTC", days=days or list(DAYS), start=start or "00:00",
                 end=end or "24:00", holidays=hol)


# --- SLA policies and calendars: the active playbook's tracks ---------------------------------

def _save_playbook(ws: Any, actor: str, source: str, note: str) -> Any:
    from escapevelocity.services import playbooks

    outcome = playbooks.save(ws.store, ws.clock, source, member=actor, note=note,
                             activate=True, origin="admin page")
    ws._triager = None
    return outcome


def active_playbook(ws: Any) -> tuple[int, dict[str, Any]]:
    with ws.store.begin() as tx:
        active = tx.playbooks.active()
    if active is None:
        raise AdminError("this workspace has no active playbook")
    return active[0], yamlsafe.load(active[1]) or {}


def save_track_sla(ws: Any, actor: str, track: str, *, first_response: int,
                   next_response: int | None, resolution: int | None, calendar: str,
                   note: str = "") -> Any:
    """A track's SLA policy (minutes, business calendar): a new active playbook version, or a
    request for the approval the playbook's activation needs. Returns the outcome."""
    with ws.store.begin() as tx:
        _admin(tx, actor)
    _, data = active_playbook(ws)
    tracks = data.get("tracks") or {}
    if track not in tracks:
        raise AdminError(f"there is no track {track!r}")
    before = dict(tracks[track].get("sla") or {})
    sla = {"first_response": first_response}
    if next_response:
        sla["next_response"] = next_response
    if resolution:
        sla["resolution"] = resolution
    if sla == before and (tracks[track].get("calendar") or "") == calendar:
        raise AdminError("nothing changed")
    tracks[track]["sla"] = sla
    if calendar:
        tracks[track]["calendar"] = calendar
    else:
        tracks[track].pop("calendar", None)
    source = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    note = note.strip() or f"SLA of track {track} from the admin page"
    outcome = _save_playbook(ws, actor, source, note)
    with ws.store.begin() as tx:
        who = _admin(tx, actor)
        _record(tx, who, ws.clock.now(), SLA, track, "updated", before,
                {**sla, "calendar": calendar, "playbook_version": outcome.version,
                 "status": outcome.status}, note)
    return outcome


def save_calendar(ws: Any, actor: str, name: str, *, timezone: str, hours: dict[str, str],
                  holidays: list[date], note: str = "") -> Any:
    """A business calendar (hours per weekday, holidays): a new active playbook version."""
    with ws.store.begin() as tx:
        _admin(tx, actor)
    _, data = active_playbook(ws)
    calendars = data.setdefault("calendars", {}) or {}
    data["calendars"] = calendars
    before = calendars.get(name)
    calendars[name] = {"timezone": timezone or "UTC", "hours": hours,
                       "holidays": [d.isoformat() for d in holidays]}
    source = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    note = note.strip() or f"calendar {name} from the admin page"
    outcome = _save_playbook(ws, actor, source, note)
    with ws.store.begin() as tx:
        who = _admin(tx, actor)
        _record(tx, who, ws.clock.now(), SLA, f"calendar:{name}",
                "updated" if before else "created", before, calendars[name], note)
    return outcome


# --- vocabulary and customer list -------------------------------------------------------------

def save_vocabulary(ws: Any, actor: str, text: str, note: str = "") -> None:
    if len(text) > MAX_TEXT:
        raise AdminError(f"the vocabulary is limited to {MAX_TEXT:,} characters")
    try:
        Vocabulary.from_dict(yamlsafe.load(text) or {})
    except Exception as exc:  # YAML or shape: either way the admin fixes the text
        raise AdminError(str(exc)) from None
    with ws.store.begin() as tx:
        who = _admin(tx, actor)
        before = tx.documents.get("vocabulary") or ""
        if before == text:
            raise AdminError("nothing changed")
        now = ws.clock.now()
        tx.documents.put("vocabulary", text, now)
        _record(tx, who, now, VOCABULARY, "vocabulary", "updated", before, text, note)
    ws._triager = None


def customers_from_csv(text: str) -> list[dict[str, Any]]:
    """Rows `crm_id,name,handles,lists` (handles and lists separated by spaces or `;`)."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "crm_id" not in [f.strip() for f in reader.fieldnames]:
        raise AdminError("the CSV needs a header with at least crm_id (and name, handles, "
                         "lists)")
    out = []
    for n, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if not row.get("crm_id"):
            raise AdminError(f"line {n}: crm_id is empty")
        if len(out) >= MAX_CSV_ROWS:
            raise AdminError(f"at most {MAX_CSV_ROWS:,} customers a file")
        out.append({"crm_id": row["crm_id"][:100], "name": row.get("name", "")[:200],
                    "handles": _split(row.get("handles", "")),
                    "lists": _split(row.get("lists", ""))})
    return out


def _split(value: str) -> list[str]:
    return [x for x in value.replace(";", " ").split() if x]


def import_customers(ws: Any, actor: str, text: str) -> int:
    """Replace the customer list (the CRM link reads it) from a CSV file."""
    from escapevelocity.services.annotate import (
        CUSTOMERS_DOCUMENT,
        check_customers,
        load_customers,
    )

    if len(text) > 100 * MAX_TEXT:
        raise AdminError("the file is too large")
    rows = customers_from_csv(text)
    body = yaml.safe_dump(rows, sort_keys=False, allow_unicode=True, width=200)
    check_customers(load_customers(body))  # the same validation as the YAML path
    with ws.store.begin() as tx:
        who = _admin(tx, actor)
        before = len(load_customers(tx.documents.get(CUSTOMERS_DOCUMENT)))
        now = ws.clock.now()
        tx.documents.put(CUSTOMERS_DOCUMENT, body, now)
        _record(tx, who, now, CUSTOMERS, "customers", "imported", {"count": before},
                {"count": len(rows)})
    return len(rows)


def audit(ws: Any, limit: int = 50) -> list[ev.Event]:
    """The latest admin changes, newest first."""
    with ws.store.begin() as tx:
        return tx.events.of_kinds((ev.ORG_CHANGED,), limit=limit)


# --- settings: who may declare an incident ----------------------------------------------------

SETTINGS_DOCUMENT = "admin_settings"


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Workspace settings an admin changes on the settings page. `incident_declarers`: roles
    and member ids that may declare (and stand down) an incident."""

    incident_declarers: list[str] = msgspec.field(
        default_factory=lambda: ["strategist", "admin"])


def settings(store: Any) -> Settings:
    with store.begin() as tx:
        raw = tx.documents.get(SETTINGS_DOCUMENT)
    return msgspec.json.decode(raw, type=Settings) if raw else Settings()


def may_declare(store: Any, member: Member) -> bool:
    who = settings(store).incident_declarers
    return member.role in who or member.id in who


def save_settings(ws: Any, actor: str, new: Settings) -> None:
    with ws.store.begin() as tx:
        who = _admin(tx, actor)
        raw = tx.documents.get(SETTINGS_DOCUMENT)
        old = msgspec.json.decode(raw, type=Settings) if raw else Settings()
        if old == new:
            raise AdminError("nothing changed")
        org = tx.org.load()
        unknown = [x for x in new.incident_declarers
                   if x not in ROLES and org.member(x) is None]
        if unknown:
            raise AdminError(f"not a role or a member: {', '.join(unknown)}")
        if not new.incident_declarers:
            raise AdminError("name at least one role or member who may declare an incident")
        now = ws.clock.now()
        tx.documents.put(SETTINGS_DOCUMENT, msgspec.json.encode(new).decode(), now)
        _record(tx, who, now, SETTINGS, "incident_declarers", "updated", old, new)


# --- approval rotations and the approval SLA (the engagement policy document) -----------------

def approval_rules(store: Any) -> Any:
    from escapevelocity.domain import engagement

    with store.begin() as tx:
        return engagement.load_policy(tx.documents.get(engagement.POLICY_DOCUMENT))


def save_approval_rules(ws: Any, actor: str, rotations: dict[str, list[str]],
                        sla_minutes: int, risk_group: str) -> None:
    """Who approves for each group, first first; the approval SLA; where legal risk goes.
    The rest of the engagement policy document is kept as it is."""
    from escapevelocity.domain import engagement

    with ws.store.begin() as tx:
        who = _admin(tx, actor)
        text = tx.documents.get(engagement.POLICY_DOCUMENT)
        data = dict(yamlsafe.load(text) or {}) if text else {}
        before = {"rotations": data.get("rotations", {}),
                  "approval_sla_minutes": data.get("approval_sla_minutes"),
                  "risk_group": data.get("risk_group")}
        data.update(rotations={k: v for k, v in rotations.items() if v},
                    approval_sla_minutes=sla_minutes, risk_group=risk_group or "legal")
        new = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
        try:
            rules = engagement.load_policy(new)
        except ValueError as exc:
            raise AdminError(str(exc)) from None
        problems = engagement.check_policy(rules, tx.org.load())
        if problems:
            raise AdminError("; ".join(problems))
        if new == text:
            raise AdminError("nothing changed")
        now = ws.clock.now()
        tx.documents.put(engagement.POLICY_DOCUMENT, new, now)
        _record(tx, who, now, SETTINGS, "approval_rotations", "updated", before,
                {"rotations": data["rotations"], "approval_sla_minutes": sla_minutes,
                 "risk_group": data["risk_group"]})
