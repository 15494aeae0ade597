#!/usr/bin/env bash
# Set up if needed, then run the whole test suite (and a lint) the way CI does: the fast tier
# first (unit and in-process tests, `pytest -m "not slow"`, a few minutes), then the slow tier
# (real processes, Rasa, chromium: `pytest -m slow`). Arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
# Known vulnerabilities in either lock file (requirements/audit-known.yml lists accepted ones).
# Offline (CI here) nothing can be looked up: the audit says so plainly and does not fail.
.venv/bin/python scripts/dependency_audit.py --allow-offline
start=$(date +%s)
# Two workers (pytest-xdist), one file each at a time: each worker has its own PostgreSQL
# database, temporary directories and ports (tests/conftest.py). The slow tier too: its tests
# mostly wait on processes they started (Rasa loading, a conversation, a browser), so two files
# at once took 13-17 minutes on a clean clone where one at a time took 32 (2 cores; benchmarks/README.md,
# "Test tiers and set-up").
.venv/bin/python -m pytest -m "not slow" -n 2 --dist loadfile "$@"
echo "tests: fast tier took $(( $(date +%s) - start )) s"
start=$(date +%s)
.venv/bin/python -m pytest -m slow -n 2 --dist loadfile --no-loadscope-reorder "$@"  # longest files first (conftest)
echo "tests: slow tier took $(( $(date +%s) - start )) s"
