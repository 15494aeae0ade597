#!/usr/bin/env bash
# Set up if needed, then run the whole test suite (and a lint) the way CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
