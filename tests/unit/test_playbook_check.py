"""`check`: dead rules, gaps, contradictions, references; all with lines."""

from escapevelocity.domain.playbook import compile_playbook
from escapevelocity.domain.playbook_check import ALL, SINGLE, check_source, sets
from escapevelocity.domain.records import CHANNELS

HEAD = """
name: t
teams: [care, hub]
tracks:
  support: {team: care, sla: {first_response: 60}}
  monitor: {team: hub, sla: {first_response: 60}, respond: false}
templates: {hi: "Hi {author_name}"}
rules:
"""
TAIL = "default: {track: monitor, respond: false, reason: monitor_only}\n"


def report(rules: str, **kw):
    return check_source(HEAD + rules + TAIL, source="t.yaml", **kw)


def codes(r):
    return {(f.code, f.rule) for f in r.findings}


def test_rule_implied_by_an_earlier_stopping_rule_is_dead():
    r = report("""  - id: complaints
    when: {situation: complaint}
    then: {track: support, template: hi}
  - id: angry-complaints
    when: {situation: complaint, sentiment: negative}
    then: {track: support, priority: p1}
""")
    dead = [f for f in r.errors if f.code == "never"]
    assert [(f.rule, f.line) for f in dead] == [("angry-complaints", 12)]
    assert "'complaints'" in dead[0].message and not r.ok


def test_secondary_situations_keep_analysis_sound():
    # a mention whose primary is praise but which is also a question reaches the second rule
    r = report("""  - id: primary-q
    when: {primary_situation: question}
    then: {track: support, template: hi}
  - id: any-q
    when: {situation: question}
    then: {track: support}
""")
    assert r.ok


def test_unknown_conditions_never_prove_shadowing():
    r = report("""  - id: lawyer
    when: {keywords: [lawyer]}
    then: {track: support, template: hi}
  - id: lawyer-again
    when: {keywords: [lawyer], sentiment: negative}
    then: {track: support}
  - id: nonstop
    when: {situation: complaint}
    then: {tags: [x], stop: false}
  - id: after-nonstop
    when: {situation: complaint}
    then: {track: support}
""")
    assert r.ok  # keyword-implied shadowing is not claimed (treated as either way)


def test_self_contradicting_condition():
    r = report("""  - id: impossible
    when: {sentiment: negative, not: {sentiment: [negative, neutral]}}
    then: {track: support, template: hi}
""")
    assert ("never", "impossible") in codes(r)
    assert "contradict" in r.errors[0].message


def test_contradictory_decisions_and_unused_names():
    r = report("""  - id: quiet-but-templated
    when: {situation: spam}
    then: {track: monitor, reason: spam, template: hi}
  - id: continue-with-track
    when: {pii: true}
    then: {track: support, tags: [x], stop: false}
  - id: public-pii
    when: {pii: true}
    then: {track: support, visibility: public}
""".replace("templates: {hi", "templates: {unused: x, hi"))
    found = codes(r)
    assert {("contradiction", "quiet-but-templated"), ("contradiction", "continue-with-track"),
            ("contradiction", "public-pii")} <= found
    assert r.ok  # contradictions are warnings


def test_gaps_are_the_cells_that_reach_the_default():
    r = report("""  - id: complaints
    when: {situation: complaint, channel: twitter}
    then: {track: support, template: hi}
""")
    assert r.cells == 12 * 3 * 9 * len(CHANNELS) * 5  # every channel the record knows
    assert r.gap_cells == r.cells - 3 * 9 * 1 * 5
    complaint = [g for g in r.gaps if g.situation == "complaint"]
    assert all("twitter" not in g.channels for g in complaint)


def test_unknown_names_and_org_teams_are_errors_with_lines():
    r = report("""  - id: r
    when: {situation: complain}
    then: {track: support, template: nope}
""")
    assert {(f.rule, f.line) for f in r.errors} == {("r", 10), ("r", 11)}
    r = report("""  - id: r
    when: {situation: complaint}
    then: {track: support, template: hi}
""", teams={"care"})
    assert any("'hub' is not in the organisation" in f.message for f in r.errors)


def test_bit_sets_follow_kleene_logic():
    pb = compile_playbook(HEAD + """  - id: r
    when: {not: {any: [{keywords: [x]}, {sentiment: negative}]}}
    then: {track: support}
""" + TAIL)
    sure, may = sets(pb.rules[0].cond)
    assert sure == 0 and may != ALL and may & SINGLE
