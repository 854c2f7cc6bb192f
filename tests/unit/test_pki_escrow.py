"""Volume recovery keys: escrowed sealed before use, stable across runs, bound to host and volume."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sitekit.errors import UserError
from sitekit.pki.escrow import MODHEX, escrowed, format_key, recovery_key
from sitekit.pki.hierarchy import Hierarchy
from sitekit.spec import Site, load_fleet

REPO = Path(__file__).resolve().parents[2]
KEY = re.compile(rf"^([{MODHEX}]{{8}}-){{7}}[{MODHEX}]{{8}}$")


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("cl")  # the file backend


def test_format_is_systemd_style_and_full_entropy() -> None:
    key = format_key(bytes(range(32)))
    assert KEY.match(key)
    assert len(set(key.replace("-", ""))) == 16  # every nibble value appears: 4 bits per character, 256 in all
    with pytest.raises(ValueError):
        format_key(b"short")


def test_created_once_sealed_private_and_stable(h: Hierarchy) -> None:
    first = recovery_key(h, "cl-gpu-1", "models")
    assert KEY.match(first)
    again = recovery_key(h, "cl-gpu-1", "models", create=False)
    assert again == first  # a re-run (or a recovery) gets the key the volume was formatted with
    [item] = escrowed(h)
    assert (item.host, item.volume) == ("cl-gpu-1", "models")
    assert stat.S_IMODE(item.path.stat().st_mode) == 0o600
    blob = item.path.read_bytes()
    assert first.encode() not in blob and first.replace("-", "").encode() not in blob
    assert recovery_key(h, "cl-gpu-2", "models") != first  # one key per host and volume


def test_no_create_refuses_a_missing_key(h: Hierarchy) -> None:
    with pytest.raises(UserError, match="no recovery key escrowed"):
        recovery_key(h, "cl-gpu-1", "models", create=False)
    assert escrowed(h) == []


def test_blob_is_bound_to_its_host_and_volume(h: Hierarchy) -> None:
    recovery_key(h, "cl-gpu-1", "models")
    source = escrowed(h)[0].path
    moved = source.parent.parent / "cl-gpu-9" / "models.sealed"
    moved.parent.mkdir()
    moved.write_bytes(source.read_bytes())
    with pytest.raises(UserError):
        recovery_key(h, "cl-gpu-9", "models", create=False)


def test_names_that_could_escape_the_escrow_folder_are_refused(h: Hierarchy) -> None:
    for host, volume in (("../cl-gpu-1", "models"), ("cl-gpu-1", "../../x"), ("", "models")):
        with pytest.raises(UserError, match="invalid"):
            recovery_key(h, host, volume)


def test_cli_prints_the_key_and_status_lists_only_its_name(h: Hierarchy) -> None:
    cmd = [sys.executable, "-m", "sitekit.cli", "--sites", str(REPO / "sites"), "keys"]
    made = subprocess.run([*cmd, "volume-key", "cl", "--host", "cl-gpu-1"], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert KEY.match(made.stdout) and made.stdout == recovery_key(h, "cl-gpu-1", "models", create=False)
    missing = subprocess.run(
        [*cmd, "volume-key", "cl", "--host", "cl-gpu-2", "--no-create"], capture_output=True, text=True
    )
    assert missing.returncode != 0 and "no recovery key escrowed" in missing.stderr and not missing.stdout
    status = subprocess.run([*cmd, "status", "cl"], capture_output=True, text=True)
    assert "escrow: recovery key of cl-gpu-1 volume models" in status.stdout
    assert made.stdout not in status.stdout + status.stderr
