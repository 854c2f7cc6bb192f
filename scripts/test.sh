#!/usr/bin/env bash
# The test command (README): installs what it needs, then lints and runs every test, the lab and VM
# tiers included. Set SITEKIT_FAST=1 to skip the VM tier (tests marked `vm`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
# Secrets and lab state of a test run live outside the tree, in a fresh folder per run.
export SITEKIT_STATE="${SITEKIT_STATE:-$(mktemp -d /tmp/sitekit-test-state.XXXXXX)}"
echo "== lint: ruff, mypy (strict for sitekit/)"
ruff check sitekit stacks policies tests benchmarks
mypy
if [ -d playbooks/roles ] && ls playbooks/*.yml >/dev/null 2>&1; then
  echo "== lint: ansible-lint"
  ansible-lint -q playbooks/
fi
echo "== render is up to date with the spec"
sitekit render --check
marker=()
if [ "${SITEKIT_FAST:-0}" = "1" ]; then marker=(-m "not vm"); fi
echo "== pytest"
pytest "${marker[@]}" "$@"
