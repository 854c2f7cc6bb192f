"""The control plane's programs, built from their Go modules by `sitekit.gotools` and cached by version.

`python -m sitekit.cluster.binaries` builds all of them (scripts/bootstrap.sh runs it, so a fresh clone's
CI pays for the cold build once, before the tests); `sitekit lab up --tier cluster` calls the same function
and finds them cached.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sitekit import gotools

#: Go tool wrapper (tools/go/<tool>) -> the programs it builds.
TOOLS: dict[str, tuple[str, ...]] = {
    "kubernetes": ("kube-apiserver", "kube-controller-manager", "kube-scheduler"),
    "etcd": ("etcd",),
    "kwok": ("kwok",),
}


def _log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def ensure() -> dict[str, Path]:
    """Program name -> path of every control-plane binary (building whatever the cache lacks)."""
    found: dict[str, Path] = {}
    for tool, programs in TOOLS.items():
        folder = gotools.output_dir(tool)
        if not (folder / ".complete").exists():
            _log(f"building {tool} {gotools.load_spec(tool).version} from its Go modules (once per version)")
        folder = gotools.build(tool, log=_log)
        for name in programs:
            found[name] = folder / name
    return found


def versions() -> dict[str, str]:
    """Tool wrapper -> the upstream version it builds (for `lab status` and the docs)."""
    return {tool: gotools.load_spec(tool).version for tool in TOOLS}


def main() -> int:
    """Build (or find cached) every control-plane binary and print where they are."""
    start = time.monotonic()
    for name, path in ensure().items():
        print(f"{name}: {path}")
    print(f"control-plane binaries ready in {time.monotonic() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
