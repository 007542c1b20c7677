"""Same decisions before and after a change: record what a checkout decides for every mention
of every text file under a data folder, then compare two recordings.

    python scripts/compare_decisions.py record CHECKOUT OUT.jsonl [--data ../shared/data]
    python scripts/compare_decisions.py compare BEFORE.jsonl AFTER.jsonl

`record` runs CHECKOUT's own code (its `src` first on the path, in a fresh interpreter: the
checkout's compiled hot path too, when it is built in place or installed there) through the
loop of its own `ev triage` (cli/triage.py: `build_triager`, `decision_record`, with the
shipped playbook, the demo organisation and the demo vocabulary), and writes one line per
mention: the `ev triage` record (signals, track, respond, team, assignee, priority, SLA, the
deciding rule, the explanations) plus every field of the full Signals (severity, keywords,
confidence, because), which `ev triage` does not print.

The data files are not in the wire format (`ev triage` cannot read a twcs row or a labelled
row), so each row with a `text` is converted first, the same way for both checkouts: its id
(or its line), its author when the row names one, its time when the row has one in ISO form,
else a time that walks through the fortnight so routing sees every hour. CSV files without a
text column (the crisis volume series) are listed and skipped. See docs/signals.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_TIME = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
STEP = timedelta(minutes=7)  # rows without a time: 2,880 rows walk a fortnight
FIELDS = ("signals", "full_signals", "track", "respond", "reason", "channel", "team",
          "assignee", "priority", "sla_minutes", "rule", "explanation", "routing")


def _time(value: object, line: int) -> str:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()
    return (BASE_TIME + (line % 2880) * STEP).isoformat()


def wire_rows(path: Path) -> Iterator[dict]:
    """The rows of a data file with a text, in the wire format (services/parse.py)."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            rows = list(csv.DictReader(fh))
    else:
        with path.open(encoding="utf-8", errors="replace") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    for line, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            continue
        ident = row.get("id") or row.get("tweet_id") or line
        author = row.get("author_id") or row.get("author") or "someone"
        yield {"source_id": f"{path.stem}-{line}-{ident}"[:200], "channel": "twitter",
               "text": row["text"], "author": str(author)[:200] or "someone",
               "created_at": _time(row.get("created_at") or row.get("created"), line)}


def data_files(data: Path) -> list[Path]:
    return sorted(p for p in data.rglob("*") if p.suffix in (".jsonl", ".csv") and p.is_file())


def record_here(data: Path, out: Path) -> None:
    """Runs inside the checkout's interpreter (see `record`): its own triage loop."""
    import msgspec

    from escapevelocity.cli.triage import build_triager, decision_record
    from escapevelocity.domain.routing import RoutingState
    from escapevelocity.services.parse import from_object

    triager = build_triager(None, None, None)
    encode = msgspec.json.Encoder().encode
    to_builtins = msgspec.to_builtins
    with out.open("wb") as fh:
        for path in data_files(data):
            state = RoutingState(presence={m.id: "online" for m in triager.org.members})
            name = str(path.relative_to(data))
            rows = skipped = 0
            for row in wire_rows(path):
                try:
                    mention = from_object(row)
                except (msgspec.ValidationError, ValueError, TypeError):
                    skipped += 1
                    continue
                t = triager.triage(mention, state, mention.created_at)
                record = decision_record(t)
                record["full_signals"] = to_builtins(t.signals)
                record["file"] = name
                fh.write(encode(record) + b"\n")
                rows += 1
            print(f"{name}: {rows} mentions" + (f", {skipped} rejected at the edge"
                                                 if skipped else ""), file=sys.stderr)


def record(checkout: Path, out: Path, data: Path) -> None:
    """Record CHECKOUT's decisions in a fresh interpreter with CHECKOUT/src first on the path."""
    src = (checkout / "src").resolve()
    env = dict(os.environ, PYTHONPATH=str(src), EV_RECORD_SRC=str(src))
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "_record", str(data.resolve()),
                    str(out.resolve())], env=env, check=True)


def _load(path: Path) -> dict[tuple[str, str], dict]:
    got = {}
    with path.open("rb") as fh:
        for line in fh:
            r = json.loads(line)
            got[(r["file"], r["mention"])] = r
    return got


def compare(before: Path, after: Path, examples: int = 10) -> int:
    a, b = _load(before), _load(after)
    only_a, only_b = a.keys() - b.keys(), b.keys() - a.keys()
    differing: dict[str, int] = {}
    shown = 0
    for key in sorted(a.keys() & b.keys()):
        ra, rb = a[key], b[key]
        fields = [f for f in FIELDS if ra.get(f) != rb.get(f)]
        if not fields:
            continue
        differing[key[0]] = differing.get(key[0], 0) + 1
        if shown < examples:
            shown += 1
            print(f"DIFF {key[0]} {key[1]}:")
            for f in fields:
                va, vb = ra.get(f), rb.get(f)
                if isinstance(va, dict) and isinstance(vb, dict):  # only the keys that differ
                    keys = [k for k in {**va, **vb} if va.get(k) != vb.get(k)]
                    va, vb = {k: va.get(k) for k in keys}, {k: vb.get(k) for k in keys}
                print(f"  {f}: {json.dumps(va)[:300]}\n  {'':{len(f)}}  {json.dumps(vb)[:300]}")
    compared = len(a.keys() & b.keys())
    files = sorted({k[0] for k in a.keys() | b.keys()})
    print(f"{len(files)} files, {compared} mentions compared, "
          f"{sum(differing.values())} differing, {len(only_a)} only before, "
          f"{len(only_b)} only after")
    for name, n in sorted(differing.items()):
        print(f"  {name}: {n} differing")
    return 0 if not differing and not only_a and not only_b else 1


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_record":
        import escapevelocity

        src = os.environ.get("EV_RECORD_SRC")
        if src and not Path(escapevelocity.__file__).resolve().is_relative_to(src):
            sys.exit(f"imported {escapevelocity.__file__}, not the checkout's {src}")
        try:
            from escapevelocity.domain import hotpath
            print(f"compiled hot path: {hotpath.__file__}", file=sys.stderr)
        except ImportError:
            print("no compiled hot path: the Python rules", file=sys.stderr)
        try:  # checkouts since the rules are compiled too (domain/compiled.py)
            from escapevelocity.domain import compiled, enrich  # noqa: F401
            print(f"rules: {compiled.running()}", file=sys.stderr)
        except ImportError:
            pass
        record_here(Path(sys.argv[2]), Path(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record a checkout's decisions")
    rec.add_argument("checkout", type=Path)
    rec.add_argument("out", type=Path)
    rec.add_argument("--data", type=Path, default=Path("../shared/data"))
    cmp_ = sub.add_parser("compare", help="compare two recordings")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    cmp_.add_argument("--examples", type=int, default=10)
    args = parser.parse_args()
    if args.command == "record":
        if not args.data.is_dir():
            sys.exit(f"no data folder at {args.data}")
        record(args.checkout, args.out, args.data)
        return 0
    return compare(args.before, args.after, args.examples)


if __name__ == "__main__":
    sys.exit(main())
