import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from itertools import pairwise

import msgspec
import pytest
import yaml

from escapevelocity.demo.generator import generate, generate_labelled, write_csv, write_jsonl
from escapevelocity.domain.records import CHANNELS, KINDS, Mention
from escapevelocity.domain.vocabulary import Vocabulary
from escapevelocity.services.parse import Problem, read_file

START = datetime(2026, 11, 20, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def stream():
    return list(generate_labelled(5000, seed=4, start=START))


def _luhn(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def test_count_and_determinism():
    a = list(generate(3000, seed=1, start=START))
    assert len(a) == 3000
    assert a == list(generate(3000, seed=1, start=START))
    assert a != list(generate(3000, seed=2, start=START))
    assert len(list(generate(0, start=START))) == 0
    assert [x.mention for x in generate_labelled(500, seed=1, start=START)] == a[:500]


def test_start_must_be_aware():
    with pytest.raises(ValueError):
        next(generate(1, start=datetime(2026, 11, 20)))


def test_times_increase_with_gaps_near_the_mean(stream):
    firsts = [x.mention for x in stream if not x.redelivery]
    assert firsts[0].created_at > START
    assert all(x.created_at < y.created_at for x, y in pairwise(firsts))
    assert all(m.created_at.utcoffset() == timedelta(0) for m in firsts)
    mean = (firsts[-1].created_at - START).total_seconds() / len(firsts)
    assert 0.8 < mean < 1.2
    fast = list(generate(2000, start=START, mean_gap_seconds=0.1, duplicates=False))
    assert (fast[-1].created_at - START).total_seconds() < 400


def test_ids_unique_per_channel_except_the_redeliveries(stream):
    keys = Counter(x.mention.key for x in stream)
    again = {k for k, n in keys.items() if n > 1}
    redelivered = {x.mention.key for x in stream if x.redelivery}
    assert again == redelivered and 5 <= len(again) <= 60
    for x in stream:  # a re-delivery is the very same item, delivered later
        if x.redelivery:
            assert x.mention in [y.mention for y in stream if not y.redelivery
                                 and y.mention.key == x.mention.key]
    clean = Counter(m.key for m in generate(5000, seed=4, start=START, duplicates=False))
    assert max(clean.values()) == 1
    assert all(m.source_id.startswith(("tw-", "fb-", "ig-", "rv-", "fo-"))
               for m in generate(200, start=START))


def test_replies_point_to_earlier_mentions_by_the_author_or_a_bystander(stream):
    seen: dict[str, Mention] = {}
    replies = 0
    for x in stream:
        m = x.mention
        if m.in_reply_to:
            parent = seen.get(f"{m.channel}:{m.in_reply_to}")
            assert parent is not None, "replies point to earlier mentions on the same channel"
            assert m.kind in ("reply", "dm") and m.thread_id
            assert parent.created_at < m.created_at
            if x.family == "follow_up":
                assert m.author == parent.author
            else:
                assert x.family == "bystander"
            replies += 1
        seen.setdefault(m.key, m)
    assert replies > 200
    follow_ups = [x.mention for x in stream if x.family == "follow_up" and x.mention.in_reply_to]
    gaps = [(m.created_at - seen[f"{m.channel}:{m.in_reply_to}"].created_at).total_seconds()
            for m in follow_ups]
    assert min(gaps) >= 60 and sorted(gaps)[len(gaps) // 2] < 3600  # minutes later
    assert any("any update??" in m.text.lower() for m in follow_ups)


def test_every_situation_persona_channel_and_kind_is_present(stream):
    situations = Counter(x.situation for x in stream)
    for s in ("complaint", "question", "praise", "feedback", "lead", "spam", "off_topic",
              "venting", "crisis", "legal", "misinformation"):
        assert situations[s] >= 20, s
    assert situations.most_common(1)[0][0] == "complaint"
    personas = Counter(x.persona for x in stream)
    for p in ("customer", "influencer", "journalist", "employee", "troll", "bot", "competitor",
              "partner"):
        assert personas[p] >= 10, p
    channels = Counter(x.mention.channel for x in stream)
    assert channels.most_common(1)[0][0] == "twitter"
    assert set(channels) <= set(CHANNELS)
    assert set(channels) >= {"twitter", "facebook", "instagram", "reviews", "forum"}
    kinds = Counter(x.mention.kind for x in stream)
    assert set(kinds) == set(KINDS) and 0 < kinds["dm"] < 0.06 * len(stream)


def test_personas_look_like_themselves(stream):
    by_handle = {x.mention.author.handle: x.mention.author for x in stream}
    dana = by_handle["dana_ledger"]
    assert dana.bio == "Tech reporter at The Daily Ledger" and dana.verified
    assert by_handle["orbit_raj_eng"].bio == "Proud Orbit engineer"
    assert any(a.followers >= 50_000 for h, a in by_handle.items() if h in ("techwithtara",
                                                                          "gadget_gus"))
    customers = [x.mention.author for x in stream if x.persona == "customer"]
    assert len({a.handle for a in customers}) > 1500
    assert sorted(a.followers for a in customers)[len(customers) // 2] < 500
    trolls = [x for x in stream if x.persona == "troll"]
    assert len(trolls) >= 20 and {x.mention.author.handle for x in trolls} == {"h8r_9000"}
    assert all(x.mention.author.handle in {"promo_bot_4471", "crypto_kings_88",
                                           "follow4follow_xx", "gift_claims_uk"}
               for x in stream if x.persona == "bot")
    assert Counter(a.handle for a in customers).most_common(1)[0][1] >= 5  # regulars return


def test_personas_are_in_the_workspace_vocabulary(stream):
    raw = yaml.safe_load(files("escapevelocity.demo").joinpath("vocabulary.yaml").read_text())
    vocab = Vocabulary.from_dict(raw)
    lists = {"journalist": vocab.journalists, "employee": vocab.employees,
             "troll": vocab.trolls, "bot": vocab.bots, "competitor": vocab.competitors,
             "partner": vocab.partners}
    for x in stream:
        if x.persona in lists:
            assert x.mention.author.handle in lists[x.persona], x.mention.author.handle
    assert vocab.customers & {x.mention.author.handle for x in stream}  # known customers post
    assert "orbit one" in vocab.products["orbit_one"]


def test_text_variety_pii_languages_and_hostile_payloads(stream):
    ms = [x.mention for x in stream]
    texts = " ".join(m.text for m in ms)
    for needle in ("charged twice", "still waiting for my refund", "caught fire", "lawyer",
                   "regulator", "family plan", "selling your", "follow back", "http", "#",
                   "!!!", "<script>", "onerror=alert(1)", "<svg onload=alert(1)>", "@Orbit"):
        assert needle in texts, needle
    assert any(m.text.isupper() and len(m.text) > 20 for m in ms)
    assert any(ord(c) > 0x1F000 for c in texts)  # emoji
    for card in ("4111 1111 1111 1111", "5555-5555-5555-4444"):
        assert card in texts
    assert "@example." in texts and ("07700 900123" in texts or "+44 7700 900456" in texts)
    assert "ACC-4471-2290" in texts or "acc no 40218877" in texts
    names = {m.author.name for m in ms}
    for payload in ("<script>", "onerror=", "<svg onload"):
        assert any(payload in n for n in names), payload
    langs = {x.mention.lang for x in stream if x.family == "foreign"}
    assert {"es", "de", "fr"} <= langs
    assert len({m.text for m in ms}) > 0.5 * len(ms)


def test_template_card_numbers_pass_luhn():
    raw = yaml.safe_load(files("escapevelocity.demo").joinpath("templates.yaml").read_text())
    assert raw["slots"]["card"] and all(_luhn(c) for c in raw["slots"]["card"])


def test_generates_20k_quickly():
    started = time.perf_counter()
    assert sum(1 for _ in generate(20_000, start=START)) == 20_000
    assert time.perf_counter() - started < 10


def test_files_round_trip_through_the_edge_parser(tmp_path):
    ms = list(generate(800, seed=9, start=START, duplicates=False))
    assert write_jsonl(ms, tmp_path / "m.jsonl") == 800
    assert write_csv(ms, tmp_path / "m.csv") == 800
    lines = (tmp_path / "m.jsonl").read_bytes().splitlines()
    assert [msgspec.json.decode(line, type=Mention) for line in lines] == ms
    assert b'"created_at":"2026-11-20T08:' in lines[0]
    from_jsonl = list(read_file(tmp_path / "m.jsonl"))
    from_csv = list(read_file(tmp_path / "m.csv"))
    assert not [p for p in from_jsonl + from_csv if isinstance(p, Problem)]
    assert from_jsonl == ms
    assert [m.key for m in from_csv] == [m.key for m in ms]
    assert [m.text for m in from_csv] == [m.text for m in ms]
    assert [m.in_reply_to for m in from_csv] == [m.in_reply_to for m in ms]
