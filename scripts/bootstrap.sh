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
# The lab cluster's control plane (kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok) is
# built from its Go modules (docs/LAB-CLUSTER.md) and cached by version under $SITEKIT_CACHE/go: only a
# cold cache pays for the build, and the tests never build behind a timeout.
.venv/bin/python -m sitekit.cluster.binaries
