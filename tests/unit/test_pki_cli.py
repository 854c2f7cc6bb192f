"""`sitekit keys ...` end to end on the file backend, plus the no-secrets-in-repo-or-logs scan."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from sitekit.cli import main
from sitekit.errors import UserError
from sitekit.pki import ingress_tls
from sitekit.spec import load_fleet

REPO = Path(__file__).resolve().parents[2]
SITES = str(REPO / "sites")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", "cli-test-passphrase")
    return tmp_path / "state"


def run(*argv: str) -> int:
    return main(["--sites", SITES, "keys", *argv])


def test_ingress_tls_before_init_names_the_command(env: Path) -> None:
    site = load_fleet(Path(SITES)).site("cl")
    with pytest.raises(UserError, match="sitekit keys init cl"):
        ingress_tls(site, ["llm.ai.cl.sovereign.example"])
    assert run("status", "cl") == 2


def test_full_cli_run(env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    logs: list[str] = []

    def out() -> str:
        captured = capsys.readouterr()
        logs.extend([captured.out, captured.err])
        return captured.out

    assert run("init", "cl") == 0
    shares = [line.strip() for line in out().splitlines() if line.strip().endswith(".txt")]
    assert len(shares) == 3
    assert run("init", "cl") == 0
    assert "already complete" in out()

    site = load_fleet(Path(SITES)).site("cl")
    chain, key = ingress_tls(site, ["llm.ai.cl.sovereign.example"])
    assert ingress_tls(site, ["llm.ai.cl.sovereign.example"]) == (chain, key)  # reused
    assert len(x509.load_pem_x509_certificates(chain.encode())) == 2

    assert run("issue", "cl", "--ca", "etcd", "--profile", "peer", "--name", "cl-cp-1.cl.sovereign.example") == 0
    assert "certificate:" in out()
    assert run("issue", "cl", "--name", "www.google.com") == 2
    out()

    assert run("rotate", "cl", "ingress") == 0
    assert run("rotate", "cl", "data-key") == 0
    out()
    assert run("status", "cl", "--json") == 0
    table = json.loads(out())
    assert {r["name"] for r in table} >= {"root", "ingress-1", "ingress-2", "k1", "k2"}
    assert run("status", "cl", "--strict") == 0
    out()

    assert run("public", "cl") == 0
    public = json.loads(out())
    assert public["ssh_user_ca"][0].startswith("ssh-ed25519 ")
    assert public["trust_bundle"].count("BEGIN CERTIFICATE") == 7  # root + 5 intermediates + rotated ingress

    host_pub = public["ssh_user_ca"][0]  # any OpenSSH public key will do as a host key here
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"pubkey": host_pub, "cert": ""})))
    assert run("sign-host", "cl", "--host", "cl-cp-1", "--json-stdin") == 0
    cert = out()
    assert cert.startswith("ssh-ed25519-cert-v01@openssh.com ")
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"pubkey": host_pub, "cert": cert})))
    assert run("sign-host", "cl", "--host", "cl-cp-1", "--json-stdin") == 0
    assert out() == cert

    assert run("encryption-config", "cl") == 0
    config = out()
    assert "secretbox" in config

    (env / "keys" / "cl" / "private" / "root.p8").unlink()
    assert run("recover", "cl", "--share", shares[0]) == 2
    assert run("recover", "cl", "--share", shares[0], "--share", shares[2]) == 0
    assert "restored" in out()

    # no private key material or shares in the repo tree or in what the commands printed
    secrets = [Path(p).read_text().splitlines()[-1] for p in shares]
    secrets.append(key.splitlines()[1])
    secrets += [line.split("secret:")[1].strip() for line in config.splitlines() if "secret:" in line]
    printed = "\n".join(logs)
    assert "PRIVATE KEY" not in printed.replace(config, "")
    for secret in secrets[:-2]:
        assert secret not in printed
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, text=True
    ).stdout.split()
    for rel in files:
        path = REPO / rel
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        data = path.read_bytes()
        assert b"PRIVATE KEY-----\nMI" not in data, rel
        for secret in secrets:
            assert secret.encode() not in data, rel


def test_preview_path_issues_and_writes_nothing(env: Path) -> None:
    from sitekit.pki import stored_ingress_tls

    assert run("init", "cl") == 0
    site = load_fleet(Path(SITES)).site("cl")
    leaves = env / "keys" / "cl" / "leaves"
    before = sorted(p.name for p in leaves.rglob("*")) if leaves.exists() else []
    assert stored_ingress_tls(site, ["llm.ai.cl.sovereign.example"]) is None
    after = sorted(p.name for p in leaves.rglob("*")) if leaves.exists() else []
    assert after == before, "a preview must not issue a certificate to disk"
    chain, key = ingress_tls(site, ["llm.ai.cl.sovereign.example"])
    assert stored_ingress_tls(site, ["llm.ai.cl.sovereign.example"]) == (chain, key)


def test_unattended_run_without_the_secret_fails_instead_of_prompting(monkeypatch: pytest.MonkeyPatch) -> None:
    from sitekit.pki.secrets import secret_from_env_or_prompt

    monkeypatch.delenv("SITEKIT_PKCS11_PIN", raising=False)
    monkeypatch.setenv("SITEKIT_NO_PROMPT", "1")
    with pytest.raises(UserError, match=r"set SITEKIT_PKCS11_PIN: this command runs unattended .*cannot prompt"):
        secret_from_env_or_prompt("SITEKIT_PKCS11_PIN", "token PIN")
