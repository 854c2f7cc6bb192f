"""Boot-loader passwords of hosts: GRUB's superuser, in the country's custody.

Without a GRUB superuser anyone at a host's console (or its BMC's virtual console) can edit the kernel
command line at boot (`init=/bin/sh`, `systemd.unit=emergency.target`) and get a root shell, or drop the
hardening arguments sitekit puts there. ANSSI-BP-028 R5 asks for a boot-loader password. Each host gets its
own, so the password read off one host's console never opens another's.

The password is 128 random bits from the key backend's generator, written in modhex groups like the volume
recovery keys, because someone types it at a console prompt, only in a recovery. It is stored only sealed by
the backend (token or passphrase), bound to its country, host and user, in
`<state>/keys/<cc>/boot/<host>.sealed`. What the host receives is GRUB's PBKDF2-HMAC-SHA512 hash of it, kept
beside it in `<host>.grub` (0600, atomic) so that every run writes the same hash and the host's
configuration does not change from run to run. Reading the hash needs no PIN; creating a password does.

The hash uses GRUB's own default of 10000 iterations: the password is full-entropy, so the iteration count
adds nothing against guessing it, and GRUB computes it in the firmware environment without vector units.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sitekit.atomic import write_private
from sitekit.errors import UserError
from sitekit.pki.escrow import MODHEX, NAME, modhex_groups
from sitekit.pki.hierarchy import Hierarchy

ITERATIONS = 10000
"""grub-mkpasswd-pbkdf2's default count (see the module docstring for why it is enough here)."""
SALT_BYTES = 64
HASH_BYTES = 64
_PASSWORD = re.compile(rf"^([{MODHEX}]{{8}}-){{3}}[{MODHEX}]{{8}}$")
_HASH = re.compile(r"^grub\.pbkdf2\.sha512\.(\d+)\.([0-9A-F]+)\.([0-9A-F]+)$")


@dataclass(frozen=True)
class BootPassword:
    """One host's boot-loader password, as `keys status` lists it (never the password itself)."""

    host: str
    created: datetime
    path: Path


def grub_pbkdf2(password: str, salt: bytes, iterations: int = ITERATIONS) -> str:
    """GRUB's `password_pbkdf2` form of `password`: grub.pbkdf2.sha512.<count>.<salt>.<hash>, hex upper case."""
    if iterations < 1 or not salt:
        raise ValueError("PBKDF2 needs a salt and at least one iteration")
    derived = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    return f"grub.pbkdf2.sha512.{iterations}.{salt.hex().upper()}.{derived.hex().upper()}"


def grub_pbkdf2_matches(password: str, encoded: str) -> bool:
    """Whether `encoded` (GRUB's PBKDF2 form) is the hash of `password`, as GRUB checks it at the prompt."""
    m = _HASH.match(encoded)
    if not m:
        return False
    iterations, salt, want = int(m.group(1)), bytes.fromhex(m.group(2)), bytes.fromhex(m.group(3))
    got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(want))
    return hmac.compare_digest(got, want)


def _paths(h: Hierarchy, host: str) -> tuple[Path, Path]:
    if not NAME.match(host):
        raise UserError(f"invalid host name {host!r} (lower case letters, digits, '.' and '-')")
    base = h.layout.base / "boot"
    return base / f"{host}.sealed", base / f"{host}.grub"


def _context(h: Hierarchy, host: str) -> bytes:
    """Bound into the seal: a blob copied to another host's name does not unseal."""
    return f"sitekit boot-loader password v1 {h.site.cc} {host}".encode()


def boot_password(h: Hierarchy, host: str, create: bool = True) -> str:
    """The host's boot-loader password: unsealed from custody, or created (with its hash) when `create`."""
    sealed, hashed = _paths(h, host)
    if sealed.exists():
        password = h.backend.unseal(sealed.read_bytes(), _context(h, host)).decode()
        if not _PASSWORD.match(password):
            raise UserError(f"the sealed secret in {sealed} is not a boot-loader password")
        return password
    if not create:
        raise UserError(f"no boot-loader password for {host} ({sealed} is missing)")
    if host not in {x.name for x in h.site.hosts}:
        raise UserError(f"{host} is not a host of {h.site.cc}'s spec; no boot-loader password was created")
    h.require()
    password = modhex_groups(h.backend.random(16))
    encoded = grub_pbkdf2(password, h.backend.random(SALT_BYTES))
    write_private(sealed, h.backend.seal(password.encode(), _context(h, host)))
    if h.backend.unseal(sealed.read_bytes(), _context(h, host)).decode() != password:
        raise UserError(f"the sealed password in {sealed} does not read back; no hash was written")
    write_private(hashed, (encoded + "\n").encode())
    return password


def boot_hash(h: Hierarchy, host: str, create: bool = True) -> str:
    """GRUB's PBKDF2 hash of the host's boot-loader password (the password is created first when `create`).

    A hash with no sealed password beside it, or one the sealed password does not match, is refused: a host
    must never be given a password nobody holds.
    """
    sealed, hashed = _paths(h, host)
    if not sealed.exists():
        if hashed.exists():
            raise UserError(f"{hashed} has no sealed password beside it ({sealed}); refusing a password nobody holds")
        if not create:
            raise UserError(f"no boot-loader password for {host} ({sealed} is missing)")
        boot_password(h, host, create=True)
    if not hashed.exists():
        # sealed but no hash (an interrupted first run): derive it again from the sealed password
        password = boot_password(h, host, create=False)
        write_private(hashed, (grub_pbkdf2(password, h.backend.random(SALT_BYTES)) + "\n").encode())
    encoded = hashed.read_text().strip()
    if not _HASH.match(encoded):
        raise UserError(f"{hashed} does not hold a GRUB PBKDF2 hash")
    return encoded


def verify_custody(h: Hierarchy, host: str) -> None:
    """Fail unless the sealed password of `host` opens and matches its stored hash (needs the PIN)."""
    password = boot_password(h, host, create=False)
    if not grub_pbkdf2_matches(password, boot_hash(h, host, create=False)):
        raise UserError(f"the boot-loader hash of {host} does not match its sealed password")


def boot_passwords(h: Hierarchy) -> list[BootPassword]:
    """Every host's boot-loader password in custody (names and dates only; no unsealing, no PIN)."""
    found = []
    for path in sorted((h.layout.base / "boot").glob("*.sealed")):
        created = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0)
        found.append(BootPassword(host=path.name.removesuffix(".sealed"), created=created, path=path))
    return found
