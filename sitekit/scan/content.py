"""The SCAP Security Guide content for Debian 12, fetched without touching this machine's apt setup.

Bookworm's own `ssg-debian` has no Debian 12 data stream; Debian 13's (0.1.76+) ships
`ssg-debian12-ds.xml`. We fetch that single package with apt using a *separate* sources list, lists
folder and cache under `sitekit.paths.cache_dir()/openscap/`, then unpack it with `dpkg -x`. The
machine's own `/etc/apt/sources.list*` are only read (to reuse the same Debian mirror), never written,
and nothing is installed or upgraded.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from sitekit.errors import UserError
from sitekit.paths import cache_dir

DATASTREAM = "ssg-debian12-ds.xml"
PACKAGE = "ssg-debian"
SUITE = "trixie"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def content_root() -> Path:
    """Where the fetched package and its unpacked tree live."""
    return cache_dir() / "openscap"


def machine_mirror(etc_apt: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine already uses (first non-security `debian` URI), read only."""
    candidates: list[str] = []
    files = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file() or not (path.suffix in {".list", ".sources"} or path.name == "sources.list"):
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            candidates += re.findall(r"^URIs:\s*(\S+)", text, flags=re.M)
        else:
            for line in text.splitlines():
                m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m:
                    candidates.append(m.group(1))
    for uri in candidates:
        if "security" in uri or "snapshot" in uri:
            continue
        if re.search(r"/debian/?$", uri):
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _apt_options(root: Path) -> list[str]:
    """apt options that confine apt to our own sources list, lists and archive cache under `root`."""
    parts = root / "apt" / "sources.list.d"
    prefs = root / "apt" / "preferences.d"
    return [
        "-o",
        f"Dir::Etc::SourceList={root / 'apt' / 'sources.list'}",
        "-o",
        f"Dir::Etc::SourceParts={parts}",
        "-o",
        f"Dir::Etc::Preferences={root / 'apt' / 'preferences'}",
        "-o",
        f"Dir::Etc::PreferencesParts={prefs}",
        "-o",
        f"Dir::State::Lists={root / 'apt' / 'lists'}",
        "-o",
        f"Dir::Cache={root / 'apt' / 'cache'}",
        "-o",
        "APT::Sandbox::User=root",
        "-o",
        "Acquire::Languages=none",
        "-o",
        "APT::Get::List-Cleanup=false",
    ]


def fetch_content(*, mirror: str | None = None, refresh: bool = False) -> Path:
    """Return the path of `ssg-debian12-ds.xml`, downloading and unpacking Debian 13's package once."""
    root = content_root()
    found = sorted(root.glob(f"unpacked/usr/share/xml/scap/ssg/content/{DATASTREAM}"))
    if found and not refresh:
        return found[0]
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise UserError("fetching the SCAP content needs apt-get and dpkg (a Debian machine)")
    mirror = mirror or machine_mirror()
    for sub in ("apt/sources.list.d", "apt/preferences.d", "apt/lists/partial", "apt/cache/archives/partial", "debs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    signed = f"[signed-by={KEYRING}] " if KEYRING.exists() else ""
    (root / "apt" / "sources.list").write_text(
        "# written by `sitekit scan`: fetch Debian 13's ssg-debian only; never used by this machine's apt\n"
        f"deb {signed}{mirror} {SUITE} main\n"
    )
    (root / "apt" / "preferences").write_text("")
    opts = _apt_options(root)
    _run(["apt-get", *opts, "-q", "update"], "apt-get update (separate trixie sources list)")
    debs = root / "debs"
    for old in debs.glob("*.deb"):
        old.unlink()
    _run(["apt-get", *opts, "-q", "download", f"{PACKAGE}/{SUITE}"], "apt-get download ssg-debian", cwd=debs)
    deb = sorted(debs.glob(f"{PACKAGE}_*.deb"))
    if not deb:
        raise UserError(f"apt-get download produced no {PACKAGE} package in {debs}")
    unpacked = root / "unpacked"
    if unpacked.exists():
        shutil.rmtree(unpacked)
    _run(["dpkg", "-x", str(deb[-1]), str(unpacked)], "dpkg -x")
    ds = unpacked / "usr/share/xml/scap/ssg/content" / DATASTREAM
    if not ds.is_file():
        raise UserError(f"{deb[-1].name} has no {DATASTREAM}; a newer ssg-debian is needed")
    return ds


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise UserError(f"{what} failed (exit {proc.returncode}): " + " | ".join(tail))
