#!/usr/bin/env bash
# Sets everything up (Python venv, Mosquitto, Chromium, ...) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# On every core (pytest-xdist), each worker taking the next test when it is free: most
# tests wait on processes, brokers and browsers. `-n 0` after it runs in one process.
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n auto --dist worksteal "$@"
