#!/usr/bin/env bash
# A base install (no extras) must set up, ingest, triage and serve: the product's promise is
# that numpy, scikit-learn and the MiniLM stack are optional. The test suite runs with every
# extra installed, so only a fresh venv can catch an import of an extra on a base path.
#
# Builds a wheel of this checkout (kept in a cache keyed by a hash of the sources, so an
# unchanged tree does not compile the Cython hot path again), installs it with NO extras in a
# fresh venv (its dependencies hard-linked from a template venv kept in the same cache, keyed
# by the dependency list), checks numpy is absent, then runs `ev workspace init`, `ev ingest`,
# `ev triage` and `ev serve` on 127.0.0.1 (GET /healthz and /login), and stops the server.
# `make test` (hence CI) runs it. Usage: scripts/smoke_base_install.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${1:-${PY:-python3}}
started=$(date +%s)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ev-smoke.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "smoke (base install): FAIL: $*" >&2; exit 1; }
lap=$started
phases=
phase() { local now; now=$(date +%s); phases="$phases${phases:+ }$1 $((now - lap))s,"; lap=$now; }

# 1. A wheel of the checkout. Build outputs (the generated C, the compiled module, caches)
# are left out of the key: they are made from the sources that are in it.
key=$(find pyproject.toml setup.py README.md LICENSE src -type f \
        ! -name '*.so' ! -name '*.c' ! -name '*.pyc' ! -path '*.egg-info/*' -print0 \
      | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-16)
CACHE=${EV_SMOKE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/escapevelocity-smoke}
WHEELS=$CACHE/$key
if ! ls "$WHEELS"/escapevelocity-*.whl >/dev/null 2>&1; then
  # Other checkouts on the machine share the cache: build aside, move in whole, and prune
  # only what nobody has used for two days.
  mkdir -p "$CACHE" "$WORK/wheel"
  find "$CACHE" -mindepth 1 -maxdepth 1 -mtime +2 -exec rm -rf {} + 2>/dev/null || true
  # -O0: this checks that a base install runs, not how fast (make bench does); the 40,000
  # lines of C from hotpath.pyx compile several times faster unoptimised.
  CFLAGS="${CFLAGS:-} -O0" "$PY" -m pip wheel -q --no-deps -w "$WORK/wheel" . \
    >"$WORK/wheel.log" 2>&1 \
    || { cat "$WORK/wheel.log" >&2; fail "building the wheel"; }
  mv "$WORK/wheel" "$WHEELS" 2>/dev/null || true  # another run may have put it there first
fi
touch "$WHEELS"
phase wheel

# 2. A fresh venv with the wheel and its required dependencies only.
# The dependencies come from a template venv kept in the cache, made by pip from the
# Requires-Dist lines of this wheel that no extra asks for: installing them each time was
# ~15 CPU-s and ~20-30 s here, most of it pip resolving ~45 packages against the package
# index, the rest unpacking them. The template is keyed by those lines and the Python, so a
# changed dependency list makes a new one; and whatever the key, the wheel is then installed
# with --no-index: pip checks each declared dependency against what the venv holds and fails on
# any one missing, so a stale template cannot hide one. It is never touched on use, so the
# prune below makes it anew from the index at least every three days: the smoke runs on
# current releases of the dependencies.
WHEEL=$(ls "$WHEELS"/escapevelocity-*.whl)
"$PY" - "$WHEEL" >"$WORK/requirements.txt" <<'EOF'
import re, sys, zipfile
from email.parser import Parser

with zipfile.ZipFile(sys.argv[1]) as wheel:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = Parser().parsestr(wheel.read(name).decode())
for requirement in metadata.get_all("Requires-Dist") or ():
    if not re.search(r"\bextra\s*==", requirement):
        print(requirement)
EOF
deps_key=$({ cat "$WORK/requirements.txt"; "$PY" -c 'import sys; print(sys.version, sys.platform)'; } \
           | sha1sum | cut -c1-16)
