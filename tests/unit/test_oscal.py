"""OSCAL output: the component definition and a country's assessment results validate against NIST's
published OSCAL 1.2.3 JSON schema (vendored, digest-checked) and say what the evidence says."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import regex
from evidence_fixture import write_country_evidence
from jsonschema import validators

from sitekit.errors import UserError
from sitekit.oscal.component import component_definition
from sitekit.oscal.ids import framework_control_id
from sitekit.oscal.results import assessment_results, load_country_evidence
from sitekit.spec import Site, load_fleet

REPO = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).with_name("oscal_schema") / "oscal_complete_schema-1.2.3.json"
SCHEMA_SHA256 = "384324105c7a817af0f65b120a963146caa0e0d55d969cf0daf60e063b87a206"
WHEN = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    """JSON Schema `pattern` with the `regex` module: NIST's patterns use \\p{L}, which `re` lacks."""
    if isinstance(instance, str) and not regex.search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.cache
def _validator() -> Any:
    raw = SCHEMA.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, "vendored OSCAL schema is not NIST's file"
    cls = validators.extend(jsonschema.Draft7Validator, {"pattern": _pattern})
    return cls(json.loads(raw), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def oscal_errors(doc: dict[str, Any]) -> list[str]:
    """Every schema violation of `doc`, with its JSON path."""
    return [f"{e.json_path}: {e.message}" for e in _validator().iter_errors(doc)]


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("ee")


@pytest.fixture(scope="module")
def results(site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("evidence")
    write_country_evidence(folder, "ee")
    return assessment_results(site, load_country_evidence(folder), WHEN)


def test_component_definition_validates_and_maps_every_control() -> None:
    doc = component_definition(WHEN)
    assert oscal_errors(doc) == []
    comps = doc["component-definition"]["components"]
    sitekit_ids = {
        r["control-id"]
        for c in comps
        for impl in c["control-implementations"]
        if impl["source"].endswith("controls.yaml")
        for r in impl["implemented-requirements"]
    }
    from sitekit.controls import load_controls

    assert sitekit_ids == {c.id for c in load_controls()}
    ssh = next(c for c in comps if c["title"].endswith(" ssh"))
    nist = next(i for i in ssh["control-implementations"] if "800-53" in i["description"])
    assert all(
        p["name"] in ("framework-id", "implemented-by") for r in nist["implemented-requirements"] for p in r["props"]
    )
    sys3 = next(
        r
        for c in comps
        for i in c["control-implementations"]
        for r in i["implemented-requirements"]
        if r["control-id"] == "SK-SYS-003"
    )
    assert any(p["name"] == "deviation" for p in sys3["props"])
    assert {"ansible-tag", "ansible-role", "check", "applies-to"} <= {p["name"] for p in sys3["props"]}


def test_assessment_results_validate_against_the_nist_schema(results: dict[str, Any]) -> None:
    assert oscal_errors(results) == []


def test_schema_check_can_fail(results: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(results))
    broken["assessment-results"]["results"][0]["observations"][0]["uuid"] = "not-a-uuid"
    del broken["assessment-results"]["metadata"]["title"]
    errors = oscal_errors(broken)
    assert any("uuid" in e for e in errors) and any("title" in e for e in errors)


def test_results_carry_observed_expected_findings_skips_and_risks(results: dict[str, Any]) -> None:
    result = results["assessment-results"]["results"][0]
    obs = {o["title"]: o for o in result["observations"]}
    failed = obs["SK-SSH-004 on ee-gpu-1: failed"]
    props = {p["name"]: p["value"] for p in failed["props"]}
    assert props["observed"] == '{"passwordauthentication": "yes"}'
    assert props["expected"] == '{"passwordauthentication": "no"}'
    skipped = {p["name"]: p["value"] for p in obs["SK-AUD-001 on ee-cp-1: skipped"]["props"]}
    assert skipped["skip-reason"].startswith("not verifiable on this tier")
    findings = {f["title"] for f in result["findings"]}
    assert findings == {
        "SK-SSH-004 not satisfied on ee-gpu-1",
        "Unexplained OpenSCAP failure package_x_removed on ee-cp-1",
    }
    accepted = {d.control for d in load_fleet(REPO / "sites").site("ee").compliance.deviations}
    assert {r["title"].rsplit(" ", 1)[1] for r in result["risks"]} == accepted
    risk = next(r for r in result["risks"] if r["title"].endswith("SK-SYS-003"))
    assert risk["status"] == "deviation-approved"
    dev = {p["name"]: p["value"] for p in obs["SK-SYS-003 on ee-cp-1: passed"]["props"]}
    assert dev["deviation-risk"] == risk["uuid"]
    scan = next(o for o in result["observations"] if o["title"].startswith("OpenSCAP anssi"))
    assert {p["name"]: p["value"] for p in scan["props"]}["pass-ratio"] == "0.9000"


def test_same_evidence_same_document(site: Site, tmp_path: Path, results: dict[str, Any]) -> None:
    write_country_evidence(tmp_path, "ee")
    assert assessment_results(site, load_country_evidence(tmp_path), WHEN) == results


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read evidence"),
        ('["a list"]', "must be a JSON object"),
        ('{"schema": "other/1"}', "not sitekit evidence"),
        ('{"schema": "sitekit.evidence/1", "country": "ee"}', "malformed evidence"),
        (
            '{"schema": "sitekit.evidence/1", "country": "ee", "host": "h", "started": "2026-01-01T00:00:00",'
            ' "finished": "2026-01-01T00:00:00",'
            ' "results": [{"result": "maybe"}]}',
            r"results\[0\]\.result",
        ),
        (
            '{"schema": "sitekit.evidence/1", "country": "ee", "host": "h", "started": "yesterday",'
            ' "finished": "y", "results": []}',
            "started: not an ISO time",
        ),
        ('{"schema": "sitekit.openscap/1", "host": "h"}', "not sitekit evidence"),
    ],
)
def test_hostile_evidence_is_an_error_naming_the_file(site: Site, tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "ee-cp-1.json").write_text(content)
    with pytest.raises(UserError, match=message) as info:
        assessment_results(site, load_country_evidence(tmp_path), WHEN)
    assert "ee-cp-1.json" in str(info.value)


