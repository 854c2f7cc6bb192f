#!/usr/bin/env bash
# The main job on the built-in demo fleet (README): validate, render, plan, lab up, keys, harden,
# verify. Installs what it needs. Leaves the lab running for you to explore; `sitekit lab down ee`
# removes it. DEMO_CC picks the lab country (default ee, the one sized for the lab).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
cc="${DEMO_CC:-ee}"
step() { printf '\n== %s\n' "$*"; }
step "validate the fleet spec"
sitekit validate
step "render every country's stack config and inventory"
sitekit render
sitekit render --check
step "plan every country's cluster offline (Pulumi mocks; no cluster, no Pulumi CLI)"
for c in $(sitekit validate | awk '$1=="ok"{print $2}'); do
  sitekit plan "$c"
done
