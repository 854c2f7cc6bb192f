"""Mutation testing of the security-critical modules with mutmut 3 (issue 15; docs/MUTATION.md).

For each module named in `modules.yaml` this copies the checkout (tracked and new, not ignored, files) into a
scratch folder outside git's view, tells mutmut there to mutate only that module's files and to run only its
test files, runs it with one worker, and prints killed, survived, equivalent (with the reason kept in
`equivalents.yaml`) and every survivor with its diff. The score is killed / (all mutants - equivalents).

Usage: scripts/mutation.sh [module ...] [--only GLOB] [--min-score PCT] [--json FILE]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout"}
SURVIVED = {0: "survived", 5: "no tests", 33: "no tests"}


@dataclass
class Outcome:
    """One module's figures: mutants by status, equivalents with their reasons, survivors with diffs."""

    module: str
    total: int = 0
    killed: int = 0
    timeouts: int = 0
    equivalent: list[tuple[str, str]] = field(default_factory=list)
    survivors: list[tuple[str, str, str]] = field(default_factory=list)  # name, status, diff
    stale_equivalents: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        counted = self.total - len(self.equivalent)
        return 100.0 * self.killed / counted if counted else 0.0


def load_modules() -> dict[str, dict[str, list[str]]]:
    data = yaml.safe_load((HERE / "modules.yaml").read_text())
    if not isinstance(data, dict):
        raise SystemExit("tests/mutation/modules.yaml: expected a mapping of module name -> mutate/tests")
    for name, spec in data.items():
        for key in ("mutate", "tests"):
            if not isinstance(spec, dict) or not isinstance(spec.get(key), list) or not spec[key]:
                raise SystemExit(f"tests/mutation/modules.yaml: {name}.{key} must be a non-empty list")
    return data


def load_equivalents() -> dict[str, dict[str, str]]:
    data = yaml.safe_load((HERE / "equivalents.yaml").read_text()) or []
    out: dict[str, dict[str, str]] = {}
    for i, entry in enumerate(data):
        fields = ("mutant", "change", "reason")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in fields):
            raise SystemExit(f"tests/mutation/equivalents.yaml: entry [{i}] needs string mutant, change and reason")
        if not entry["reason"].strip():
            raise SystemExit(f"tests/mutation/equivalents.yaml: entry [{i}] ({entry['mutant']}) has an empty reason")
        out[entry["mutant"]] = entry
    return out


