"""A little suite of host checks that ends every way a check can (pass, fail, bare assert, skip in a fixture
or in the body, error in setup or teardown, xfail, no result at all), for the tests of `sitekit verify`'s
pytest plugin: test_verify_plugin.py runs it with pytester in this process, test_verify.py in a fresh
pytest under each of the plugin's names."""

from __future__ import annotations

from pathlib import Path

# Each phase of every check reports a fixed duration, so a row's duration_s is exact: 0.5 + 0.25 + 0.0004
# summed and rounded to milliseconds is 0.75 for a check that ran, 0.5 for one that stopped in setup.
CONFTEST = """
import pytest

DURATIONS = {"setup": 0.5, "call": 0.25, "teardown": 0.0004}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.duration = DURATIONS[report.when]
    return report


@pytest.fixture
def skipped_here():
    pytest.skip("not verifiable on this tier")


@pytest.fixture
def broken():
    raise RuntimeError("ssh: connection refused")


@pytest.fixture
def unreachable():
    pytest.fail("host unreachable: timed out", pytrace=False)


@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("cleanup failed")


@pytest.fixture
def skip_in_teardown():
    yield
    pytest.skip("too late to skip")
"""

CHECKS = """
from pathlib import Path

import pytest

from sitekit.verify.plugin import FACTS


def test_pass(record_property):
    record_property("control", "SK-A-001")
    record_property("observed", {"v": 1})


def test_fail_with_message(record_property):
    record_property("control", "SK-A-002")
    assert 1 == 2, "value differs"


def test_bare_assert(record_property):
    record_property("control", "SK-A-003")
    seen = {"passwordauthentication": "yes", "kbdinteractiveauthentication": "no"}
    want = {"passwordauthentication": "no", "kbdinteractiveauthentication": "no"}
    record_property("observed", seen)
    record_property("expected", want)
    assert seen == want


def test_bare_assert_without_values():
    assert 1 == 2


def test_bare_assert_only_expected(record_property):
    record_property("expected", "no")
    assert "yes" == "no"


def test_bare_assert_only_observed(record_property):
    record_property("observed", "yes")
    assert "yes" == "no"


def test_bare_assert_with_nothing_to_compare(record_property):
    record_property("observed", None)
    assert 1 == 2


def test_raises():
    raise ValueError("bad value")


def test_skip_in_fixture(skipped_here, record_property):
    pass


@pytest.mark.skip(reason="out of scope for this role")
def test_skip_mark():
    pass


def test_skip_in_body(record_property):
    record_property("control", "SK-A-004")
    pytest.skip("no GPU on this host")


def test_error_in_setup(broken):
    pass


def test_unreachable(unreachable):
    pass


def test_error_in_teardown(bad_teardown):
    pass


def test_fail_then_error_in_teardown(bad_teardown):
    assert 0, "first"


def test_skip_in_teardown(skip_in_teardown):
    pass


def test_no_such_fixture(nosuch):
    pass


@pytest.mark.xfail(reason="known")
def test_xfail():
    assert 1 == 2


@pytest.mark.xfail(reason="known")
def test_xpass():
    pass


@pytest.mark.xfail(reason="must fail", strict=True)
def test_xpass_strict():
    pass


def test_facts_and_odd_values(request, record_property):
    request.config.stash[FACTS]["h1"] = {"os": "Debian GNU/Linux 12"}
    record_property("observed", Path("/etc/ssh"))
"""


def write_suite(folder: Path) -> Path:
    """The suite as files in `folder` (conftest.py and test_checks.py); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_checks.py").write_text(CHECKS)
    return folder
