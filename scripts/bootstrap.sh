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
# Go builds the Pulumi engine and the lab's control plane (Go 1.24 or newer; the machine kind has it in
# /usr/local/go/bin). Without it, say so here rather than fail later inside a test.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "bootstrap: the Go toolchain (1.24+) is needed: install it and run again" >&2; exit 1; }
# The lab cluster's control plane (kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok) is
# built from its Go modules (docs/LAB-CLUSTER.md) and cached by version under $SITEKIT_CACHE/go: only a
# cold cache pays for the build, and the tests never build behind a timeout.
.venv/bin/python -m sitekit.cluster.binaries
# The Pulumi engine (CLI, language host, Kubernetes provider), built from Go modules into the cache:
# tens of minutes on a cold cache, about a second when warm (docs/ENGINE.md). SITEKIT_SKIP_ENGINE=1 skips.
if [ "${SITEKIT_SKIP_ENGINE:-0}" != "1" ]; then
  .venv/bin/sitekit engine build | sed 's/^/bootstrap: engine: /'
fi
