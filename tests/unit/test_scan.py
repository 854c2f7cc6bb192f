"""`sitekit scan` without a host: OpenSCAP result parsing, the accepted failures, and the content
fetcher's isolation from this machine's apt configuration."""

from __future__ import annotations

from pathlib import Path

from sitekit.scan import openscap
from sitekit.scan.content import _apt_options, machine_mirror

RESULTS = """<?xml version="1.0"?>
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2"><TestResult>
<rule-result idref="xccdf_org.ssgproject.content_rule_sysctl_net_ipv4_ip_forward"><result>fail</result></rule-result>
<rule-result idref="xccdf_org.ssgproject.content_rule_sshd_disable_root_login"><result>pass</result></rule-result>
<rule-result idref="xccdf_org.ssgproject.content_rule_grub2_audit_argument"><result>notapplicable</result></rule-result>
<rule-result idref="xccdf_org.ssgproject.content_rule_service_auditd_enabled"><result>fail</result></rule-result>
<rule-result idref="xccdf_org.ssgproject.content_rule_x"><result>notselected</result></rule-result>
<score system="urn:xccdf:scoring:default" maximum="100">61.5</score>
</TestResult></Benchmark>"""


def test_openscap_counts_ratio_and_reasons(tmp_path: Path) -> None:
    res = tmp_path / "r.xml"
    res.write_text(RESULTS)
    accepted = {
        "sysctl_net_ipv4_ip_forward": {"kind": "deviation", "control": "SK-SYS-003", "reason": "pods route"},
        "service_auditd_enabled": {"kind": "tier", "tiers": ["container"], "reason": "no audit in a container"},
    }
    r = openscap.summarise("h", "anssi_bp28_enhanced", "container", res, res, accepted, "t", 1.0)
    assert (r.counts["pass"], r.counts["fail"], r.counts["notapplicable"]) == (1, 2, 1)
    assert "notselected" not in r.counts
    assert r.score == 61.5 and abs(r.ratio - 1 / 3) < 1e-9
    assert not r.unexplained
    vm = openscap.summarise("h", "p", "vm", res, res, accepted, "t", 1.0)
    assert [f["rule"] for f in vm.unexplained] == ["service_auditd_enabled"]
    assert "UNEXPLAINED" in openscap.render_summary(vm)


def test_accepted_openscap_failures_name_catalogued_controls() -> None:
    from sitekit.controls import controls_by_id

    by_id = controls_by_id()
    for rule, entry in openscap.load_accepted().items():
        assert entry.get("reason"), f"{rule}: no reason"
        kinds = ("deviation", "tier", "plan", "content", "duty", "kernel")
        assert entry.get("kind") in kinds, f"{rule}: kind {entry.get('kind')}"
        assert (entry["kind"] == "duty") == bool(entry.get("duties")), f"{rule}: a duty entry names its duties"
        if entry["kind"] == "deviation":
            control = by_id.get(str(entry.get("control")))
            assert control is not None and control.deviation is not None, f"{rule}: not a catalogued deviation"


def test_content_fetch_uses_its_own_apt_folders_only(tmp_path: Path) -> None:
    opts = " ".join(_apt_options(tmp_path))
    for key in ("Dir::Etc::SourceList", "Dir::Etc::SourceParts", "Dir::State::Lists", "Dir::Cache"):
        assert f"{key}={tmp_path}" in opts
    etc = tmp_path / "etc"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
    )
    assert machine_mirror(etc) == "http://mirror.example/debian"


def test_a_duty_reason_holds_only_on_a_host_with_that_duty() -> None:
    accepted = {"rsyslog_remote_loghost": {"kind": "duty", "duties": ["log_collector"], "reason": "receives"}}
    on_collector = openscap.explain("rsyslog_remote_loghost", "vm", accepted, duties=frozenset({"log_collector"}))
    assert on_collector["kind"] == "duty" and on_collector["reason"] == "receives"
    elsewhere = openscap.explain("rsyslog_remote_loghost", "vm", accepted)
    assert elsewhere == {"kind": "", "reason": ""}


def test_host_duties_name_the_spec_s_log_collector_only() -> None:
    collector = {"sitekit_log_collector": {"name": "ee-cp-1", "address": "10.20.0.10", "port": 6514}}
    assert openscap.host_duties("ee-cp-1", collector) == frozenset({"log_collector"})
    assert openscap.host_duties("ee-gpu-1", collector) == frozenset()
    assert openscap.host_duties("ee-cp-1", {}) == frozenset()
    assert openscap.host_duties("ee-cp-1", {"sitekit_log_collector": "ee-cp-1"}) == frozenset()
