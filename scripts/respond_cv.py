"""Leave-one-set-out check of the brand relevance rules and the default playbook's
"about the brand" rule, on the "needs a response" sets of scripts/build_respond_eval.py.

For each held-out set H: each rule is kept only if, on the OTHER sets, leaving it out loses
something (the mean of their scores drops) and keeping it costs no other set more than half a
point; then H is scored with the rules chosen without it, next to all rules and none. A rule
that only fits the set it was made for is dropped when that set is held out, and the held-out
figure shows what that costs. Scores: recall of respond (twcs, airline, complaints), recall of
ignore (youtube spam).

    python scripts/respond_cv.py [--sets var/eval]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from escapevelocity.domain.brand import parse_yaml
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.playbook import compile_playbook
from escapevelocity.domain.playbook.load import default_playbook_path
from escapevelocity.domain.relevance import RULES
from escapevelocity.evaluation.respond import evaluate

SETS = {"twcs_inbound": "respond", "airline_negative": "respond", "complaints": "respond",
        "youtube_spam": "ignore"}
PLAYBOOK_RULE = "about-brand"  # the default playbook's rule: "other" goes to support
ALL = frozenset({*RULES, PLAYBOOK_RULE})


def _playbooks():
    data = yaml.safe_load(Path(default_playbook_path()).read_text())
    without = dict(data, rules=[r for r in data["rules"] if r["id"] != PLAYBOOK_RULE])
    return compile_playbook(data), compile_playbook(without)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", type=Path, default=Path("var/eval"))
    args = parser.parse_args(argv)
    missing = [s for s in SETS if not (args.sets / f"{s}.jsonl").is_file()]
    if missing:
        print(f"missing {', '.join(missing)} in {args.sets}: run scripts/build_respond_eval.py",
              file=sys.stderr)
        return 1
    data = {s: ([json.loads(line) for line in
                 (args.sets / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()],
                parse_yaml((args.sets / f"{s}.brand.yaml").read_text())) for s in SETS}
    with_rule, without_rule = _playbooks()
    enricher = Enricher()
    memo: dict[tuple[str, frozenset[str]], float] = {}

    def score(name: str, rules: frozenset[str]) -> float:
        key = (name, rules)
        if key not in memo:
            rows, brand = data[name]
            report = evaluate(rows, brand, with_rule if PLAYBOOK_RULE in rules else without_rule,
                              rules=frozenset(rules & RULES), passes=1, enricher=enricher)
            memo[key] = report["recall"][SETS[name]]
        return memo[key]

    print("held out         | rules chosen on the other sets             | chosen | all   | none")
    for held in SETS:
        train = [s for s in SETS if s != held]
        chosen = set()
        for rule in sorted(ALL):
            gains = [score(s, ALL) - score(s, ALL - {rule}) for s in train]
            if sum(gains) / len(gains) > 0 and min(gains) > -0.005:
                chosen.add(rule)
        picked = frozenset(chosen)
        print(f"{held:16} | {', '.join(sorted(picked)) or '-':42} | "
              f"{score(held, picked):.3f}  | {score(held, ALL):.3f} | "
              f"{score(held, frozenset()):.3f}")
    print("\nwhat each rule is worth per set (all rules minus all-but-this-rule):")
    for rule in sorted(ALL):
        print(f"  {rule:22}" + "  ".join(f"{s}: {score(s, ALL) - score(s, ALL - {rule}):+.3f}"
                                        for s in SETS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
