"""`sitekit scan`: an external measure of a host with OpenSCAP and the SCAP Security Guide.

The scanner runs *inside* the host over SSH (so runtime probes see the host's own sysctls, services and
packages), against `ssg-debian12-ds.xml` from Debian 13's `ssg-debian` (see `content.py`). A hardened
host's package sources are the in-country mirror only, so rather than installing a package on it we
ship a private copy of this machine's Debian 12 `oscap` (the binary plus the shared libraries `ldd`
names, except the C library the host already has) into `/var/lib/sitekit-scan`, run it there and remove
it afterwards. `--install-scanner` instead runs `apt-get install openscap-scanner` on the host.

Every remaining failure is listed with the reason it is accepted (`sitekit/openscap_accepted.yaml`:
a catalogued deviation, a control that the host's tier cannot own, or a plan) or as unexplained.
Profile values that must be the site's own (root's mail alias) are set by a tailoring file built from
the host's inventory variables (`tailoring.py`), and the report lists each one with the reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shlex
import shutil
import subprocess
import tarfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from sitekit.errors import UserError
from sitekit.hostchecks.inventory import InventoryHost, become_prefix, hosts_of, load_inventory, ssh_argv
from sitekit.scan.content import content_root
from sitekit.scan.tailoring import Tailoring, tailoring_for, tailoring_xml, value_defaults

RULE_PREFIX = "xccdf_org.ssgproject.content_rule_"
PROFILE_PREFIX = "xccdf_org.ssgproject.content_profile_"
XCCDF = "{http://checklists.nist.gov/xccdf/1.2}"
REMOTE_DIR = "/var/lib/sitekit-scan"
ACCEPTED = Path(__file__).resolve().parent.parent / "openscap_accepted.yaml"
# Libraries every Debian 12 host has in a compatible version: never shipped, always the host's own.
SYSTEM_LIBS = ("linux-vdso", "libc.so", "ld-linux", "libm.so", "libpthread.so", "libdl.so", "librt.so")
COUNTED = ("pass", "fail", "notapplicable", "notchecked", "notselected", "error", "unknown", "informational", "fixed")


@dataclass
class ScanResult:
    """Counts, score and the explained and unexplained failures of one scan."""

    host: str
    profile: str
    tier: str
    started: str
    duration_s: float
    counts: dict[str, int]
    score: float | None
    failures: list[dict[str, Any]] = field(default_factory=list)
    results_file: str = ""
    # Profile values the scan replaced with the site's own (value, set_to, profile_default, from, why).
    tailored: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        p, f = self.counts.get("pass", 0), self.counts.get("fail", 0)
        return p / (p + f) if p + f else 0.0

    @property
    def unexplained(self) -> list[dict[str, Any]]:
        return [f for f in self.failures if not f.get("reason")]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "sitekit.openscap/1",
            "host": self.host,
            "profile": self.profile,
            "tier": self.tier,
            "started": self.started,
            "duration_s": self.duration_s,
            "counts": self.counts,
            "pass_ratio": round(self.ratio, 4),
            "score": self.score,
            "failures": self.failures,
            "tailored": self.tailored,
            "results_file": self.results_file,
        }


# ------------------------------------------------------------------------------------------ the bundle


def _oscap_binary() -> Path:
    found = shutil.which("oscap")
    if not found:
        raise UserError(
            "oscap not found on this machine: apt-get install openscap-scanner (see scripts/apt-packages.txt)"
        )
    return Path(found).resolve()


def _libraries(binary: Path) -> list[Path]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split("=>")
        if len(parts) != 2:
            continue
        name, target = parts[0].strip(), parts[1].split("(")[0].strip()
        if not target or any(name.startswith(s) for s in SYSTEM_LIBS):
            continue
        libs.append(Path(target))
    return libs


def scanner_bundle() -> Path:
    """A tar.gz of oscap, its libraries (not the C library) and its XSLT/CPE data, cached by content."""
    binary = _oscap_binary()
    libs = _libraries(binary)
    share = Path("/usr/share/openscap")
    digest = hashlib.sha256()
    for p in [binary, *libs]:
        st = p.stat()
        digest.update(f"{p}:{st.st_size}:{int(st.st_mtime)}".encode())
    path = content_root() / f"scanner-{digest.hexdigest()[:16]}.tar.gz"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=3) as tar:
        tar.add(binary, arcname="bin/oscap")
        for lib in libs:
            tar.add(lib.resolve(), arcname=f"lib/{lib.name}")
        for sub in ("xsl", "cpe"):
            if (share / sub).is_dir():
                tar.add(share / sub, arcname=f"share/{sub}")
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------------------------- running


def _ssh(
    host: InventoryHost, control: str, command: str, *, stdin: bytes | None = None, timeout: int = 1800
) -> subprocess.CompletedProcess[bytes]:
    argv = [*ssh_argv(host, control_path=control), command]
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, check=False)


def _tar_bytes(files: dict[str, Path]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for arc, p in files.items():
            tar.add(p, arcname=arc)
    return buf.getvalue()


def run_scan(
    host: InventoryHost,
    datastream: Path,
    profile: str,
    out_dir: Path,
    *,
    install_scanner: bool = False,
    tailoring: Tailoring | None = None,
) -> Path:
    """Scan `host` in place (with `tailoring`'s profile when given); return the local path of the XCCDF results."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # One master connection per scan run: two labs (or two countries' fleets) reuse host names, and a
    # path derived from the name alone let one scan ride, and then tear down, another scan's connection.
    control = f"/tmp/sk-scan-{secrets.token_hex(6)}"
    sudo = become_prefix(host) or ("sudo -n " if str(host.variables.get("ansible_user", "root")) != "root" else "")
    d = REMOTE_DIR
    try:
        r = _ssh(host, control, f"{sudo}rm -rf {d} && {sudo}mkdir -m 0700 -p {d}")
        if r.returncode != 0:
            raise UserError(f"cannot prepare {d} on {host.name}: {r.stderr.decode(errors='replace').strip()}")
        if install_scanner:
            r = _ssh(
                host,
                control,
                f"command -v oscap || {sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y -q openscap-scanner",
            )
            if r.returncode != 0:
                raise UserError(
                    f"apt-get install openscap-scanner failed on {host.name}: "
                    f"{r.stderr.decode(errors='replace').strip()[-300:]}"
                )
            oscap = "oscap"
        else:
            bundle = scanner_bundle()
            r = _ssh(host, control, f"{sudo}tar -xzf - -C {d}", stdin=bundle.read_bytes())
            if r.returncode != 0:
                raise UserError(f"copying the scanner to {host.name} failed: {r.stderr.decode(errors='replace')}")
            oscap = (
                f"env LD_LIBRARY_PATH={d}/lib OSCAP_XSLT_PATH={d}/share/xsl OSCAP_CPE_PATH={d}/share/cpe {d}/bin/oscap"
            )
        content = {"ds.xml": datastream}
        tailor_opt = ""
        profile_id = profile if profile.startswith(PROFILE_PREFIX) else PROFILE_PREFIX + profile
        if tailoring is not None:
            tailoring_file = out_dir / f"{host.name}.tailoring.xml"
            tailoring_file.write_bytes(tailoring_xml(tailoring, datetime.now(UTC).isoformat(timespec="seconds")))
            content["tailoring.xml"] = tailoring_file
            tailor_opt = f"--tailoring-file {d}/tailoring.xml "
            profile_id = tailoring.profile
        r = _ssh(host, control, f"{sudo}tar -xf - -C {d}", stdin=_tar_bytes(content))
        if r.returncode != 0:
            raise UserError(f"copying the content to {host.name} failed: {r.stderr.decode(errors='replace')}")
        inner = (
            f"{oscap} xccdf eval --skip-valid {tailor_opt}--profile {shlex.quote(profile_id)} "
            f"--results {d}/results.xml {d}/ds.xml >{d}/oscap.log 2>&1; rc=$?; cat {d}/results.xml; exit $rc"
        )
        cmd = f"{sudo}sh -c {shlex.quote(inner)}"
        r = _ssh(host, control, cmd)
        # oscap exits 0 (all pass), 2 (some rule failed); anything else is an error.
        if r.returncode not in (0, 2) or not r.stdout.strip():
            log = _ssh(host, control, f"{sudo}tail -20 {d}/oscap.log").stdout.decode(errors="replace")
            log += r.stderr.decode(errors="replace")
            raise UserError(f"oscap failed on {host.name} (exit {r.returncode}): {log.strip()[-800:]}")
        results = out_dir / f"{host.name}.xccdf-results.xml"
        results.write_bytes(r.stdout)
        return results
    finally:
        _ssh(host, control, f"{sudo}rm -rf {d}", timeout=60)
        subprocess.run(["ssh", "-o", f"ControlPath={control}", "-O", "exit", "x"], capture_output=True, check=False)


