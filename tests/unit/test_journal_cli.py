"""Commands journal themselves through one wrapper: records, artefact digests, redaction, operator identity."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from sitekit.cli import main
from sitekit.journal.operator import operator_identity
from sitekit.journal.redact import REDACTED, redact
from sitekit.journal.store import Journal
from sitekit.paths import country_state

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "cli-journal-passphrase"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", PASSPHRASE)
    for name in ("SSH_USER_AUTH", "SITEKIT_OPERATOR_CERT", "SUDO_USER"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(REPO / "sites", tmp_path / "sites")
    return tmp_path


def records(cc: str) -> list[dict[str, object]]:
    path = country_state(cc).journal / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_render_is_journalled_with_the_digest_of_each_file(project: Path) -> None:
    assert main(["--root", str(project), "render", "cl"]) == 0
    (record,) = records("cl")
    assert record["kind"] == "command" and record["command"][1:] == ["--root", str(project), "render", "cl"]
    assert record["result"] == {"status": "ok", "exit": 0}
    assert isinstance(record["spec_digest"], str) and len(record["spec_digest"]) == 64
    artefacts = record["artefacts"]
    assert isinstance(artefacts, list) and artefacts
    for item in artefacts:
        assert item["sha256"] == hashlib.sha256(Path(item["path"]).read_bytes()).hexdigest()
    assert str(project / "Pulumi.cl.yaml") in {a["path"] for a in artefacts}
    assert main(["--root", str(project), "render", "--check", "cl"]) == 0  # reads only: not journalled
    assert len(records("cl")) == 1


def test_keys_are_journalled_and_anchored_and_verify_needs_no_secret(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sites = str(project / "sites")
    assert main(["--sites", sites, "keys", "init", "cl"]) == 0
    assert main(["--sites", sites, "keys", "volume-key", "cl", "--host", "cl-gpu-1"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert len(secret) >= 32  # the recovery key printed on stdout
    monkeypatch.delenv("SITEKIT_KEY_PASSPHRASE")
    assert main(["--sites", sites, "journal", "verify", "cl"]) == 0
    out = capsys.readouterr().out
    assert "keys init cl" in out and "verifies" in out
    raw = (country_state("cl").journal / "journal.jsonl").read_bytes()
    assert PASSPHRASE.encode() not in raw
    assert secret.encode() not in raw
    init = records("cl")[0]
    private = [a for a in init["artefacts"] if a.get("private")]  # type: ignore[union-attr]
    assert private and all("sha256" not in a for a in private)
    assert list((country_state("cl").journal / "checkpoints").glob("*.ckpt"))


def test_a_refused_command_is_journalled_with_its_result(project: Path) -> None:
    sites = str(project / "sites")
    assert main(["--sites", sites, "keys", "sign-artifact", "cl", str(project / "missing.bin")]) == 2
    (record,) = records("cl")
    result = record["result"]
    assert isinstance(result, dict) and result["status"] == "bad-input" and result["exit"] == 2


def test_a_torn_journal_stops_a_command_before_it_acts(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = country_state("cl").journal
    folder.mkdir(parents=True)
    (folder / "journal.jsonl").write_bytes(b'{"half a rec')
    assert main(["--root", str(project), "render", "cl"]) == 2
    assert "journal repair cl" in capsys.readouterr().err
    assert not (project / "Pulumi.cl.yaml").exists()
    assert main(["--root", str(project), "journal", "repair", "cl"]) == 0
    assert main(["--root", str(project), "render", "cl"]) == 0
    assert [r["kind"] for r in records("cl")] == ["repair", "command"]


@pytest.mark.parametrize(
    ("argv", "leak"),
    [
        (["keys", "init", "ee", "--pin", "123456"], "123456"),
        (["--passphrase=hunter2hunter2"], "hunter2hunter2"),
        (["-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----"], "MIGHAgEA"),
        (["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG5hLxxyQ1xT3yN1gR7QpV2bq4pFy7kT1xJvYwS3Y0mZ"], "AAAAC3Nza"),
        (["academic acid acne acquire acrobat activity actress adapt adequate admit adorn adult"], "acrobat"),
        (["--so-token", "s3cr3t"], "s3cr3t"),
    ],
)
def test_secrets_never_reach_the_command_line_record(argv: list[str], leak: str) -> None:
    cleaned = redact(argv)
    assert leak not in " ".join(cleaned) and REDACTED in " ".join(cleaned)


def test_paths_and_plain_options_are_kept() -> None:
    argv = ["keys", "sign-artifact", "cl", "/tmp/model.safetensors", "--public-key", "k.pem", "--hosts", "a,b"]
    assert redact(argv) == argv


def _user_cert(key_id: str) -> str:
    from cryptography.hazmat.primitives.serialization import SSHCertificateBuilder, SSHCertificateType

    ca = ed25519.Ed25519PrivateKey.generate()
    user = ed25519.Ed25519PrivateKey.generate().public_key()
    cert = (
        SSHCertificateBuilder()
        .public_key(user)
        .serial(7)
        .type(SSHCertificateType.USER)
        .key_id(key_id.encode())
        .valid_principals([b"ops-admin"])
        .valid_after(0)
        .valid_before(2**63)
        .sign(ca)
    )
    return cert.public_bytes().decode()


def test_operator_ssh_certificate_from_sshd_auth_info(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = tmp_path / "auth"
    auth.write_text(f"publickey {_user_cert('alice@ee-ops')}\n")
    monkeypatch.setenv("SSH_USER_AUTH", str(auth))
    monkeypatch.setenv("SUDO_USER", "alice")
    who = operator_identity()
    assert who["sudo_user"] == "alice" and who["user"] and who["host"]
    assert who["ssh_certificate"] == {
        "source": "SSH_USER_AUTH",
        "key_id": "alice@ee-ops",
        "serial": 7,
        "principals": ["ops-admin"],
    }


@pytest.mark.parametrize("content", ["", "publickey ssh-ed25519-cert-v01@openssh.com AAAAnotbase64!!\n", "\x00" * 50])
def test_operator_certificate_that_cannot_be_read_is_recorded_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    path = tmp_path / "cert"
    path.write_text(content)
    monkeypatch.delenv("SSH_USER_AUTH", raising=False)
    monkeypatch.setenv("SITEKIT_OPERATOR_CERT", str(path))
    cert = operator_identity()["ssh_certificate"]
    assert cert["source"] == "SITEKIT_OPERATOR_CERT" and "error" in cert


def test_plain_public_key_is_not_a_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    path = tmp_path / "id.pub"
    path.write_text(line + "\n")
    monkeypatch.setenv("SITEKIT_OPERATOR_CERT", str(path))
    assert "error" in operator_identity()["ssh_certificate"]


def test_machine_append_interface(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"kind": "ansible", "play": "harden", "seq": 99})))
    assert main(["journal", "append", "cl"]) == 0
    (record,) = records("cl")
    assert record["seq"] == 1 and record["play"] == "harden" and record["operator"]
    for bad in ("not json", json.dumps({"kind": "command"}), json.dumps([1])):
        monkeypatch.setattr("sys.stdin", io.StringIO(bad))
        assert main(["journal", "append", "cl"]) == 2
    capsys.readouterr()
    assert main(["journal", "show", "cl", "--json", "--since", "1"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["play"] == "harden"


def test_verify_of_an_edited_journal_exits_1_naming_the_record(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = Journal("cl", country_state("cl").journal)
    for i in range(3):
        journal.append({"kind": "test", "n": i})
    rows = journal.path.read_bytes().splitlines()
    rows[0] = rows[0].replace(b'"n":0', b'"n":5')
    journal.path.write_bytes(b"\n".join(rows) + b"\n")
    assert main(["journal", "verify", "cl"]) == 1
    assert "first bad record: 1" in capsys.readouterr().err
    assert main(["journal", "verify", "zz"]) == 2


def test_an_unknown_country_starts_no_journal(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sites", str(project / "sites"), "keys", "init", "zz"]) == 2
    assert "no site 'zz'" in capsys.readouterr().err
    assert not country_state("zz").journal.exists()


ISSUE_COMMANDS = [
    *(
        ["keys", sub, "cl", *extra]
        for sub, extra in [
            ("init", []),
            ("rotate", ["etcd"]),
            ("recover", []),
            ("backup", []),
            ("issue", ["--name", "a.cl.sovereign.example"]),
            ("sign-user", ["k.pub", "--identity", "alice"]),
            ("sign-host", ["--host", "cl-cp-1"]),
            ("volume-key", ["--host", "cl-gpu-1"]),
            ("sign-artifact", ["m.bin"]),
        ]
    ),
    ["render"],
    ["render", "cl"],
    ["plan", "cl"],
    ["verify", "cl"],
    ["scan", "cl"],
    ["lab", "up", "cl"],
    ["lab", "down", "cl"],
    ["lab", "deploy", "cl"],
    ["pack", "cl"],
]
READ_ONLY = [
    ["keys", "status", "cl"],
    ["keys", "public", "cl"],
    ["keys", "verify-artifact", "cl", "m.bin"],
    ["render", "--check"],
    ["scan", "cl", "--fetch-only"],
    ["validate"],
    ["show", "cl"],
    ["lab", "status"],
    ["report"],
    ["journal", "verify", "cl"],
    ["pack", "verify", "cl-pack.tar.gz"],
    ["access", "cl"],
]


@pytest.mark.parametrize("argv", ISSUE_COMMANDS, ids=" ".join)
def test_every_state_changing_command_of_the_issue_is_journalled(project: Path, argv: list[str]) -> None:
    from sitekit.cli import build_parser
    from sitekit.context import CommandContext
    from sitekit.journal.wrap import scope_of

    args = build_parser().parse_args(["--root", str(project), *argv])
    scope = scope_of(CommandContext.of(args))
    assert scope is not None
    assert "cl" in scope.watches and all(scope.watches.values())


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_read_only_commands_are_not_journalled(project: Path, argv: list[str]) -> None:
    from sitekit.cli import build_parser
    from sitekit.context import CommandContext
    from sitekit.journal.wrap import scope_of

    args = build_parser().parse_args(["--root", str(project), *argv])
    assert scope_of(CommandContext.of(args)) is None


def test_show_prints_one_line_per_record(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = Journal("cl", country_state("cl").journal)
    journal.append(
        {
            "kind": "command",
            "command": ["sitekit", "render", "cl"],
            "result": {"status": "ok"},
            "artefacts": [],
            "operator": {"user": "ops", "ssh_certificate": {"key_id": "alice"}},
        }
    )
    journal.append(
        {
            "kind": "ansible",
            "play": "harden",
            "operator": {"user": "ops"},
            "hosts": {"cl-cp-1": {"changed_controls": ["SK-SSH-004"]}},
        }
    )
    assert main(["journal", "show", "cl", "--since", "2"]) == 0
    captured = capsys.readouterr()
    assert "render cl" not in captured.out
    assert "ansible play 'harden' on 1 host(s); changed SK-SSH-004" in captured.out
    assert "2 records; none under a signed checkpoint" in captured.err
    assert main(["journal", "show", "cl"]) == 0
    assert "ops[cert alice]" in capsys.readouterr().out
