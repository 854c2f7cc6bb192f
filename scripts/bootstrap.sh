#!/usr/bin/env bash
# Installs everything the demo and the tests need on a fresh Debian 12 machine: the Debian packages
# listed in scripts/apt-packages.txt and a virtualenv in .venv with sitekit and its dev extra.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=$(grep -v '^\s*#' scripts/apt-packages.txt | awk 'NF {print $1}' | sort -u)
missing=()
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.sitekit-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing sitekit into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi
# The Pulumi engine (CLI, language host, Kubernetes provider), built from Go modules into the cache:
# tens of minutes on a cold cache, about a second when warm (docs/ENGINE.md). SITEKIT_SKIP_ENGINE=1 skips.
if [ "${SITEKIT_SKIP_ENGINE:-0}" != "1" ]; then
  .venv/bin/sitekit engine build | sed 's/^/bootstrap: engine: /'
fi