def test_no_evidence_is_an_error(site: Site, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no evidence for ee"):
        assessment_results(site, load_country_evidence(tmp_path / "none"), WHEN)


@pytest.mark.parametrize(
    ("framework", "ref", "oscal"),
    [
        ("nist_800_53", "AC-2(1)", "ac-2.1"),
        ("nist_800_53", "SC-7", "sc-7"),
        ("anssi_bp028", "R12", "r12"),
        ("cis_debian12", "3.3.7", "cis-3.3.7"),
    ],
)
def test_framework_ids_as_oscal_tokens(framework: str, ref: str, oscal: str) -> None:
    assert framework_control_id(framework, ref) == oscal


def test_hostile_scan_summary_is_an_error_naming_the_file(site: Site, tmp_path: Path) -> None:
    (tmp_path / "openscap").mkdir()
    bad = tmp_path / "openscap" / "ee-cp-1.openscap.json"
    bad.write_text('{"schema": "sitekit.openscap/1", "host": "ee-cp-1", "started": "x", "counts": [], "failures": []}')
    with pytest.raises(UserError, match="'counts' missing or not a dict") as info:
        load_country_evidence(tmp_path)
    assert str(bad) in str(info.value)


def test_scan_summaries_written_next_to_the_evidence_count_too(site: Site, tmp_path: Path) -> None:
    write_country_evidence(tmp_path, "ee")
    (tmp_path / "openscap" / "ee-cp-1.openscap.json").rename(tmp_path / "ee-cp-1.openscap.json")
    evidence = load_country_evidence(tmp_path)
    assert [s["host"] for s in evidence.scans] == ["ee-cp-1"]
    assert "evidence/openscap/ee-cp-1.openscap.json" in evidence.files
    assert oscal_errors(assessment_results(site, evidence, WHEN)) == []