def checkout_files() -> list[str]:
    """The files of the working tree that git would commit (tracked and new), never ignored ones."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()
    return [f for f in listing.split("\0") if f and (ROOT / f).is_file()]


def prepare(work: Path, spec: dict[str, list[str]]) -> None:
    """A fresh copy of the checkout in `work`, with a [tool.mutmut] section for this module only."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for rel in checkout_files():
        dest = work / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest)
    tops = sorted({Path(rel).parts[0] for rel in checkout_files()} - {"sitekit", "stacks", "tests", "pyproject.toml"})
    section = {
        "source_paths": ["sitekit", "stacks"],
        "only_mutate": spec["mutate"],
        "also_copy": tops,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-o", "addopts=", "-q", "-p", "no:randomly"],
        "pytest_add_cli_args_test_selection": spec["tests"],
        "use_setproctitle": False,
        "use_git_change_detection": False,
        "process_isolation": spec.get("isolation", "fork"),
    }
    lines = ["", "[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in section.items()]
    with (work / "pyproject.toml").open("a") as fh:
        fh.write("\n".join(lines) + "\n")


def mutmut(work: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run([str(exe), *args], cwd=work, env=env, capture_output=True, text=True)


def diffs(work: Path, wanted: list[tuple[str, str]], env: dict[str, str]) -> dict[str, str]:
    """Each survivor's diff, computed by mutmut's own code in one process (one `mutmut show` each is slow)."""
    if not wanted:
        return {}
    proc = subprocess.run(
        [sys.executable, __file__, "--diffs-of", json.dumps(wanted)], cwd=work, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"mutation: could not read the survivors' diffs:\n{proc.stderr[-2000:]}")
    result: dict[str, str] = json.loads(proc.stdout)
    return result


def print_diffs(wanted: list[tuple[str, str]]) -> None:
    """Inside a mutmut work folder: print {mutant: diff} for the (mutant, source path) pairs given."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    print(json.dumps({name: get_diff_for_mutant(name, path=path) for name, path in wanted}))


def changed_line(diff: str) -> str:
    """The mutated line(s) of a mutant's diff, stripped: the stable part of its identity."""
    return " | ".join(
        line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")
    )


def mutant_order(name: str) -> tuple[str, int]:
    """Sort key: function, then mutmut's ordinal as a number (so _9 comes before _10)."""
    head, _, number = name.rpartition("__mutmut_")
    return head, int(number) if number.isdigit() else -1


def count_module(name: str, spec: dict[str, list[str]], base: Path) -> int:
    """How many mutants mutmut makes of a module, without running any test (for modules not yet measured)."""
    work = base / name
    prepare(work, spec)
    code = "import mutmut.__main__ as m; m.create_mutants(1)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"mutation {name}: mutant generation failed:\n{proc.stderr[-2000:]}")
    return sum(
        len(json.loads(meta.read_text()).get("exit_code_by_key", {})) for meta in (work / "mutants").rglob("*.meta")
    )


def run_module(name: str, spec: dict[str, list[str]], base: Path, only: list[str] | None,
               equivalents: dict[str, dict[str, str]], report_only: bool = False) -> Outcome:
    work = base / name
    if not report_only:
        prepare(work, spec)
    state = Path(tempfile.mkdtemp(prefix="state-", dir=work))
    env = {**os.environ, "SITEKIT_STATE": str(state), "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    names = only or []
    if not report_only:
        proc = mutmut(work, "run", "--max-children", "1", *names, env=env)
        (work / "mutmut-run.log").write_text(proc.stdout + proc.stderr)
    else:
        proc = subprocess.CompletedProcess([], 0, "", "(--report-only: results of the last run)")
    out = Outcome(module=name, seconds=time.monotonic() - started)
    metas = list((work / "mutants").rglob("*.meta"))
    if not metas:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise SystemExit(f"mutation {name}: mutmut produced no results (log {work / 'mutmut-run.log'}):\n{tail}")
    alive: list[tuple[str, str, str]] = []  # mutant, status, source path
    for meta in sorted(metas):
        source = str(meta.relative_to(work / "mutants"))[: -len(".meta")]
        codes: dict[str, Any] = json.loads(meta.read_text()).get("exit_code_by_key", {})
        for mutant, code in sorted(codes.items(), key=lambda kv: mutant_order(kv[0])):
            if only and not any(fnmatch.fnmatch(mutant, pattern) for pattern in only):
                continue
            out.total += 1
            if code in KILLED:
                out.killed += 1
                out.timeouts += KILLED[code] == "timeout"
                continue
            alive.append((mutant, SURVIVED.get(code, "not checked" if code is None else f"suspicious (exit {code})"),
                          source))
    shown = diffs(work, [(m, src) for m, _, src in alive], env)
    for mutant, status, _ in alive:
        diff = shown[mutant]
        known = equivalents.get(mutant)
        if known and status == "survived" and known["change"] == changed_line(diff):
            out.equivalent.append((mutant, known["reason"]))
            continue
        if known:
            out.stale_equivalents.append(mutant)
        out.survivors.append((mutant, status, diff))
    return out


def report(out: Outcome) -> None:
    print(f"== {out.module}: {out.score:.1f}% killed ({out.seconds:.0f} s)")
    print(f"   mutants {out.total}, killed {out.killed} (of which timeouts {out.timeouts}), "
          f"survived {len(out.survivors)}, equivalent {len(out.equivalent)}")
    for mutant, reason in out.equivalent:
        print(f"   equivalent {mutant}: {reason}")
    for mutant in out.stale_equivalents:
        print(f"   STALE equivalents.yaml entry {mutant}: the mutant changed or was killed; review it")
    for mutant, status, diff in out.survivors:
        print(f"   {status}: {mutant}")
        for line in diff.splitlines():
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
                print(f"      {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="names from tests/mutation/modules.yaml (default: all)")
    parser.add_argument("--only", action="append", help="test only mutants whose name matches this glob (repeatable)")
    parser.add_argument("--min-score", type=float, default=0.0, help="exit 1 if a module scores below this")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--report-only", action="store_true",
                        help="report the last run's results again (e.g. after editing equivalents.yaml)")
    parser.add_argument("--count", action="store_true", help="only count each module's mutants (runs no test)")
    parser.add_argument("--diffs-of", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.diffs_of:
        print_diffs([(name, path) for name, path in json.loads(args.diffs_of)])
        return 0
    modules = load_modules()
    unknown = [m for m in args.modules if m not in modules]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(modules)}")
    equivalents = load_equivalents()
    base = Path(os.environ.get("SITEKIT_MUTATION_DIR") or ROOT / ".mutation")
    if args.count:
        for m in args.modules or list(modules):
            print(f"{m}: {count_module(m, modules[m], base)} mutants")
        return 0
    outcomes = [run_module(m, modules[m], base, args.only, equivalents, args.report_only)
                for m in args.modules or list(modules)]
    for out in outcomes:
        report(out)
    if args.json:
        args.json.write_text(json.dumps([
            {"module": o.module, "total": o.total, "killed": o.killed, "timeouts": o.timeouts,
             "equivalent": len(o.equivalent), "survived": len(o.survivors), "score": round(o.score, 1),
             "seconds": round(o.seconds), "survivors": [s[0] for s in o.survivors]}
            for o in outcomes
        ], indent=2))
    low = [o.module for o in outcomes if o.score < args.min_score]
    if low:
        print(f"below {args.min_score:.0f}% killed: {', '.join(low)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