# --------------------------------------------------------------------------------------------- parsing


def parse_results(path: Path) -> tuple[dict[str, str], float | None]:
    """rule id (without prefix) -> result, and the XCCDF score."""
    results: dict[str, str] = {}
    score: float | None = None
    for _event, elem in ET.iterparse(path, events=("end",)):
        if elem.tag == f"{XCCDF}rule-result":
            rid = str(elem.get("idref", "")).removeprefix(RULE_PREFIX)
            res = elem.find(f"{XCCDF}result")
            results[rid] = res.text.strip() if res is not None and res.text else "unknown"
            elem.clear()
        elif elem.tag == f"{XCCDF}score" and elem.get("system", "").endswith(":default") and elem.text:
            score = float(elem.text)
    return results, score


def rule_titles(datastream: Path, wanted: set[str]) -> dict[str, str]:
    titles: dict[str, str] = {}
    for _event, elem in ET.iterparse(datastream, events=("end",)):
        if elem.tag == f"{XCCDF}Rule":
            rid = str(elem.get("id", "")).removeprefix(RULE_PREFIX)
            if rid in wanted:
                t = elem.find(f"{XCCDF}title")
                titles[rid] = "".join(t.itertext()).strip() if t is not None else ""
            elem.clear()
    return titles


def load_accepted(path: Path | None = None) -> dict[str, dict[str, Any]]:
    p = path or ACCEPTED
    if not p.is_file():
        return {}
    data = yaml.safe_load(p.read_text()) or {}
    rules = data.get("rules", {})
    if not isinstance(rules, dict):
        raise UserError(f"{p}: `rules` must map rule ids to reasons")
    return {str(k).removeprefix(RULE_PREFIX): dict(v or {}) for k, v in rules.items()}


