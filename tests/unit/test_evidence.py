"""Evidence files of `sitekit verify` (`sitekit/verify/evidence.py`), each mechanism alone and to the exact
output: the counts and the verdict, the JSON record and its defaults, the JUnit XML, the printed summary,
and how observed and expected values are rendered readably (cut between items, never inside one)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from sitekit.verify.evidence import (
    SCHEMA,
    HostEvidence,
    _first_line,
    _short,
    _text,
    junit_xml,
    load_evidence,
    mismatch,
    summary_table,
    write_evidence,
)


def _ev(results: list[dict[str, Any]], errors: list[str] | None = None, **kw: Any) -> HostEvidence:
    base: dict[str, Any] = {
        "country": "ee",
        "host": "ee-cp-1",
        "inventory": "inventories/ee",
        "catalogue_sha256": "abc",
        "started": "2026-01-01T00:00:00+00:00",
        "finished": "2026-01-01T00:00:05+00:00",
        "duration_s": 4.25,
        "facts": {"tier": "vm"},
    }
    base.update(kw)
    return HostEvidence(results=results, errors=errors or [], **base)


def _r(result: str, **kw: Any) -> dict[str, Any]:
    return {"result": result, **kw}


# -- counts and the verdict --------------------------------------------------------------------------------


def test_summary_counts_each_result_and_adds_run_errors_to_errors() -> None:
    ev = _ev(
        [_r("passed"), _r("passed"), _r("failed"), _r("skipped"), _r("error"), _r("something else")],
        errors=["ssh refused", "timed out"],
    )
    assert ev.summary == {"passed": 2, "failed": 1, "skipped": 1, "error": 3}
    assert list(ev.summary) == ["passed", "failed", "skipped", "error"]
    assert _ev([]).summary == {"passed": 0, "failed": 0, "skipped": 0, "error": 0}


@pytest.mark.parametrize(
    ("results", "errors", "ok"),
    [
        (["passed"], [], True),
        (["skipped"], [], True),  # skipped is never counted as passed, but is not a failure either
        (["passed", "skipped"], [], True),
        (["passed", "passed", "skipped"], [], True),
        ([], [], False),  # no result at all: nothing was verified
        (["passed", "failed"], [], False),
        (["passed", "error"], [], False),
        (["passed"], ["pytest exited 2 without evidence"], False),
        ([], ["pytest exited 2 without evidence"], False),
    ],
)
def test_a_host_is_ok_only_with_results_and_no_failure_or_error(
    results: list[str], errors: list[str], ok: bool
) -> None:
    assert _ev([_r(x) for x in results], errors=errors).ok is ok


# -- the JSON record ---------------------------------------------------------------------------------------


def test_json_record_has_every_field_in_order() -> None:
    ev = _ev([_r("passed", control="SK-A-001")], errors=["e"], facts={"tier": "vm", "os": "Debian"})
    assert ev.to_json() == {
        "schema": "sitekit.evidence/1",
        "country": "ee",
        "host": "ee-cp-1",
        "inventory": "inventories/ee",
        "catalogue_sha256": "abc",
        "started": "2026-01-01T00:00:00+00:00",
        "finished": "2026-01-01T00:00:05+00:00",
        "duration_s": 4.25,
        "facts": {"tier": "vm", "os": "Debian"},
        "summary": {"passed": 1, "failed": 0, "skipped": 0, "error": 1},
        "errors": ["e"],
        "results": [{"result": "passed", "control": "SK-A-001"}],
    }
    assert next(iter(ev.to_json())) == "schema" and SCHEMA == "sitekit.evidence/1"


def test_json_record_reads_back_with_defaults_and_refuses_other_files() -> None:
    minimal = {"schema": SCHEMA, "country": "ke", "host": "h", "started": "s", "finished": "f"}
    ev = HostEvidence.from_json(minimal)
    assert ev == HostEvidence("ke", "h", "", "", "s", "f", 0.0)
    assert (ev.facts, ev.results, ev.errors) == ({}, [], [])
    full = _ev([_r("failed", reason="x")], errors=["e"]).to_json() | {"duration_s": "4.5"}
    again = HostEvidence.from_json(full)
    assert again.duration_s == 4.5 and isinstance(again.duration_s, float)
    assert (again.inventory, again.catalogue_sha256, again.facts) == ("inventories/ee", "abc", {"tier": "vm"})
    assert (again.results, again.errors) == ([{"result": "failed", "reason": "x"}], ["e"])
    with pytest.raises(ValueError, match=r"^not sitekit evidence \('sitekit.openscap/1'\)$"):
        HostEvidence.from_json(minimal | {"schema": "sitekit.openscap/1"})
    with pytest.raises(ValueError, match=r"^not sitekit evidence \(None\)$"):
        HostEvidence.from_json({"country": "ke"})


def test_written_files_are_the_record_and_the_junit_and_read_back_equal(tmp_path: Path) -> None:
    ev = _ev([_r("passed", control="SK-A-001", observed={"b": 1, "a": [2]})], errors=["e"])
    out = tmp_path / "evidence" / "ee"  # neither folder exists yet
    jpath, xpath = write_evidence(ev, out)
    assert (jpath, xpath) == (out / "ee-cp-1.json", out / "ee-cp-1.junit.xml")
    assert jpath.read_text() == json.dumps(ev.to_json(), indent=2) + "\n"  # keys kept in record order
    assert xpath.read_bytes().startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<testsuites>\n  <testsuite ")
    assert load_evidence(jpath) == ev
    write_evidence(ev, out)  # the folder exists now: written again in place
    assert load_evidence(jpath) == ev


def test_a_non_json_value_in_a_result_is_written_as_text(tmp_path: Path) -> None:
    ev = _ev([_r("passed", observed=Path("/etc/ssh"))])
    jpath, _ = write_evidence(ev, tmp_path)
    assert json.loads(jpath.read_text())["results"] == [{"result": "passed", "observed": "/etc/ssh"}]


# -- value rendering ---------------------------------------------------------------------------------------


def test_text_of_a_value() -> None:
    assert _text(None) == ""
    assert _text("as is, not quoted") == "as is, not quoted"
    assert _text({"b": 1, "a": [True, None]}) == '{"a": [true, null], "b": 1}'  # keys sorted
    assert _text(0) == "0" and _text(False) == "false"
    assert _text(Path("/etc")) == '"/etc"'


def test_short_keeps_a_value_up_to_the_limit() -> None:
    assert _short("x" * 160) == "x" * 160
    assert _short("x" * 161) == "x" * 160 + "... (161 characters)"
    assert _short("x" * 20, 20) == "x" * 20
    assert _short("x" * 21, 20) == "x" * 20 + "... (21 characters)"


def test_short_cuts_a_mapping_between_items() -> None:
    # '"a": 1' (6) + 2 + '"b": 1234567' (12) is exactly 20: kept; the third item is not
    assert _short({"a": 1, "b": 1234567, "c": 3}, 20) == '{"a": 1, "b": 1234567, ... 1 more}'
    assert _short({"a": 1, "b": 12345678, "c": 3}, 20) == '{"a": 1, ... 2 more}'
    assert _short({"k": "vvvvvvvvvv", "l": "w"}, 20) == '{"k": "vvvvvvvvvv", ... 1 more}'  # strings quoted
    assert _short({"k": {"z": 1, "y": 2}, "m": 1}, 21) == '{"k": {"y": 2, "z": 1}, ... 1 more}'
    assert _short({"kkkkkkkkkkkkkkkkkkkkkk": 1}, 20) == '{"kkkkkkkkkkkkkkkkkk... (29 characters)'


def test_short_shows_a_first_item_over_the_limit_shortened_not_dropped() -> None:
    nested = {"options": {"/boot": ["nodev", "nosuid", "noexec"], "/home": ["nodev"], "/usr": ["nodev"]}, "more": [1]}
    assert _short(nested, 60) == '{"options": {"/boot": ["nodev", "nosuid", "noexec"], ... 2 more}, ... 1 more}'
    assert _short({"k": "v" * 30, "m": 1}, 20) == '{"k": vvvvvvvvvvvvvvv... (30 characters), ... 1 more}'
    assert _short([["a" * 30, "b"], 2], 20) == "[[aaaaaaaaaaaaaaaaaaaa... (30 characters), ... 1 more], ... 1 more]"
    # the shortened first item gets what the limit leaves after its key, but never less than 10
    assert _short({"kkkkkkkkkkkkkkkkkkkkkkkkk": "w" * 40, "m": 1}, 20) == (
        '{"kkkkkkkkkkkkkkkkkkkkkkkkk": wwwwwwwwww... (40 characters), ... 1 more}'
    )


def test_short_cuts_a_list_between_items() -> None:
    # 10 + 2 + 8 is exactly 20: kept; the third item is not
    assert _short([1234567890, 12345678, 5], 20) == "[1234567890, 12345678, ... 1 more]"
    assert _short([1234567890, 123456789, 5], 20) == "[1234567890, ... 2 more]"
    assert _short(["aaaaaaaa", "b", "c"], 14) == '["aaaaaaaa", ... 2 more]'  # strings quoted
    assert _short([{"b": 2, "a": 1}, 3, 4], 18) == '[{"a": 1, "b": 2}, ... 2 more]'


def test_short_of_items_that_all_fit_but_not_their_brackets_cuts_the_text() -> None:
    assert _short([123456789, 123456789], 20) == "[123456789, 12345678... (22 characters)"
    assert _short({"a": 1234567, "b": 1}, 20) == '{"a": 1234567, "b": ... (22 characters)'


def test_mismatch_of_two_mappings_names_only_the_keys_that_differ() -> None:
    observed = {"a": "yes", "b": "no", "only_observed": 1, "c": [1]}
    expected = {"c": [2], "a": "no", "b": "no", "only_expected": 2}
    assert mismatch(observed, expected) == "c: observed [1], expected [2]; a: observed yes, expected no"


def test_mismatch_lists_six_keys_then_counts_the_rest() -> None:
    six = mismatch({f"k{i}": 1 for i in range(6)}, {f"k{i}": 2 for i in range(6)})
    assert six == "; ".join(f"k{i}: observed 1, expected 2" for i in range(6))
    seven = mismatch({f"k{i}": 1 for i in range(7)}, {f"k{i}": 2 for i in range(7)})
    assert seven == six + "; ... 1 more"
    nine = mismatch({f"k{i}": 1 for i in range(9)}, {f"k{i}": 2 for i in range(9)})
    assert nine == six + "; ... 3 more"


def test_mismatch_cuts_each_differing_value_at_80() -> None:
    assert (
        mismatch({"k": "y" * 81}, {"k": "n" * 80}) == f"k: observed {'y' * 80}... (81 characters), expected {'n' * 80}"
    )
    assert (
        mismatch({"k": "y" * 80}, {"k": "n" * 81}) == f"k: observed {'y' * 80}, expected {'n' * 80}... (81 characters)"
    )


def test_mismatch_of_anything_else_shows_both_values() -> None:
    assert mismatch(None, None) == ""
    assert mismatch("alias", "masked") == "observed: alias; expected: masked"
    assert mismatch("alias", None) == "observed: alias"
    assert mismatch(None, "masked") == "expected: masked"
    assert mismatch(0, False) == "observed: 0; expected: false"
    # mappings without a differing shared key: both in full
    assert mismatch({"a": 1}, {"b": 1}) == 'observed: {"a": 1}; expected: {"b": 1}'
    assert mismatch({"a": 1}, {"a": 1}) == 'observed: {"a": 1}; expected: {"a": 1}'
    assert mismatch({"a": 1}, [1]) == 'observed: {"a": 1}; expected: [1]'
    assert mismatch("x" * 161, "y") == f"observed: {'x' * 160}... (161 characters); expected: y"


def test_first_line_of_a_reason() -> None:
    assert _first_line("") == "" and _first_line("  \n ") == ""
    assert _first_line("\n  first line\nsecond") == "first line"
    assert _first_line("z" * 201) == "z" * 200
    assert _first_line("z" * 200) == "z" * 200


# -- JUnit XML ---------------------------------------------------------------------------------------------


JUNIT = """<testsuites>
  <testsuite name="sitekit.verify.ee.ee-cp-1" tests="5" failures="1" errors="2" skipped="1" time="4.250" \
