"""`sitekit scan`'s tailoring: the XCCDF 1.2 file it gives oscap, the values it sets from the inventory,
and what the report says about them."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sitekit.scan import openscap
from sitekit.scan.content import content_root
from sitekit.scan.tailoring import TAILORABLE, tailoring_for, tailoring_xml, value_defaults

X = "{http://checklists.nist.gov/xccdf/1.2}"
CONTACT = "security@ee.sovereign.example"
MAIL_VALUE = "xccdf_org.ssgproject.content_value_var_postfix_root_mail_alias"
BASE = "xccdf_org.ssgproject.content_profile_anssi_bp28_enhanced"


def test_no_contact_no_tailoring() -> None:
    assert tailoring_for({}, "anssi_bp28_enhanced", "cl") is None
    assert tailoring_for({"sitekit_security_contact": ""}, "anssi_bp28_enhanced", "cl") is None


def test_the_tailoring_file_parses_back_with_the_profile_and_the_contact() -> None:
    t = tailoring_for({"sitekit_security_contact": CONTACT}, "anssi_bp28_enhanced", "ee")
    assert t is not None
    root = ET.fromstring(tailoring_xml(t, "2026-01-01T00:00:00+00:00"))
    assert root.tag == f"{X}Tailoring" and root.get("id") == "xccdf_org.sitekit_tailoring_ee"
    version = root.find(f"{X}version")
    assert version is not None and version.text == "1" and version.get("time") == "2026-01-01T00:00:00+00:00"
    profiles = root.findall(f"{X}Profile")
    assert len(profiles) == 1
    prof = profiles[0]
    # XCCDF 1.2 ids: xccdf_<namespace>_profile_<name>, and it extends the profile the scan was asked for
    assert prof.get("id") == t.profile == "xccdf_org.sitekit_profile_anssi_bp28_enhanced_ee"
    assert prof.get("extends") == BASE
    assert prof.find(f"{X}title") is not None
    values = {sv.get("idref"): sv.text for sv in prof.findall(f"{X}set-value")}
    assert values == {MAIL_VALUE: CONTACT}


def test_a_full_profile_id_is_extended_as_given() -> None:
    t = tailoring_for({"sitekit_security_contact": CONTACT}, BASE, "ee")
    assert t is not None and t.base_profile == BASE and t.profile.endswith("_profile_anssi_bp28_enhanced_ee")


def test_the_value_is_escaped_as_xml_text() -> None:
    # The spec refuses such a contact; the file must still never carry markup from a variable.
    t = tailoring_for({"sitekit_security_contact": "a<b>&c@x.example"}, "p", "ee")
    assert t is not None
    root = ET.fromstring(tailoring_xml(t, "2026-01-01T00:00:00+00:00"))
    assert [sv.text for sv in root.iter(f"{X}set-value")] == ["a<b>&c@x.example"]


def test_every_tailorable_value_names_its_variable_and_reason() -> None:
    for tv in TAILORABLE:
        assert tv.variable.startswith("sitekit_") and len(tv.reason) > 20


RESULTS = """<?xml version="1.0"?>
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2"><TestResult>
<rule-result idref="xccdf_org.ssgproject.content_rule_postfix_client_configure_mail_alias"><result>pass</result>
</rule-result></TestResult></Benchmark>"""


def test_the_report_says_which_values_were_tailored_and_why(tmp_path: Path) -> None:
    res = tmp_path / "r.xml"
    res.write_text(RESULTS)
    t = tailoring_for({"sitekit_security_contact": CONTACT}, "anssi_bp28_enhanced", "ee")
    assert t is not None
    tailored = t.report({"var_postfix_root_mail_alias": "change_me@localhost"})
    r = openscap.summarise("h", "anssi_bp28_enhanced", "vm", res, res, {}, "t", 1.0, tailored)
    assert r.to_json()["tailored"] == [
        {
            "value": "var_postfix_root_mail_alias",
            "set_to": CONTACT,
            "profile_default": "change_me@localhost",
            "from": "sitekit_security_contact",
            "why": TAILORABLE[0].reason,
        }
    ]
    text = openscap.render_summary(r)
    assert f"var_postfix_root_mail_alias = '{CONTACT}' (profile: 'change_me@localhost'" in text
    assert "security contact" in text
    plain = openscap.summarise("h", "anssi_bp28_enhanced", "vm", res, res, {}, "t", 1.0)
    assert plain.to_json()["tailored"] == []
    assert "tailored profile values: none" in openscap.render_summary(plain)


def _datastream() -> Path | None:
    found = sorted(content_root().glob("unpacked/usr/share/xml/scap/ssg/content/ssg-debian12-ds.xml"))
    return found[0] if found else None


@pytest.mark.skipif(shutil.which("oscap") is None or _datastream() is None, reason="needs oscap and the SSG content")
def test_oscap_applies_the_tailored_value_to_the_profile(tmp_path: Path) -> None:
    """oscap itself reads the file: the fix script it generates for the tailored profile (no scan) carries
    the contact, the profile's own carries the placeholder the data stream defines."""
    ds = _datastream()
    assert ds is not None
    t = tailoring_for({"sitekit_security_contact": CONTACT}, "anssi_bp28_enhanced", "ee")
    assert t is not None
    path = tmp_path / "tailoring.xml"
    path.write_bytes(tailoring_xml(t, "2026-01-01T00:00:00+00:00"))
    default = value_defaults(ds, {"var_postfix_root_mail_alias"})["var_postfix_root_mail_alias"]
    assert default == "change_me@localhost"

    def fix(*extra: str) -> str:
        cmd = ["oscap", "xccdf", "generate", "fix", "--fix-type", "bash", *extra, str(ds)]
        return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout

    assert f"var_postfix_root_mail_alias='{CONTACT}'" in fix("--tailoring-file", str(path), "--profile", t.profile)
    assert f"var_postfix_root_mail_alias='{default}'" in fix("--profile", BASE)


FAILED_ALIAS = RESULTS.replace("<result>pass</result>", "<result>fail</result>")


def test_the_alias_reason_holds_only_when_nothing_was_tailored(tmp_path: Path) -> None:
    """Without a contact the rule keeps its accepted reason; once the scan tailored the value to the site's
    contact, a failure means the host is wrong and is unexplained."""
    res = tmp_path / "r.xml"
    res.write_text(FAILED_ALIAS)
    accepted = openscap.load_accepted()
    entry = accepted["postfix_client_configure_mail_alias"]
    assert entry["unless_tailored"] == "var_postfix_root_mail_alias" and entry["control"] == "SK-LOG-007"
    plain = openscap.summarise("h", "anssi_bp28_enhanced", "vm", res, res, accepted, "t", 1.0)
    assert not plain.unexplained and plain.failures[0]["kind"] == "plan"
    t = tailoring_for({"sitekit_security_contact": CONTACT}, "anssi_bp28_enhanced", "ee")
    assert t is not None
    tailored = openscap.summarise("h", "anssi_bp28_enhanced", "vm", res, res, accepted, "t", 1.0, t.report())
    assert [f["rule"] for f in tailored.unexplained] == ["postfix_client_configure_mail_alias"]


def test_rules_the_baseline_now_passes_have_no_accepted_reason() -> None:
    accepted = openscap.load_accepted()
    for rule in ("no_direct_root_logins", "accounts_tmout", "ensure_logrotate_activated"):
        assert rule not in accepted, f"{rule} passes after harden.yml; its accepted entry would hide a regression"
