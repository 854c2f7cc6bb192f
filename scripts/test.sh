#!/usr/bin/env bash
# The test command (README): installs what it needs, then lints and runs every test, the lab and VM
# tiers included. Set SITEKIT_FAST=1 to skip the VM tier (tests marked `vm`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
# Secrets and lab state of a test run live outside the tree, in a fresh folder per run, removed when the
# run ends; kept only when the run failed and SITEKIT_KEEP_STATE=1 asks for it (to look at the evidence).
# A SITEKIT_STATE given from outside is the caller's and never removed.
made_state=""
if [ -z "${SITEKIT_STATE:-}" ]; then
  SITEKIT_STATE="$(mktemp -d /tmp/sitekit-test-state.XXXXXX)"
  made_state="$SITEKIT_STATE"
fi
export SITEKIT_STATE
remove_state() {
  local rc=$?
  if [ -n "$made_state" ] && [ -d "$made_state" ]; then
    if [ "$rc" -ne 0 ] && [ "${SITEKIT_KEEP_STATE:-0}" = "1" ]; then
      echo "== the run failed; its state is kept in $made_state (SITEKIT_KEEP_STATE=1)" >&2
    else
      # --one-file-system: never reach through a mount a failed lab teardown may have left behind
      rm -rf --one-file-system -- "$made_state" || echo "== could not remove all of $made_state" >&2
    fi
  fi
  return "$rc"
}
trap remove_state EXIT
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
