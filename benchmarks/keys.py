"""Key management benchmark: hierarchy creation per backend, and signatures per second token vs memory.

Run: .venv/bin/python benchmarks/keys.py [--seconds 2] [--country ee]
Everything happens in a temporary SITEKIT_STATE (and a SoftHSM2 token created there) that is removed at
the end; the numbers are from one run on this machine and the ratios are what to compare across machines.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sitekit.pki.hierarchy import Hierarchy  # noqa: E402
from sitekit.pki.token import init_softhsm_token  # noqa: E402
from sitekit.spec import Site, load_fleet  # noqa: E402


def _with_backend(site: Site, backend: str) -> Site:
    keys = site.keys.model_copy(update={"backend": backend})
    return site.model_copy(update={"keys": keys})


def create(site: Site, state: Path) -> tuple[float, Hierarchy]:
    os.environ["SITEKIT_STATE"] = str(state)
    started = time.perf_counter()
    if site.keys.backend == "pkcs11":
        os.environ["SOFTHSM2_CONF"] = str(state / "softhsm2.conf")
        (state / "tokens").mkdir(parents=True)
        (state / "softhsm2.conf").write_text(f"directories.tokendir = {state / 'tokens'}\nlog.level = ERROR\n")
        init_softhsm_token(site)
    h = Hierarchy.open(site)
    h.init()
    return time.perf_counter() - started, h


def rate(key: ec.EllipticCurvePrivateKey, seconds: float) -> float:
    count, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        key.sign(b"benchmark payload %d" % count, ec.ECDSA(hashes.SHA384()))
        count += 1
    return count / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each signing measurement")
    parser.add_argument("--country", default="ee", help="site whose spec to use")
    args = parser.parse_args()
    os.environ.setdefault("SITEKIT_KEY_PASSPHRASE", "benchmark-passphrase")
    os.environ.setdefault("SITEKIT_PKCS11_PIN", "benchmark-pin")
    os.environ.setdefault("SITEKIT_PKCS11_SO_PIN", "benchmark-so-pin")
    site = load_fleet(REPO / "sites").site(args.country)
    if site.keys.pkcs11 is None:
        print("the chosen site has no pkcs11 section; use --country ee", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="sitekit-bench-keys-"))
    try:
        file_s, file_h = create(_with_backend(site, "file"), tmp / "file")
        hsm_s, hsm_h = create(_with_backend(site, "pkcs11"), tmp / "pkcs11")
        memory = rate(ec.generate_private_key(ec.SECP384R1()), args.seconds)
        token = rate(hsm_h.backend.signer("ingress-1"), args.seconds)
        hsm_h.close()
        file_h.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"hierarchy creation ({site.cc}: root, 4 intermediates, 2 SSH CAs, signing key, data key)")
    print(f"  file backend (encrypted PKCS#8)   {file_s * 1000:8.1f} ms")
    print(f"  pkcs11 backend (SoftHSM2 token)   {hsm_s * 1000:8.1f} ms   ({hsm_s / file_s:.2f}x file)")
    print("ECDSA P-384 signatures per second")
    print(f"  in memory (cryptography/OpenSSL)  {memory:8.0f} /s")
    print(f"  in the token (PKCS#11 C_Sign)     {token:8.0f} /s   ({token / memory:.2f}x memory)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
