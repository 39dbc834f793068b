#!/usr/bin/env bash
# Sets everything up and starts the demo center: simulated hardware, no broker needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/kezek demo "$@"
