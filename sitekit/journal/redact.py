"""A command line as it may be journalled: secrets removed.

sitekit takes no secret on its command line (passphrases and PINs come from the environment or a prompt,
shares from files or stdin), but a journal is handed to auditors, so what is recorded is filtered anyway:
the value of any option whose name speaks of a secret, and any argument that looks like key material (a
PEM block, an OpenSSH key blob, a long run of words such as a SLIP-39 share) becomes `<redacted>`. The
environment, stdin and stdout are never recorded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

REDACTED = "<redacted>"
_SECRET_OPTION = re.compile(r"^--?[a-z0-9-]*(pin|pass|secret|token|private)[a-z0-9-]*$", re.I)
_KEY_MATERIAL = re.compile(r"-----BEGIN|PRIVATE KEY|AAAA[0-9A-Za-z+/]{40,}|^[0-9a-fA-F]{48,}$|(\b[a-z]{3,}\b\s+){11,}")
_MAX = 512


def redact(argv: Sequence[str]) -> list[str]:
    """`argv` with secret option values and key material replaced by `<redacted>` (long values cut)."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        text = str(arg)
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        name, eq, _ = text.partition("=")
        if text.startswith("-") and _SECRET_OPTION.match(name):
            if eq:
                out.append(f"{name}={REDACTED}")
            else:
                out.append(text)
                hide_next = True
            continue
        if _KEY_MATERIAL.search(text):
            out.append(REDACTED)
            continue
        out.append(text if len(text) <= _MAX else text[:_MAX] + "...")
    return out
