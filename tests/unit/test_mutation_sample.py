"""The CI pass of mutation testing (issue 15): a fixed, small sample of the spec's checks is mutated with
mutmut (scripts/mutation.sh) and every mutant of it must be killed by the tests, or be listed as equivalent.

The full run over every security-critical module is `scripts/mutation.sh` (figures in docs/RESULTS.md); this
sample, the address-plan checks (overlaps within a site, containment, domain names), keeps the habit alive
in every CI run at a cost of about a minute on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ["sitekit.spec.checks.x_overlaps__*", "sitekit.spec.checks.x__inside__*", "sitekit.spec.checks.x__under__*"]


@pytest.mark.slow
def test_every_mutant_of_the_sample_is_killed(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    only = [arg for pattern in SAMPLE for arg in ("--only", pattern)]
    env = {**os.environ, "SITEKIT_MUTATION_DIR": str(tmp_path / "work")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "mutation" / "run.py"), "spec", *only, "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (figures,) = json.loads(out.read_text())
    assert figures["total"] >= 30, f"the sample shrank to {figures['total']} mutants: {proc.stdout}"
    assert figures["survived"] == 0, proc.stdout
    assert figures["killed"] + figures["equivalent"] == figures["total"], proc.stdout
