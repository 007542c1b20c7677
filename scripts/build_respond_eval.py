"""Build the "needs a response" evaluation sets from ../shared/data, at run time, into var/eval/.

Nothing here is committed data: the shared sets are evaluation material (some are
non-commercial or have no stated licence), so they are read where they are and the derived
files go to var/eval/ (ignored by git). Each set gets a JSONL file (`id`, `text`, `label`:
respond | ignore) and a brand profile YAML naming the handles the posts were addressed to,
which is what a real workspace knows about itself.

    python scripts/build_respond_eval.py [--data ../shared/data] [--out var/eval]

Sets (what a care team must answer, and what it must not):
- twcs_inbound: every inbound customer tweet of "Customer Support on Twitter" -> respond; the
  brand handles are the 76 accounts that reply in the sample.
- airline_negative: negative tweets addressed to six US airlines -> respond.
- complaints: the complaints (Preotiuc-Pietro et al.) -> respond; the handles are the accounts
  the complaints address (the @ at the start).
- youtube_spam: the spam comments -> ignore (a brand's own channel comments).
- tweeteval_sentiment_a / _b: TweetEval sentiment validation split in two halves by id hash
  (tune on one, measure on the other; see docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

_LEAD_HANDLES = re.compile(r"^\W*((?:@\w+\W*)+)")
_HANDLE = re.compile(r"@(\w+)")


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _lead_handles(text: str) -> list[str]:
    """The handles a tweet starts with ("@FC_Help hi", ".@nvidiacc @NVIDIAQuadro …")."""
    m = _LEAD_HANDLES.match(text or "")
    return _HANDLE.findall(m.group(1)) if m else []


def _write(out: Path, name: str, rows: list[dict], brand: dict) -> str:
    path = out / f"{name}.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out / f"{name}.brand.yaml").write_text(_yaml(brand), encoding="utf-8")
    return f"{name}: {len(rows):,} rows, {len(brand.get('handles', [])):,} handles"


def _yaml(brand: dict) -> str:
    lines = [f"name: {json.dumps(brand['name'])}"]
    for key in ("names", "handles", "products"):
        if brand.get(key):
            lines.append(f"{key}:")
            lines += [f"  - {json.dumps(v)}" for v in brand[key]]
    return "\n".join(lines) + "\n"


_SUFFIX = re.compile(r"(?i)_?(help|support|care|cares|service|cs|uk|us|team|_)+$")


def _names(handles: list[str]) -> list[str]:
    """The names a workspace would list for these handles: AmazonHelp -> Amazon,
    sprintcare -> sprint (a real profile is typed by the brand; this is the closest
    mechanical guess, and only names of four or more letters)."""
    out = {_SUFFIX.sub("", h) for h in handles}
    return sorted(n for n in out if len(n) >= 4 and n.isalpha())


def twcs(data: Path) -> tuple[list[dict], dict]:
    rows = _rows(data / "twcs_sample" / "twcs_sample.jsonl")
    brands = sorted({r["author_id"] for r in rows if not r["inbound"]})
    author = {r["tweet_id"]: r["author_id"] for r in rows}
    out = []
    for r in rows:
        if not r["inbound"]:
            continue
        row = {"id": r["tweet_id"], "text": r["text"], "label": "respond"}
        replied_to = author.get(r.get("in_response_to_tweet_id") or "")
        if replied_to in brands:  # a reply to one of the brand's tweets
            row["to"] = f"@{replied_to}"
        out.append(row)
    return out, {"name": "twcs brands", "names": _names(brands),
                 "handles": [f"@{b}" for b in brands]}


def airline(data: Path) -> tuple[list[dict], dict]:
    rows = _rows(data / "airline_sentiment" / "dev.jsonl")
    out = [{"id": r["id"], "text": r["text"], "label": "respond"}
           for r in rows if r["label"] == "negative"]
    # the airlines' own accounts: the handles most of these tweets start with (a few tweets
    # start with a person's handle instead)
    counts = Counter(h.lower() for r in out for h in _lead_handles(r["text"])[:1])
    handles = sorted(h for h, n in counts.items() if n >= 20)
    airlines = sorted({r["airline"] for r in rows if r.get("airline")})
    return out, {"name": "airlines", "handles": [f"@{h}" for h in handles],
                 "products": airlines}


def complaints(data: Path) -> tuple[list[dict], dict]:
    rows = _rows(data / "complaints" / "dev.jsonl")
    out = [{"id": r["id"], "text": r["text"], "label": "respond"}
           for r in rows if r["label"] == "complaint"]
    handles = sorted({h for r in out for h in _lead_handles(r["text"])[:1]})
    return out, {"name": "complained-to companies", "names": _names(handles),
                 "handles": [f"@{h}" for h in handles]}


def youtube(data: Path) -> tuple[list[dict], dict]:
    rows = _rows(data / "youtube_spam" / "dev.jsonl")
    out = [{"id": r["id"], "text": r["text"], "label": "ignore"}
           for r in rows if r["label"] == "spam"]
    return out, {"name": "a music channel", "handles": ["@channel"]}


def tweeteval_halves(data: Path) -> tuple[list[dict], list[dict]]:
    rows = _rows(data / "tweeteval" / "sentiment_val.jsonl")
    a, b = [], []
    for i, r in enumerate(rows):
        key = str(r.get("id", i))
        (a if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else b).append(r)
    return a, b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("var/eval"))
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"no evaluation data at {args.data}: nothing built", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, build in (("twcs_inbound", twcs), ("airline_negative", airline),
                        ("complaints", complaints), ("youtube_spam", youtube)):
        rows, brand = build(args.data)
        print(_write(args.out, name, rows, brand))
    if (args.data / "tweeteval" / "sentiment_val.jsonl").is_file():
        for name, rows in zip(("tweeteval_sentiment_a", "tweeteval_sentiment_b"),
                              tweeteval_halves(args.data), strict=True):
            with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            print(f"{name}: {len(rows):,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
