"""Recovery keys of hosts' encrypted volumes, escrowed to the country's custody.

A model volume unlocks at boot through a key slot sealed to its host's TPM. That TPM can die, be
cleared, or measure a different boot (a firmware update moves PCR 7); the data must survive all three,
so every volume also has a recovery key slot. Its key is created here, on the controller, *before* the
volume is formatted, and stored only sealed by the country's key backend (the token's AES key for
PKCS#11, the passphrase-derived key for files) in `<state>/keys/<cc>/escrow/<host>/<volume>.sealed`
(0600, atomic). Opening it
therefore takes the same custody as the CA keys: the token and its PIN.

The key is 256 random bits from the backend's generator, written like systemd's recovery keys (eight
groups of eight "modhex" characters, unambiguous on any keyboard layout) so that an operator can type
it at a console prompt during recovery. Because it is full-entropy, the LUKS slot can use PBKDF2 at the
minimum cost (as systemd-cryptenroll does for its own random keys) without weakening anything; that
keeps formatting fast on slow hardware and under emulation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sitekit.atomic import write_private
from sitekit.errors import UserError
from sitekit.pki.hierarchy import Hierarchy

MODHEX = "cbdefghijklnrtuv"
"""The 16 characters systemd uses for recovery keys (the same on QWERTY, AZERTY and QWERTZ)."""
NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}$")
"""Host and volume names a sealed file may be named after (no path separators, no leading dot)."""
_KEY = re.compile(rf"^([{MODHEX}]{{8}}-){{7}}[{MODHEX}]{{8}}$")


@dataclass(frozen=True)
class Escrowed:
    """One escrowed recovery key, as `keys status` lists it (never the key itself)."""

    host: str
    volume: str
    created: datetime
    path: Path


def modhex_groups(raw: bytes) -> str:
    """`raw` as dash-separated groups of eight modhex characters (4 bytes a group), for typing at a console."""
    chars = "".join(MODHEX[b >> 4] + MODHEX[b & 0x0F] for b in raw)
    return "-".join(chars[i : i + 8] for i in range(0, len(chars), 8))


def format_key(raw: bytes) -> str:
    """32 bytes as eight dash-separated groups of eight modhex characters."""
    if len(raw) != 32:
        raise ValueError("a recovery key is 32 bytes")
    return modhex_groups(raw)


def _path(h: Hierarchy, host: str, volume: str) -> Path:
    for what, value in (("host", host), ("volume", volume)):
        if not NAME.match(value):
            raise UserError(f"invalid {what} name {value!r} (lower case letters, digits, '.' and '-')")
    return h.layout.base / "escrow" / host / f"{volume}.sealed"


def _context(h: Hierarchy, host: str, volume: str) -> bytes:
    """Bound into the seal: a blob copied to another host's or volume's name does not unseal."""
    return f"sitekit volume recovery key v1 {h.site.cc} {host} {volume}".encode()


def recovery_key(h: Hierarchy, host: str, volume: str, create: bool = True) -> str:
    """The volume's recovery key: unsealed from escrow, or created and escrowed first when `create`."""
    path = _path(h, host, volume)
    context = _context(h, host, volume)
    if path.exists():
        key = h.backend.unseal(path.read_bytes(), context).decode()
        if not _KEY.match(key):
            raise UserError(f"the escrowed key in {path} is not a recovery key")
        return key
    if not create:
        raise UserError(f"no recovery key escrowed for {host} volume {volume} ({path} is missing)")
    h.require()
    key = format_key(h.backend.random(32))
    write_private(path, h.backend.seal(key.encode(), context))
    if h.backend.unseal(path.read_bytes(), context).decode() != key:  # never format with an unrecoverable key
        raise UserError(f"the escrowed key in {path} does not read back; nothing was formatted")
    return key


def escrowed(h: Hierarchy) -> list[Escrowed]:
    """Every escrowed recovery key of the country (names and dates only; no unsealing, no PIN)."""
    found = []
    for path in sorted((h.layout.base / "escrow").glob("*/*.sealed")):
        host, volume = path.parent.name, path.name.removesuffix(".sealed")
        created = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0)
        found.append(Escrowed(host=host, volume=volume, created=created, path=path))
    return found
