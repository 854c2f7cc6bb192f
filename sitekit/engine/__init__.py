"""The Pulumi engine, built from its Go modules and installed offline (see docs/ENGINE.md).

`ensure_engine()` returns an `Engine` whose `env()` runs pulumi commands against a local backend without
touching the network.
"""

from sitekit.engine.engine import Engine, ensure_engine

__all__ = ["Engine", "ensure_engine"]
