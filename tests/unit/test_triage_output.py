"""`ev triage` output: the buffered writer gives exactly one JSON line per good mention."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import msgspec

from escapevelocity.cli.triage import build_triager, decision_record, write_decisions
from escapevelocity.demo.generator import generate
from escapevelocity.domain.routing import RoutingState
from escapevelocity.services.parse import Problem, parse_jsonl


def _lines(n: int) -> list[bytes]:
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    return [msgspec.json.encode(m) + b"\n" for m in generate(n, seed=4, start=start)]


def test_buffered_output_equals_one_encoded_record_per_mention():
    triager = build_triager(None, None, None)
    lines = _lines(400)
    out = io.BytesIO()
    assert write_decisions(parse_jsonl(lines), triager, out) == 400
    state = RoutingState(presence={m.id: "online" for m in triager.org.members})
    expected = b"".join(
        msgspec.json.encode(decision_record(triager.triage(m, state, m.created_at))) + b"\n"
        for m in parse_jsonl(lines))
    assert out.getvalue() == expected
    first = json.loads(out.getvalue().splitlines()[0])
    assert {"mention", "signals", "track", "team", "rule", "explanation"} <= first.keys()
    assert isinstance(first["signals"]["situations"], list)


def test_problems_are_reported_and_good_lines_still_triaged():
    triager = build_triager(None, None, None)
    lines = _lines(3)
    lines.insert(1, b"not json\n")
    problems: list[Problem] = []
    out = io.BytesIO()
    assert write_decisions(parse_jsonl(lines), triager, out, problems.append) == 3
    assert [p.line for p in problems] == [2]
    assert len(out.getvalue().splitlines()) == 3


def test_summary_mode_tallies_instead_of_writing():
    triager = build_triager(None, None, None)
    records: list[dict] = []
    out = io.BytesIO()
    assert write_decisions(parse_jsonl(_lines(50)), triager, out, on_record=records.append) == 50
    assert out.getvalue() == b"" and len(records) == 50
