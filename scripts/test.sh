#!/usr/bin/env bash
# Sets everything up (Python venv, Mosquitto, Chromium, ...) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