TEMPLATE=$CACHE/venv-$deps_key
# No pip inside a venv (this pip installs into it) and no byte-compiling of every installed
# module (the commands compile what they import): most of an install's time, none of what is
# tested.
if [ ! -x "$TEMPLATE/bin/python" ]; then
  mkdir -p "$CACHE"
  find "$CACHE" -mindepth 1 -maxdepth 1 -mtime +2 -exec rm -rf {} + 2>/dev/null || true
  "$PY" -m venv --without-pip "$WORK/template"
  "$PY" -m pip --python "$WORK/template/bin/python" install -q --no-compile \
    -r "$WORK/requirements.txt" >"$WORK/pip-deps.log" 2>&1 \
    || { grep -v '^WARNING: Location' "$WORK/pip-deps.log" >&2; fail "pip install (dependencies)"; }
  mv -T "$WORK/template" "$TEMPLATE" 2>/dev/null || true  # another run may have put it there first
fi
# Hard links: the template's 80 MB copied in 0.1 s. Nothing writes through a link into the
# template: pip adds the project's files (and unlinks any file before writing it), Python writes
# new .pyc files into the copy's own directories.
cp -al "$TEMPLATE" "$WORK/venv" 2>/dev/null || { rm -rf "$WORK/venv"; cp -a "$TEMPLATE" "$WORK/venv"; }
V=$WORK/venv/bin
"$PY" -m pip --python "$V/python" install -q --no-compile --no-index "$WHEEL" \
  >"$WORK/pip.log" 2>&1 \
  || { grep -v '^WARNING: Location' "$WORK/pip.log" >&2; fail "pip install (no extras)"; }
if "$V/python" -c 'import numpy' 2>/dev/null; then
  fail "numpy is importable in the base venv: the smoke would prove nothing"
fi
"$V/python" -c '
from escapevelocity.domain.enrich import Enricher
e = Enricher()
assert e.tone is not None, "the sentiment model (tone_model.json.gz) is not in the wheel"
assert e.compiled and type(e.read_tone.__self__).__name__ == "Weights", "not the compiled reading"
' || fail "the shipped sentiment model does not load, compiled, in the base install"
phase venv+install

# 3. The commands, from a directory of their own (var/ holds the secret key). Each command
# may cache the bytecode it compiles (where the environment forbids it, every command compiled
# every module it imports again: ~3 s of each `ev serve` start here).
cd "$WORK"
unset PYTHONDONTWRITEBYTECODE
export EV_DATABASE_URL="sqlite:///$WORK/ev.db" EV_VAR_DIR="$WORK/var"
cat >mentions.jsonl <<'EOF'
{"source_id": "s1", "channel": "twitter", "text": "@brand my order never arrived and nobody answers", "author": "casey", "created_at": "2026-11-20T13:00:00Z"}
{"source_id": "s2", "channel": "twitter", "text": "love the new app, thanks team!", "author": "robin", "created_at": "2026-11-20T13:01:00Z"}
{"source_id": "s3", "channel": "facebook", "text": "Refund still missing after 3 weeks. Third time asking.", "author": "sam", "created_at": "2026-11-20T13:02:00Z"}
EOF
"$V/ev" workspace init --password smoke-base-install >init.log 2>&1 \
  || { cat init.log >&2; fail "ev workspace init"; }
"$V/ev" ingest mentions.jsonl >ingest.log 2>&1 || { cat ingest.log >&2; fail "ev ingest"; }
grep -q "accepted 3," ingest.log || { cat ingest.log >&2; fail "ev ingest did not accept 3"; }
"$V/ev" triage mentions.jsonl >triage.log 2>&1 || { cat triage.log >&2; fail "ev triage"; }
[ "$(grep -c '^{' triage.log)" = 3 ] || { cat triage.log >&2; fail "ev triage: not 3 decisions"; }
phase init+ingest+triage

PORT=$("$V/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$V/ev" serve --host 127.0.0.1 --port "$PORT" >serve.log 2>&1 &
SERVER_PID=$!
"$V/python" - "$PORT" <<'EOF' || { cat serve.log >&2; fail "ev serve"; }
import sys, time, urllib.request

base = f"http://127.0.0.1:{sys.argv[1]}"
deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
            health = r.read().decode()
        break
    except OSError:
        if time.monotonic() > deadline:
            raise SystemExit("ev serve: /healthz did not answer in 30 s")
        time.sleep(0.2)
assert '"ok"' in health, health
with urllib.request.urlopen(base + "/login", timeout=10) as r:
    page = r.read().decode()
    assert r.status == 200 and 'name="password"' in page, page[:300]
EOF
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
phase serve
echo "smoke (base install): ok in $(( $(date +%s) - started )) s (${phases%,}): init, ingest," \
     "triage, serve (/healthz, /login), numpy absent, sentiment model compiled"
