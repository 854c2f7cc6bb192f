"""Deprecated name of the host checks' pytest plugin: use `-p sitekit.verify.plugin`.

Kept so that `pytest tests/hosts -p sitekit.report.plugin ...` commands written before the split keep
working; it is the same plugin (the same hooks and stash keys), with a DeprecationWarning.
"""

import warnings

from sitekit.verify.plugin import *  # noqa: F403

warnings.warn(
    "sitekit.report.plugin is deprecated; use `-p sitekit.verify.plugin`",
    DeprecationWarning,
    stacklevel=2,
)