def explain(
    rule: str,
    tier: str,
    accepted: dict[str, dict[str, Any]],
    tailored: frozenset[str] = frozenset(),
    duties: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The accepted reason for a failing rule on a host of `tier`, or an empty reason. An entry whose
    `unless_tailored` value this scan tailored (`tailored`: value ids) no longer explains the failure; an
    entry with `duties` explains it only on a host that has one of them (`duties`: the host's, see
    host_duties)."""
    entry = accepted.get(rule)
    if not entry:
        return {"kind": "", "reason": ""}
    tiers = entry.get("tiers")
    if tiers and tier not in tiers:
        return {"kind": "", "reason": ""}
    wanted = entry.get("duties")
    if wanted and not set(wanted) & duties:
        return {"kind": "", "reason": ""}
    if entry.get("unless_tailored") and str(entry["unless_tailored"]) in tailored:
        return {"kind": "", "reason": ""}
    return {
        "kind": str(entry.get("kind", "plan")),
        "reason": str(entry.get("reason", "")),
        "control": entry.get("control"),
    }


def host_duties(host: str, variables: dict[str, Any]) -> frozenset[str]:
    """The site duties a host has that change which settings apply to it: `log_collector` for the host the
    spec names as the country's log collector (it receives the others' logs and forwards to no one)."""
    collector = variables.get("sitekit_log_collector")
    named = collector.get("name") if isinstance(collector, dict) else None
    return frozenset({"log_collector"} if named == host else ())


def summarise(
    host: str,
    profile: str,
    tier: str,
    results_path: Path,
    datastream: Path,
    accepted: dict[str, dict[str, Any]],
    started: str,
    duration: float,
    tailored: list[dict[str, Any]] | None = None,
    duties: frozenset[str] = frozenset(),
) -> ScanResult:
    results, score = parse_results(results_path)
    counts = {k: 0 for k in COUNTED}
    for r in results.values():
        counts[r] = counts.get(r, 0) + 1
    counts.pop("notselected", None)
    failing = sorted(r for r, v in results.items() if v in ("fail", "error"))
    titles = rule_titles(datastream, set(failing))
    values = frozenset(str(v.get("value")) for v in tailored or [])
    failures = [
        {"rule": r, "result": results[r], "title": titles.get(r, ""), **explain(r, tier, accepted, values, duties)}
        for r in failing
    ]
    return ScanResult(
        host, profile, tier, started, duration, counts, score, failures, str(results_path), list(tailored or [])
    )


def _tier(host: InventoryHost) -> str:
    return str(host.variables.get("sitekit_lab_tier") or "host")


def scan_inventory(
    *,
    inventory: Path,
    host: str | None,
    limit: str | None,
    datastream: Path,
    profile: str,
    out_dir: Path,
    accepted: Path | None = None,
    install_scanner: bool = False,
) -> ScanResult:
    hosts = hosts_of(load_inventory(inventory), limit)
    if host:
        hosts = [h for h in hosts if h.name == host]
    if not hosts:
        raise UserError(f"no host {host or ''} in {inventory}")
    target = hosts[0]
    tailoring = tailoring_for(target.variables, profile, str(target.variables.get("sitekit_country") or ""))
    tailored = []
    if tailoring is not None:
        tailored = tailoring.report(value_defaults(datastream, {tv.value for tv, _ in tailoring.values}))
    started, t0 = datetime.now(UTC).isoformat(timespec="seconds"), time.monotonic()
    results = run_scan(target, datastream, profile, out_dir, install_scanner=install_scanner, tailoring=tailoring)
    result = summarise(
        target.name,
        profile,
        _tier(target),
        results,
        datastream,
        load_accepted(accepted),
        started,
        round(time.monotonic() - t0, 1),
        tailored,
        host_duties(target.name, target.variables),
    )
    (out_dir / f"{target.name}.openscap.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return result


def render_summary(r: ScanResult) -> str:
    c = r.counts
    lines = [
        f"OpenSCAP {r.profile} on {r.host} ({r.tier} tier), {r.duration_s:.0f} s",
        f"  pass {c.get('pass', 0)}  fail {c.get('fail', 0)}  notapplicable {c.get('notapplicable', 0)}  "
        f"notchecked {c.get('notchecked', 0)}  error {c.get('error', 0)}  informational {c.get('informational', 0)}",
        f"  pass / (pass + fail) = {c.get('pass', 0)}/{c.get('pass', 0) + c.get('fail', 0)} = {r.ratio:.1%}"
        + (f"   score {r.score:.1f}" if r.score is not None else ""),
    ]
    if r.tailored:
        lines.append(f"  tailored profile values ({len(r.tailored)}; the site's own value replaces the profile's):")
        for v in r.tailored:
            was = f"profile: {v.get('profile_default')!r}; from {v['from']}"
            lines.append(f"    {v['value']} = {v['set_to']!r} ({was}): {v['why']}")
    else:
        lines.append("  tailored profile values: none (the profile's own values)")
    if r.failures:
        lines.append(f"  remaining failures ({len(r.failures)}; {len(r.unexplained)} without an accepted reason):")
        kinds: dict[str, int] = {}
        for f in r.failures:
            kinds[f.get("kind") or "unexplained"] = kinds.get(f.get("kind") or "unexplained", 0) + 1
        lines.append("  by reason: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
        for f in r.failures:
            reason = " ".join(str(f.get("reason", "")).split())
            why = f"[{f['kind']}] {reason[:110]}{'...' if len(reason) > 110 else ''}" if reason else "UNEXPLAINED"
            lines.append(f"    {f['rule']}: {why}")
    lines.append(f"  results: {r.results_file}")
    return "\n".join(lines)
