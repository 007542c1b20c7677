"""Property tests: a decision is a pure function of (mention, signals, context, playbook);
every mention gets exactly one track, and the explanation names the deciding rule."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escapevelocity.bench.playbook import sixty_rule_playbook
from escapevelocity.domain.playbook import (
    AUTHOR_CLASSES,
    LEVELS,
    SENTIMENTS,
    SITUATIONS,
    Context,
    Facts,
    compile_playbook,
    default_playbook_path,
    load_playbook,
)
from escapevelocity.domain.playbook_check import check_source
from escapevelocity.domain.records import CHANNELS, KINDS, Author, Mention, Signals

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "playbooks"
PATHS = [default_playbook_path(), *map(str, sorted(EXAMPLES.glob("*.yaml")))]
PLAYBOOKS = {p: load_playbook(p) for p in PATHS}
WORDS = ["lawyer", "fire", "refund", "router", "Café", "order", "bill", "kys", "home address",
         "love", "outage", "the", "my", "is", "broken", "ÉCOLE", "charged", "wifi", "!", "?"]

texts = st.lists(st.sampled_from(WORDS) | st.text(max_size=8), max_size=12).map(" ".join)
times = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                     timezones=st.just(UTC))


@st.composite
def mentions(draw):
    author = Author(handle=draw(st.sampled_from(["kim", "oprah", "BigCo_IT", "x"])),
                    followers=draw(st.integers(0, 2_000_000)), verified=draw(st.booleans()))
    return Mention(source_id="p", channel=draw(st.sampled_from(CHANNELS)), text=draw(texts),
                   author=author, created_at=draw(times), kind=draw(st.sampled_from(KINDS)))


@st.composite
def signals(draw, max_situations=3):
    primary = draw(st.sampled_from(SITUATIONS))
    extra = draw(st.lists(st.sampled_from(SITUATIONS), max_size=max_situations - 1))
    situations = tuple(dict.fromkeys([primary, *extra]))
    score = draw(st.floats(-1, 1))
    return Signals(sentiment=score, sentiment_label=draw(st.sampled_from(SENTIMENTS)),
                   situation=primary,
                   situations=draw(st.sampled_from([situations, (), (primary,)])),
                   author_class=draw(st.sampled_from(AUTHOR_CLASSES)),
                   urgency=draw(st.integers(0, 3)),
                   pii=tuple(draw(st.lists(st.sampled_from(["email", "phone", "card_number"]),
                                           max_size=2, unique=True))),
                   language=draw(st.sampled_from(["en", "fr", "und"])))


@st.composite
def contexts(draw):
    return Context(crisis_level=draw(st.sampled_from(LEVELS)),
                   author_history=draw(st.integers(0, 5)), case_history=draw(st.integers(0, 5)),
                   known_customer=draw(st.booleans()), vip=draw(st.booleans()),
                   now=draw(st.none() | times), author_open_cases=draw(st.integers(0, 3)),
                   previous_track=draw(st.sampled_from(["", "sales", "support", "leads"])),
                   author_lists=frozenset(draw(st.lists(st.sampled_from(["vips",
                                                                         "key_accounts"])))))


def reference(pb, mention, sig, ctx):
    """The plain reading of the rules: no plans, no caches, no shortcuts."""
    facts = Facts(mention, sig, ctx, pb._phrases(mention.text))
    extra = []
    for rule in pb.by_level.get(ctx.crisis_level, pb.rules):
        if rule.matches(facts):
            if rule.then.stop:
                return rule.id, tuple(t for r in extra for t in r.then.tags)
            extra.append(rule)
    return "default", tuple(t for r in extra for t in r.then.tags)


# Drawing a mention, its signals and a context is most of what an example costs (~4.5 ms of
# Hypothesis, the checks a fraction of that): the time property (200 examples of its own
# before) is checked on the same 300 draws as the track and the explanation.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), mention=mentions(), sig=signals(), ctx=contexts(),
       later=st.integers(1, 10_000))
def test_one_track_the_rule_named_and_time_only_through_context_or_mention(path, mention, sig,
                                                                            ctx, later):
    pb = PLAYBOOKS[path]
    d = pb.decide(mention, sig, ctx)
    assert isinstance(d.track, str) and d.track in pb.spec.tracks
    ids = {r.id for rules in (pb.rules, *pb.by_level.values()) for r in rules}
    assert d.rule_id in ids | {"default"}
    assert d.explanation.startswith(f"{d.rule_id}: ")
    assert d.respond or d.reason
    ex = pb.explain(mention, sig, ctx)
    assert ex.decision == d
    deciding = [s for s in ex.steps if s.matched and s.rule.then.stop]
    assert [s.rule.id for s in deciding] == ([] if d.rule_id == "default" else [d.rule_id])
    for step in ex.steps:  # the trace agrees with the closure, predicate by predicate
        assert step.matched == step.rule.matches(ex.facts)

    # time enters only through the context or the mention: with `now` pinned, the mention's
    # own timestamp no longer matters
    pinned = Context(crisis_level=ctx.crisis_level, now=mention.created_at)
    moved = Mention(**{**{f: getattr(mention, f) for f in mention.__struct_fields__},
                       "created_at": mention.created_at + timedelta(minutes=later)})
    assert pb.decide(mention, sig, pinned) == pb.decide(moved, sig, pinned)


@settings(max_examples=120, deadline=None)
@given(path=st.sampled_from(PATHS), mention=mentions(), sig=signals(), ctx=contexts())
def test_decisions_are_a_pure_function_of_their_inputs(path, mention, sig, ctx):
    pb = PLAYBOOKS[path]
    first = pb.decide(mention, sig, ctx)
    fresh = load_playbook(path)  # no plans or memos yet
    assert fresh.decide(mention, sig, ctx) == first == pb.decide(mention, sig, ctx)
    rule_id, tags = reference(pb, mention, sig, ctx)
    assert first.rule_id == rule_id and first.tags[:len(tags)] == tags


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 40),
       items=st.lists(st.tuples(mentions(), signals(max_situations=2)), min_size=20,
                      max_size=40))
def test_rules_check_calls_dead_never_decide(seed, n, items):
    data = sixty_rule_playbook(n_rules=n, seed=seed)
    report = check_source(data)
    dead = {f.rule for f in report.findings if f.code == "never"}
    pb = compile_playbook(data)
    for mention, sig in items:
        assert pb.decide(mention, sig).rule_id not in dead


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_fold_per_character_is_fold_of_the_whole_text(text):
    import unicodedata

    from escapevelocity.domain.playbook import fold

    whole = "".join(c for c in unicodedata.normalize("NFKD", text.casefold())
                    if not unicodedata.combining(c))
    assert fold(text) == (text.lower() if text.isascii() else whole)
