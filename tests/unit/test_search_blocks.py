"""The id-range tsquery of PostgreSQL search (adapters/store/search.py `_blocks`): exactly the
blocks asked for, as few lexemes as whole groups allow."""

from __future__ import annotations

import random

from escapevelocity.adapters.store.search import GROUP_BITS, _blocks


def _expand(query: str) -> list[int]:
    out = []
    for term in query.split(" | "):
        kind, n = term.strip("'").split(" ")
        out += [int(n)] if kind == "b" else list(range(int(n) << GROUP_BITS,
                                                         (int(n) + 1) << GROUP_BITS))
    return out


def test_a_range_of_blocks_is_exactly_its_blocks_in_few_lexemes():
    rng = random.Random(12)
    group = 1 << GROUP_BITS
    for lo, hi in [(0, 0), (0, 15), (3, 17), (16, 31), (5, 244), *[
            sorted((rng.randrange(400), rng.randrange(400))) for _ in range(300)]]:
        query = _blocks(lo, hi)
        assert sorted(_expand(query)) == list(range(lo, hi + 1)), (lo, hi)
        assert query.count("|") + 1 <= 2 * (group - 1) + (hi - lo + 1) // group + 1
