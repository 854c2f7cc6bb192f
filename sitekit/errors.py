"""Error types that the command turns into exit codes.

`UserError` is bad input (a spec, an argument, a missing prerequisite the operator can fix): exit 2 and a
message, never a traceback. Anything else escaping a command is an internal error: exit 1.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input the operator can fix; the message is shown as is and the command exits 2."""


class CheckFailed(Exception):
    """A check ran and found a problem (stale render, failed plan, failed verify): exit 1 with a report."""