timestamp="2026-01-01T00:00:00+00:00" hostname="ee-cp-1">
    <properties>
      <property name="fact.hostname" value="ee-cp-1" />
      <property name="fact.os" value="Debian GNU/Linux 12" />
      <property name="fact.kernel" value="6.1.0" />
      <property name="fact.virt" value="none" />
      <property name="fact.tier" value="vm" />
      <property name="catalogue_sha256" value="abc" />
    </properties>
    <testcase classname="SK-SSH-008" name="t::a" time="0.250">
      <properties>
        <property name="observed" value="no" />
        <property name="expected" value="no" />
        <property name="time" value="2026-01-01T00:00:01+00:00" />
      </properties>
    </testcase>
    <testcase classname="SK-FW-003" name="t::b" time="1.000">
      <properties>
        <property name="observed" value="{&quot;tcp&quot;: [22]}" />
        <property name="expected" value="{&quot;tcp&quot;: []}" />
      </properties>
      <failure message="SSH open&#10;to all">SSH open
to all</failure>
    </testcase>
    <testcase classname="SK-AUD-001" name="t::c" time="0.000">
      <properties>
        <property name="observed" value="0" />
        <property name="deviation" value="accepted" />
      </properties>
      <skipped message="not verifiable on this tier" />
    </testcase>
    <testcase classname="uncatalogued" name="t::d" time="0.000">
      <properties>
        <property name="observed" value="false" />
      </properties>
      <error message="no check ran">no check ran</error>
    </testcase>
    <testcase classname="sitekit.verify" name="run-error-0" time="0">
      <error message="ssh: timed out&#10;second line">ssh: timed out
