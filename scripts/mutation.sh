#!/usr/bin/env bash
# Mutation testing of the security-critical modules (issue 15, docs/MUTATION.md): for each module in
# tests/mutation/modules.yaml (default all), mutmut mutates it in a scratch copy of the checkout (.mutation/,
# ignored by git) and runs only that module's tests, one worker; prints killed / survived / equivalent and
# the survivors. Examples: scripts/mutation.sh spec   scripts/mutation.sh policy --min-score 80
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/mutmut ] || bash scripts/bootstrap.sh
exec .venv/bin/python tests/mutation/run.py "$@"
