from collections import Counter
from datetime import UTC, datetime

import msgspec

from escapevelocity.demo.generator import generate, write_csv, write_jsonl
from escapevelocity.domain.records import Mention
from escapevelocity.services.parse import Problem, read_file

START = datetime(2026, 11, 20, 8, tzinfo=UTC)


def test_deterministic_ordered_and_threaded():
    a = list(generate(3000, seed=1, start=START))
    assert a == list(generate(3000, seed=1, start=START))
    assert a != list(generate(3000, seed=2, start=START))
    firsts = list({m.key: m for m in a}.values())  # re-deliveries keep their old times
    assert all(x.created_at <= y.created_at for x, y in zip(firsts, firsts[1:]))
    seen: set[str] = set()
    for m in a:
        if m.in_reply_to:
            assert f"{m.channel}:{m.in_reply_to}" in seen, "replies point to earlier mentions"
        seen.add(m.key)
    keys = Counter(m.key for m in a)
    assert 0 < sum(n - 1 for n in keys.values()) < 60  # a few re-deliveries, no more
    assert not any(n > 1 for n in Counter(m.key for m in generate(3000, seed=1, start=START,
                                                                   duplicates=False)).values())


def test_mix_has_every_persona_and_hostile_payloads():
    ms = list(generate(5000, seed=4, start=START))
    handles = {m.author.handle for m in ms}
    for persona in ("dana_ledger", "orbit_raj_eng", "h8r_9000", "novamobile", "promo_bot_4471"):
        assert persona in handles
    texts = " ".join(m.text for m in ms)
    for needle in ("<script>", "onerror", "4111 1111 1111 1111", "lawyer", "caught fire",
                   "family plan"):
        assert needle in texts
    assert any("<script>" in m.author.name for m in ms)
    assert {m.kind for m in ms} >= {"post", "reply", "dm", "review", "comment"}


def test_files_round_trip_through_the_edge_parser(tmp_path):
    ms = list(generate(500, seed=9, start=START, duplicates=False))
    write_jsonl(ms, tmp_path / "m.jsonl")
    write_csv(ms, tmp_path / "m.csv")
    from_jsonl = list(read_file(tmp_path / "m.jsonl"))
    from_csv = list(read_file(tmp_path / "m.csv"))
    assert not [p for p in from_jsonl + from_csv if isinstance(p, Problem)]
    assert from_jsonl == ms
    assert [m.key for m in from_csv] == [m.key for m in ms]
    assert [m.text for m in from_csv] == [m.text for m in ms]
    raw = (tmp_path / "m.jsonl").read_bytes().splitlines()[0]
    assert msgspec.json.decode(raw, type=Mention) == ms[0]