second line</error>
    </testcase>
  </testsuite>
</testsuites>"""


def _junit_ev(**kw: Any) -> HostEvidence:
    facts = {
        "hostname": "ee-cp-1",
        "os": "Debian GNU/Linux 12",
        "kernel": "6.1.0",
        "virt": "none",
        "tier": "vm",
        "groups": ["control_plane"],  # not a junit property
        "address": "10.0.0.1",
    }
    results = [
        _r(
            "passed",
            control="SK-SSH-008",
            observed="no",
            expected="no",
            test_id="t::a",
            duration_s=0.25,
            time="2026-01-01T00:00:01+00:00",
            deviation="",
        ),
        _r(
            "failed",
            control="SK-FW-003",
            observed={"tcp": [22]},
            expected={"tcp": []},
            reason="SSH open\nto all",
            test_id="t::b",
            duration_s=1,
        ),
        _r(
            "skipped",
            control="SK-AUD-001",
            reason="not verifiable on this tier",
            test_id="t::c",
            observed=0,
            expected=None,
            deviation="accepted",
        ),
        _r("error", control=None, reason="no check ran", test_id="t::d", observed=False),
    ]
    return _ev(results, errors=["ssh: timed out\nsecond line"], facts=facts, **kw)


def test_junit_has_one_case_per_result_and_per_run_error() -> None:
    assert ET.tostring(junit_xml(_junit_ev()).getroot(), encoding="unicode") == JUNIT


def test_junit_without_facts_or_test_ids() -> None:
    ev = _ev([_r("passed", control="SK-A-001")], facts={})
    xml = ET.tostring(junit_xml(ev).getroot(), encoding="unicode")
    assert xml == (
        '<testsuites>\n  <testsuite name="sitekit.verify.ee.ee-cp-1" tests="1" failures="0" errors="0" skipped="0" '
        'time="4.250" timestamp="2026-01-01T00:00:00+00:00" hostname="ee-cp-1">\n    <properties>\n'
        '      <property name="catalogue_sha256" value="abc" />\n    </properties>\n'
        '    <testcase classname="SK-A-001" name="" time="0.000">\n      <properties />\n    </testcase>\n'
        "  </testsuite>\n</testsuites>"
    )


@pytest.mark.parametrize("result", ["failed", "error", "skipped"])
def test_junit_cuts_a_long_message_at_500_but_keeps_the_whole_text(result: str) -> None:
    reason = "".join(f"{i:04}" for i in range(150))  # 600 characters, each cut point distinct
    ev = _ev([_r(result, control="SK-A-001", reason=reason)], errors=[reason])
    cases = list(junit_xml(ev).getroot().iter("testcase"))
    (mark,) = [m for m in cases[0] if m.tag != "properties"]
    assert mark.tag == {"failed": "failure", "error": "error", "skipped": "skipped"}[result]
    assert mark.get("message") == reason[:500]
    assert mark.text == (None if result == "skipped" else reason)
    without = _ev([_r(result, control="SK-A-001")])  # no reason recorded: an empty one, not "None"
    (case,) = list(junit_xml(without).getroot().iter("testcase"))
    (mark,) = [m for m in case if m.tag != "properties"]
    assert (mark.get("message"), mark.text or "") == ("", "")
    (run_error,) = list(cases[1])
    assert (run_error.tag, run_error.get("message"), run_error.text) == ("error", reason[:500], reason)


# -- the printed summary -----------------------------------------------------------------------------------


def test_summary_table_of_a_host_with_failures_and_run_errors() -> None:
    ev = _junit_ev()
    ev.results[3]["reason"] = "\n" + "R" * 250 + "\nsecond line"
    assert summary_table([ev]).splitlines() == [
        "host                 passed failed skipped error    time  tier",
        "ee-cp-1                   1      1       1     2    4.2s  vm",
        "",
        "failed controls:",
        "  ee-cp-1        SK-FW-003      failed SSH open  (tcp: observed [22], expected [])",
        "  ee-cp-1        ?              error  " + "R" * 200 + "  (observed: false)",
        "  ee-cp-1        run error: ssh: timed out",
    ]


def test_summary_table_of_clean_hosts_has_no_failure_section() -> None:
    a = _ev([_r("passed", control="SK-A-001")], host="ee-cp-1", duration_s=12.35)
    b = _ev([_r("skipped", control="SK-A-001", reason="tier")], host="ee-gpu-worker-01", facts={})
    assert summary_table([a, b]) == "\n".join(
        [
            "host                 passed failed skipped error    time  tier",
            "ee-cp-1                   1      0       0     0   12.3s  vm",
            "ee-gpu-worker-01          0      0       1     0    4.2s  ?",
        ]
    )


def test_summary_table_shows_a_failure_without_values_and_run_errors_alone() -> None:
    failed = _ev([_r("failed", control="SK-A-002", reason="no")])
    assert summary_table([failed]).splitlines()[2:] == [
        "",
        "failed controls:",
        "  ee-cp-1        SK-A-002       failed no",
    ]
    no_reason = _ev([_r("error", control="SK-A-003")])
    assert summary_table([no_reason]).splitlines()[4] == "  ee-cp-1        SK-A-003       error  "
    broken = _ev([], errors=["pytest exited 2 without evidence: boom\nmore"])
    assert summary_table([broken]).splitlines() == [
        "host                 passed failed skipped error    time  tier",
        "ee-cp-1                   0      0       0     1    4.2s  vm",
        "  ee-cp-1        run error: pytest exited 2 without evidence: boom",
    ]
