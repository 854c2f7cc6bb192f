"""Assemble a country's pack: OSCAL documents, evidence, public key material, spec digest, rendered stack
config, the journal's latest checkpoint and the access map; then the signed manifest, folder and tarball.

Nothing secret enters a pack: key material is read from the public files of the key state (certificates,
SSH CA public keys, the signing key's public half), and the stack config is rendered afresh from the spec
(the checked-in `Pulumi.<cc>.yaml` may carry Pulumi's `encryptionsalt` and `secure:` values; a fresh
render never does).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath

from cryptography.hazmat.primitives import serialization

from sitekit.errors import UserError
from sitekit.oscal.component import component_definition
from sitekit.oscal.results import assessment_results, load_country_evidence
from sitekit.pack.manifest import MANIFEST, SIGNATURE, SIGNING_KEY, fingerprint, manifest_bytes, sign
from sitekit.pack.slots import SLOTS, Absent
from sitekit.pki.hierarchy import Hierarchy
from sitekit.pki.layout import MODEL_SIGNING
from sitekit.pki.status import rows
from sitekit.render.files import rendered_files
from sitekit.spec.loader import site_digest
from sitekit.spec.models import Site

README = """\
# Assurance pack of {name} ({CC})

Made by `sitekit pack {cc}` on {created}. Every file below is listed with its SHA-256 in manifest.json;
manifest.sig is the country's signature over manifest.json (ECDSA P-384, SHA-384), made inside its key
backend. Check the pack offline, on your own machine, with public material only:

    sitekit pack verify <this folder or the .tar.gz> --fingerprint {fingerprint}

where the fingerprint is the one {CC} published for its signing key (SHA-256 of the DER public key);
`--key signing-key.pub.pem` pins the key itself. Any changed, added or removed byte fails, naming the file.

- oscal/component-definition.json   sitekit's control catalogue in OSCAL, with ANSSI BP-028, CIS Debian 12
                                    and NIST 800-53 mappings and the Ansible role and tag of each control
- oscal/assessment-results.json     the latest evidence in OSCAL: observations (observed and expected
                                    values), findings for failures, skipped controls with their reason,
                                    accepted deviations as risks with their reason
- evidence/                         the evidence it was made from (sitekit verify and sitekit scan JSON)
- keys/                             public key material: trust bundle, SSH CA public keys, the signing key,
                                    key expiries (status.json)
- spec/                             the spec digest and the rendered Pulumi stack config (no secrets)
- journal/checkpoint.txt            the operations journal's latest signed checkpoint: check the journal
                                    with `sitekit journal verify {cc} --checkpoint journal/checkpoint.txt`
- access/map.json                   who holds which power over the site (`sitekit access {cc} --json`)

