#!/usr/bin/env bash
# Set up if needed, then run the assistant (Rasa, action server, gateway) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m bot run
