"""Where the program stands on the seeds' maturity scale, from facts in the workspace. Pure.

The seeds describe two scales. How mature the program is: novice (a help desk answering
one-to-one), intermediate (a written playbook, some spokes, some measurement), mature
(drilled, reviewed, measured against business goals). And how it is organised: decentralised
(business units each on their own), centralised (one team answers everything),
hub-and-spoke (a hub sets the rules and business-unit spokes answer their own cases),
multiple hub-and-spoke (the "dandelion": several hubs, each with spokes, for brands or
regions) and holistic (everyone in the company who faces customers is trained and takes part).

`assess(facts)` places the program on both from `Facts` that the shell counts
(services/maturity.py) and says each statement with the facts it rests on, so a reader can
check every claim, and what the next step is. `compare` sets two quarters side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STAGES = ("novice", "intermediate", "mature")
MODELS = ("decentralised", "centralised", "hub-and-spoke", "multiple hub-and-spoke", "holistic")
SPOKE_SHARE = 0.10  # spokes answer at least this share of cases before the model counts
HOLISTIC_SHARE = 0.50
HOLISTIC_TRAINED = 0.80


@dataclass(frozen=True)
class Fact:
    """One number from the workspace, where it comes from (`source`: a page that shows it)
    and how it was counted."""

    id: str
    label: str
    value: float
    source: str
    how: str = ""


@dataclass(frozen=True)
class Facts:
    hubs: int = 0
    spokes: int = 0
    spokes_live: int = 0
    spokes_shadow: int = 0
    cases: int = 0
    cases_by_spokes: int = 0
    drills_run: int = 0
    drills_passed: int = 0
    playbook_reviews: int = 0
    kpis_tracked: int = 0
    members: int = 0
    members_trained: int = 0
    training_required: bool = False
    window: str = ""  # what period the counts cover, in words

    @property
    def spoke_share(self) -> float:
        return self.cases_by_spokes / self.cases if self.cases else 0.0

    @property
    def trained_share(self) -> float:
        if not self.training_required:
            return 0.0
        return self.members_trained / self.members if self.members else 0.0

    def listed(self) -> list[Fact]:
        w = f" ({self.window})" if self.window else ""
        return [
            Fact("hubs", "hubs", self.hubs, "/team", "teams of kind hub in the organisation"),
            Fact("spokes", "spokes", self.spokes, "/team", "teams of kind spoke"),
            Fact("spokes_live", "spokes live", self.spokes_live, "/governance",
                 "spokes with live routing and reply rights (approved, or never governed)"),
            Fact("spokes_shadow", "spokes in shadow mode", self.spokes_shadow, "/governance",
                 "requested spokes whose readiness checklist is not yet approved"),
            Fact("cases", "cases" + w, self.cases, "/inbox", "cases opened"),
            Fact("cases_by_spokes", "cases handled by spokes" + w, self.cases_by_spokes,
                 "/team", "cases whose owning team is a spoke"),
            Fact("spoke_share", "share of cases handled by spokes" + w,
                 round(self.spoke_share * 100, 1), "/team", "percent"),
            Fact("drills_run", "drills played by people" + w, self.drills_run, "/training",
                 "distinct drills with a recorded score"),
            Fact("drills_passed", "drills passed" + w, self.drills_passed, "/training",
                 "drills whose median score met the pass mark"),
            Fact("playbook_reviews", "playbook reviews" + w, self.playbook_reviews,
                 "/playbook", "playbook versions approved or activated"),
            Fact("kpis_tracked", "KPIs tracked against goals", self.kpis_tracked, "/reports/goals",
                 "KPIs with a target in the workspace's goals document"),
            Fact("members", "members", self.members, "/team", "members of the organisation"),
            Fact("members_trained", "members trained", self.members_trained, "/training",
                 "policies acknowledged and a drill passed" if self.training_required
                 else "no policy published: training is not required"),
        ]


@dataclass(frozen=True)
class Statement:
    text: str
    facts: tuple[str, ...]  # Fact ids it rests on
    met: bool = True


@dataclass(frozen=True)
class Assessment:
    stage: str
    model: str
    statements: list[Statement]
    next_step: Statement
    facts: dict[str, Fact] = field(default_factory=dict)


def model_of(f: Facts) -> tuple[str, list[Statement]]:
    """The organisational model and why."""
    says: list[Statement] = []
    # with no cases in the period, the structure alone says how the program is organised
    live_share = f.spokes_live and (f.cases == 0 or f.spoke_share >= SPOKE_SHARE)
    if f.hubs == 0:
        says.append(Statement("No hub: business units act on their own (decentralised).",
                              ("hubs", "spokes")))
        return MODELS[0], says
    if not live_share:
        says.append(Statement(
            f"{f.hubs} hub(s); spokes live: {f.spokes_live}, handling "
            f"{f.spoke_share:.0%} of cases (under {SPOKE_SHARE:.0%}): the hub answers nearly "
            "everything (centralised).", ("hubs", "spokes_live", "spoke_share")))
        return MODELS[1], says
    model = MODELS[2] if f.hubs == 1 else MODELS[3]
    handling = (f"handling {f.spoke_share:.0%} of cases" if f.cases
                else "(no cases in the period)")
    says.append(Statement(
        f"{f.hubs} hub(s) with {f.spokes_live} live spoke(s) {handling} ({model}).",
        ("hubs", "spokes_live", "spoke_share", "cases")))
    if (f.spoke_share >= HOLISTIC_SHARE and f.trained_share >= HOLISTIC_TRAINED
            and f.drills_passed):
        says.append(Statement(
            f"Spokes handle most cases, {f.trained_share:.0%} of members are trained and a "
            "drill was passed: the whole company takes part (holistic).",
            ("spoke_share", "members_trained", "members", "drills_passed")))
        return MODELS[4], says
    return model, says


def _criteria(f: Facts) -> list[tuple[Statement, Statement]]:
    """(what is in place, the step when it is not), in the order a program climbs."""
    return [
        (Statement(f"{f.spokes_live} spoke(s) are live with reply rights.",
                   ("spokes_live",), f.spokes_live > 0),
         Statement("Bring a business unit through readiness: request a spoke, complete its "
                   "checklist, approve it.", ("spokes_live", "spokes_shadow"))),
        (Statement(f"The playbook was reviewed {f.playbook_reviews} time(s).",
                   ("playbook_reviews",), f.playbook_reviews > 0),
         Statement("Review the playbook: save a new version and have it approved.",
                   ("playbook_reviews",))),
        (Statement(f"{f.drills_passed} of {f.drills_run} drill(s) played by people passed.",
                   ("drills_run", "drills_passed"), f.drills_passed > 0),
         Statement("Run a drill with people in the sandbox and pass it.",
                   ("drills_run", "drills_passed"))),
        (Statement(f"{f.members_trained} of {f.members} members completed training.",
                   ("members_trained", "members"),
                   f.training_required and f.trained_share >= 0.5),
         Statement("Publish the social media policies and train at least half the members "
                   "(acknowledgement and a passed drill).", ("members_trained", "members"))),
        (Statement(f"{f.kpis_tracked} KPI(s) are tracked against goals.", ("kpis_tracked",),
                   f.kpis_tracked > 0),
         Statement("Set business goals and the KPIs that measure them.", ("kpis_tracked",))),
    ]


def assess(f: Facts) -> Assessment:
    model, says = model_of(f)
    criteria = _criteria(f)
    met = [s for s, _ in criteria if s.met]
    stage = STAGES[0] if len(met) <= 1 else STAGES[1] if len(met) <= 3 else STAGES[2]
    says = [*says, *(s for s, _ in criteria),
            Statement(f"{len(met)} of {len(criteria)} practices are in place: {stage}.",
                      tuple(sorted({i for s in met for i in s.facts})) or ("spokes_live",))]
    step = next((nxt for s, nxt in criteria if not s.met), None)
    if step is None:
        step = (Statement("Add a second hub for a brand or region (multiple hub-and-spoke).",
                          ("hubs",)) if f.hubs < 2 else
                Statement("Move more cases to trained spokes until they answer most of them "
                          "(holistic).", ("spoke_share", "members_trained")))
    return Assessment(stage, model, says, step, {x.id: x for x in f.listed()})


@dataclass(frozen=True)
class Change:
    fact: str
    label: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        return self.after - self.before


def compare(before: Facts, after: Facts) -> list[Change]:
    """The quarterly review: each fact last quarter and this one."""
    prev = {x.id: x for x in before.listed()}
    return [Change(x.id, x.label.split(" (")[0], prev[x.id].value, x.value)
            for x in after.listed()]