Empty slots (listed under "absent" in the manifest, with the reason):
{absent}
"""


@dataclass(frozen=True)
class Pack:
    """Where a pack was written."""

    folder: Path
    tarball: Path
    files: int
    """Files listed in the manifest (the manifest and its signature come on top)."""
    absent: dict[str, str]
    fingerprint: str
    """SHA-256 of the signing key (DER SubjectPublicKeyInfo): what an auditor pins with --fingerprint."""


def _public_keys(h: Hierarchy) -> dict[str, bytes]:
    files = {"keys/trust-bundle.pem": h.trust_bundle()}
    for path in sorted(h.layout.ssh.glob("*.pub")):
        files[f"keys/ssh/{path.name}"] = path.read_bytes()
    public = h.backend.public_key(MODEL_SIGNING)
    files[SIGNING_KEY] = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    window = h.site.keys.rotation_window_days
    status = [
        {
            "kind": r.kind,
            "name": r.name,
            "state": r.state,
            "not_after": r.not_after.isoformat() if r.not_after else None,
            "in_rotation_window": r.warn,
        }
        for r in rows(h)
    ]
    files["keys/status.json"] = _json({"rotation_window_days": window, "keys": status})
    return files


def _json(doc: object) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def pack_contents(
    site: Site,
    h: Hierarchy,
    evidence_dir: Path,
    created: dt.datetime,
    root: Path | None = None,
    sites: Path | None = None,
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Pack path -> bytes of every file except README, manifest and signature; and the absent slots."""
    evidence = load_country_evidence(evidence_dir)
    files: dict[str, bytes] = {
        "oscal/component-definition.json": _json(component_definition(created)),
        "oscal/assessment-results.json": _json(assessment_results(site, evidence, created)),
    }
    for rel, path in evidence.files.items():
        files[rel] = path.read_bytes()
    files.update(_public_keys(h))
    stack = rendered_files(site)[Path(f"Pulumi.{site.cc}.yaml")]
    files[f"spec/Pulumi.{site.cc}.yaml"] = stack.encode()
    files["spec/digest.txt"] = f"sha256:{site_digest(site)}\n".encode()
    absent: dict[str, str] = {}
    for slot, fill in SLOTS.items():
        got = fill(site, root, sites)
        if isinstance(got, Absent):
            absent[slot] = got.reason
        else:
            files[got.path] = got.data
    return files, absent


def write_pack(
    site: Site,
    evidence_dir: Path,
    out: Path,
    created: dt.datetime | None = None,
    root: Path | None = None,
    sites: Path | None = None,
) -> Pack:
    """Write `<out>/<cc>-pack/` and `<out>/<cc>-pack.tar.gz` (replacing an older pack of the country).

    `root` and `sites` (the project folder and the spec) let the access map be derived into the pack.
    """
    moment = (created or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    with Hierarchy.open(site) as h:
        h.require()
        files, absent = pack_contents(site, h, evidence_dir, moment, root, sites)
        signer = h.backend.signer(MODEL_SIGNING)
        files["README.md"] = README.format(
            name=site.identity.name,
            cc=site.cc,
            CC=site.cc.upper(),
            created=moment.isoformat(),
            fingerprint=fingerprint(signer.public_key()),
            absent="\n".join(f"- {k}: {v}" for k, v in sorted(absent.items())) or "- none",
        ).encode()
        manifest = manifest_bytes(site.cc, moment.isoformat(), files, absent)
        signature = sign(manifest, signer)
    listed = len(files)
    files[MANIFEST] = manifest
    files[SIGNATURE] = signature
    out.mkdir(parents=True, exist_ok=True)
    name = f"{site.cc}-pack"
    final = out / name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out))
    try:
        for rel, data in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        os.chmod(staging, 0o755)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    tarball = out / f"{name}.tar.gz"
    tmp = tarball.with_name(f".{tarball.name}.tmp")
    tmp.write_bytes(tarball_bytes(final, name))
    os.replace(tmp, tarball)
    return Pack(final, tarball, listed, absent, fingerprint(signer.public_key()))


def tarball_bytes(folder: Path, prefix: str) -> bytes:
    """A gzip tarball of `folder` under `prefix/`, the same bytes for the same files: sorted entries,
    mtime 0, owner root:root with no names, modes 0644 and 0755, no gzip name or time."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix())
        for path in [folder, *entries]:
            rel = path.relative_to(folder).as_posix()
            info = tarfile.TarInfo(prefix if rel == "." else f"{prefix}/{rel}")
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                data = path.read_bytes()
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def unpack(tarball: Path, into: Path) -> Path:
    """Extract a pack tarball safely (no links, no paths outside, data filter) and return its folder."""
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            members = tar.getmembers()
            tops = {PurePath(m.name).parts[0] for m in members if m.name}
            if len(tops) != 1 or any(not (m.isfile() or m.isdir()) for m in members):
                raise UserError(f"{tarball}: not a pack tarball (one top folder of regular files expected)")
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(f"{tarball}: cannot read the pack tarball: {exc}") from exc
    return into / tops.pop()
