#!/usr/bin/env bash
# Set up if needed, then run the whole test suite (and a lint) the way CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
# Known vulnerabilities in either lock file (requirements/audit-known.yml lists accepted ones).
.venv/bin/python scripts/dependency_audit.py
exec .venv/bin/python -m pytest "$@"
