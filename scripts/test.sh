#!/usr/bin/env bash
# Sets everything up (Python venv, Mosquitto, Chromium, ...), type-checks edge/ and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# Type checking (settings in pyproject.toml, [tool.mypy]): a finding fails the run as a
# failing test does; the tests still run, so one run shows both. No cache is written into
# the tree. KEZEK_SKIP_MYPY=1 skips it while iterating on one test module.
mypy_rc=0
if [ "${KEZEK_SKIP_MYPY:-0}" != 1 ]; then
  echo "mypy: type-checking edge/"
  .venv/bin/python -m mypy --cache-dir=/dev/null || mypy_rc=$?
fi
# On every core (pytest-xdist), each worker taking the next test when it is free: most
# tests wait on processes, brokers and browsers. `-n 0` after it runs in one process.
pytest_rc=0
.venv/bin/python -m pytest -q -p no:cacheprovider -n auto --dist worksteal "$@" || pytest_rc=$?
if [ "$mypy_rc" != 0 ]; then
  echo "mypy found type errors in edge/ (listed above the tests); fix them, see pyproject.toml [tool.mypy]" >&2
  [ "$pytest_rc" != 0 ] || exit "$mypy_rc"
fi
exit "$pytest_rc"
