"""The in-country package mirror inside the lab: a signed apt repository served on the lab network.

Lab hosts have no route off the machine, exactly like a sovereign site whose hosts may only use the
in-country mirror. So the .deb files the roles install (`packages.MIRROR_PACKAGES`, with every dependency
the lab root lacks) are fetched once into the cache, then each lab publishes them under its own signing
key (generated for the lab, kept in the lab's state folder) and serves them with a small HTTP server at
the spec's mirror address. Hosts trust only that key, so apt's signature checking stays on.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

from sitekit.atomic import write_atomic
from sitekit.lab import packages, procs
from sitekit.lab.layout import Layout
from sitekit.lab.procs import ProcRef
from sitekit.lab.util import LabError, build_lock, require_tools, run
from sitekit.paths import cache_dir

KEYRING_IN_HOST = "/usr/share/keyrings/sitekit-lab-mirror.gpg"
"""Where hosts find the lab mirror's public key (named by `Signed-By`, so it trusts nothing else)."""

_DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def pool_path(root_key: str) -> Path:
    """The cached .deb pool for a root (its content depends on what the root already has)."""
    return cache_dir() / "lab" / "mirror" / packages.digest((root_key,), packages.MIRROR_PACKAGES)


def ensure_pool(root: Path, root_key: str) -> tuple[Path, bool]:
    """Fetch the mirror's .deb files (once) resolved against `root`; return the folder and if it was built."""
    final = pool_path(root_key)
    if (final / "Packages").exists():
        return final, False
    with build_lock(final):
        if (final / "Packages").exists():
            return final, False  # another lab fetched it while we waited
        _fetch(root, final)
    return final, True


def _fetch(root: Path, final: Path) -> None:
    """Download the mirror's packages into a temporary sibling, index them, then rename it into place."""
    require_tools("apt-get", "apt-ftparchive")
    tmp = final.with_name(final.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "pool" / "partial").mkdir(parents=True)
    (tmp / "parts").mkdir()
    lists = tmp / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    signed = f"[signed-by={_DEBIAN_KEYRING}]" if Path(_DEBIAN_KEYRING).exists() else ""
    (tmp / "sources.list").write_text(
        "".join(line.replace("deb ", f"deb {signed} ", 1) + "\n" for line in packages.DEBIAN_SOURCES)
    )
    opts = [
        f"-oDir::Etc::SourceList={tmp / 'sources.list'}",
        f"-oDir::Etc::SourceParts={tmp / 'parts'}",
        f"-oDir::State={tmp / 'state'}",
        f"-oDir::State::Lists={lists}",
        f"-oDir::State::status={root / 'var/lib/dpkg/status'}",
        f"-oDir::Cache={tmp / 'cache'}",
        f"-oDir::Cache::archives={tmp / 'pool'}",
        "-oAPT::Architecture=amd64",
        "-oDebug::NoLocking=1",
    ]
    (tmp / "state").mkdir()
    (tmp / "cache").mkdir()
    try:
        run(["apt-get", *opts, "-q", "update"], timeout=600)
        run(
            ["apt-get", *opts, "-q", "-y", "--download-only", "install", *packages.MIRROR_PACKAGES],
            timeout=1800,
        )
        shutil.rmtree(tmp / "pool" / "partial")
        for name in ("cache", "state", "parts", "lists", "sources.list"):
            path = tmp / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        listing = run(["apt-ftparchive", "packages", "pool"], cwd=tmp).stdout
        if not listing.strip():
            raise LabError("the lab mirror came out empty: apt downloaded nothing")
        (tmp / "Packages").write_text(listing)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)


def publish(pool: Path, lab: Path, layout: Layout) -> Path:
    """Lay out the repository for one lab, signed with the lab's key; return the public keyring."""
    require_tools("gpg", "apt-ftparchive")
    gnupg = lab / "gpg"
    gnupg.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(gnupg, 0o700)
    gpg = ["gpg", "--batch", "--quiet", "--homedir", str(gnupg)]
    try:
        if not run([*gpg, "--list-secret-keys"]).stdout.strip():
            run(
                [
                    *gpg,
                    "--passphrase",
                    "",
                    "--pinentry-mode",
                    "loopback",
                    "--quick-gen-key",
                    f"sitekit lab mirror ({layout.cc}) <lab@{layout.mirror_host}>",
                    "ed25519",
                    "sign",
                    "never",
                ]
            )
        keyring = lab / "mirror-keyring.gpg"
        exported = subprocess.run([*gpg, "--export"], check=True, capture_output=True).stdout
        write_atomic(keyring, exported)
        root = lab / "mirror" / layout.mirror_path.strip("/")
        dist = root / "dists" / packages.SUITE
        binary = dist / "main" / "binary-amd64"
        binary.mkdir(parents=True, exist_ok=True)
        pool_link = root / "pool"
        if pool_link.is_symlink() or pool_link.exists():
            pool_link.unlink()
        pool_link.symlink_to(pool / "pool")
        listing = (pool / "Packages").read_bytes()
        write_atomic(binary / "Packages", listing)
        write_atomic(binary / "Packages.gz", gzip.compress(listing, mtime=0))
        release = run(
            [
                "apt-ftparchive",
                f"-oAPT::FTPArchive::Release::Origin=sitekit lab {layout.cc}",
                f"-oAPT::FTPArchive::Release::Suite={packages.SUITE}",
                f"-oAPT::FTPArchive::Release::Codename={packages.SUITE}",
                "-oAPT::FTPArchive::Release::Components=main",
                "-oAPT::FTPArchive::Release::Architectures=amd64",
                "release",
                str(dist),
            ]
        ).stdout
        write_atomic(dist / "Release", release)
        for out, mode in ((dist / "InRelease", "--clearsign"), (dist / "Release.gpg", "--detach-sign")):
            out.unlink(missing_ok=True)
            run([*gpg, "--armor", "--digest-algo", "SHA512", mode, "--output", str(out), str(dist / "Release")])
    finally:
        # gpg starts an agent; it must not outlive the step (down would find it, but be tidy).
        run(["gpgconf", "--homedir", str(gnupg), "--kill", "gpg-agent"], check=False)
    return keyring


def serve(lab: Path, layout: Layout) -> ProcRef:
    """Start the mirror's HTTP server inside the lab namespace on the spec's mirror address, port 80."""
    proc = procs.spawn(
        [
            "nsenter",
            f"--net=/run/netns/{layout.netns}",
            "/usr/bin/python3",
            "-m",
            "http.server",
            "80",
            "--bind",
            str(layout.mirror_address),
            "--directory",
            str(lab / "mirror"),
        ],
        lab / "mirror.log",
    )
    ref = ProcRef.of(proc.pid)
    if ref is None:
        raise LabError("the lab mirror's HTTP server exited at once; see mirror.log in the lab folder")
    return ref


def host_source(layout: Layout) -> str:
    """The apt source a lab host uses (deb822), naming the mirror by address and pinning its key."""
    return (
        "# Written by `sitekit lab up`: the lab's in-country mirror, signed by the lab's own key.\n"
        "Types: deb\n"
        f"URIs: {layout.mirror_url}\n"
        f"Suites: {packages.SUITE}\n"
        "Components: main\n"
        f"Signed-By: {KEYRING_IN_HOST}\n"
    )
