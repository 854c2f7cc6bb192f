"""`sitekit report --html`: the fleet page is one self-contained file; a real browser (Debian's chromium,
headless, driven over the DevTools protocol) renders it without console errors and shows the demo
countries in the matrix; the screenshot is kept as a test artefact (build/artefacts/fleet-page.png) and,
with SITEKIT_UPDATE_SCREENSHOT=1, copied to docs/fleet-page.png for the README."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evidence_fixture import write_full_evidence

from sitekit.cli import main
from sitekit.fleetpage.html import render_page
from sitekit.fleetpage.model import Cell, gather
from sitekit.spec import load_fleet

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = REPO / "build" / "artefacts"
HOSTS = {
    "cl": {"cl-cp-1": "control-plane", "cl-gpu-1": "gpu-worker"},
    "ee": {"ee-cp-1": "control-plane", "ee-gpu-1": "gpu-worker", "ee-gpu-2": "gpu-worker"},
    "ke": {"ke-cp-1": "control-plane", "ke-gpu-1": "gpu-worker", "ke-st-1": "storage"},
}
FAILING = {"ee": {"SK-SSH-004": "ee-gpu-2"}, "ke": {"SK-FW-002": "ke-gpu-1", "SK-AUTH-001": "ke-st-1"}}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The page of the demo fleet: evidence for every country, keys for cl (file) and ee (SoftHSM2)."""
    state = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(state))
        mp.setenv("SITEKIT_KEY_PASSPHRASE", "fleet-page-passphrase")
        mp.setenv("SITEKIT_PKCS11_PIN", "fleet-page-pin")
        mp.setenv("SITEKIT_PKCS11_SO_PIN", "fleet-page-so-pin")
        for cc in ("cl", "ee"):
            assert main(["--sites", str(REPO / "sites"), "keys", "init", cc]) == 0
        for cc, hosts in HOSTS.items():
            write_full_evidence(state / "evidence" / cc, cc, hosts, FAILING.get(cc, {}))
        out = state / "html"
        assert main(["--sites", str(REPO / "sites"), "--root", str(REPO), "report", "--html", str(out)]) == 0
        yield out / "fleet.html"


def test_page_is_self_contained(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"url\(|@import|<script|<link|<iframe|<object|<embed", html, re.I)
    assert html.count("<svg") == 2


def test_matrix_says_what_the_evidence_says(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    rows = dict(re.findall(r'<tr data-country="(\w+)">(.*?)</tr>', html, re.S))
    assert set(rows) == {"cl", "ee", "ke"}
    assert 'class="failed"' not in rows["cl"] and 'class="failed"' in rows["ee"]
    assert "SK-SSH-004 failed on ee-gpu-2" in rows["ee"]
    assert 'class="deviation"' in rows["cl"]  # catalogued deviations accepted by the site
    assert "not verifiable on this tier" in html  # skipped with the reason


def test_hostile_text_is_escaped(tmp_path: Path) -> None:
    fleet = load_fleet(REPO / "sites")
    folder = tmp_path / "evidence" / "ee"
    write_full_evidence(folder, "ee", {"ee-cp-1": "control-plane"}, {})
    evidence = json.loads((folder / "ee-cp-1.json").read_text())
    evidence["results"][0]["reason"] = '<script>alert(1)</script><img src="http://evil.example/x">'
    evidence["results"][0]["result"] = "skipped"
    (folder / "ee-cp-1.json").write_text(json.dumps(evidence))
    html = render_page(gather(fleet, REPO, tmp_path / "evidence", dt.datetime(2026, 12, 1, tzinfo=dt.UTC)))
    assert "<script" not in html and 'src="http' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    ("cell", "state"),
    [
        (Cell(passed=3, failed=1, deviation=1), "failed"),
        (Cell(passed=3, deviation=1), "deviation"),
        (Cell(passed=1, skipped=4), "passed"),
        (Cell(skipped=2), "skipped"),
        (Cell(), "none"),
    ],
)
def test_a_cell_shows_the_worst_it_holds(cell: Cell, state: str) -> None:
    assert cell.state == state


class Browser:
    """Headless chromium driven over the DevTools protocol (one page target)."""

    def __init__(self, profile: Path) -> None:
        exe = shutil.which("chromium")
        if exe is None:
            pytest.fail("chromium is not installed: run bash scripts/bootstrap.sh (scripts/apt-packages.txt)")
        self.proc = subprocess.Popen(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 20
        port = None
        while port is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            port = int(match.group(1)) if match else None
        if port is None:
            self.close()
            pytest.fail("chromium did not open its DevTools port within 20 s")
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        import websocket

        self.ws = websocket.create_connection(url, timeout=20, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(method)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            self.events.append(msg)

    def load(self, url: str) -> list[str]:
        """Navigate, wait for the load event, and return every console error, exception and failed load."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 15
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            assert time.monotonic() < deadline, f"{url} did not finish loading in 15 s"
            self.events.append(json.loads(self.ws.recv()))
        self.call("Runtime.evaluate", expression="1")  # flush messages logged during load
        errors = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                errors.append(p["exceptionDetails"].get("text", "exception"))
            elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif e.get("method") == "Log.entryAdded" and p["entry"].get("level") == "error":
                errors.append(p["entry"].get("text", "error"))
        return errors

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def screenshot(self) -> bytes:
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        if hasattr(self, "ws"):
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def test_page_renders_in_a_real_browser(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = tmp_path / "planted.html"
    planted.write_text('<!DOCTYPE html><p>x</p><img src="missing.png"><script>console.error("planted")</script>')
    browser = Browser(tmp_path / "profile")
    try:
        caught = browser.load(planted.as_uri())
        assert any("planted" in e for e in caught) and any("missing.png" in e or "ERR_FILE" in e for e in caught), (
            f"the harness must see console errors and failed loads, saw {caught}"
        )
        assert browser.load(page.as_uri()) == []
        countries = browser.evaluate(
            "[...document.querySelectorAll('#matrix tbody tr')].map(r => r.querySelector('th').textContent)"
        )
        assert countries == ["CL Chile", "EE Estonia", "KE Kenya"]
        assert browser.evaluate("document.querySelectorAll('#matrix td.failed').length") == 3
        assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 2
        png = browser.screenshot()
    finally:
        browser.close()
    assert png.startswith(b"\x89PNG")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / "fleet-page.png").write_bytes(png)
    shutil.copy(page, ARTEFACTS / "fleet.html")
    import os

    if os.environ.get("SITEKIT_UPDATE_SCREENSHOT") == "1":
        (REPO / "docs" / "fleet-page.png").write_bytes(png)


def _country(**over: Any) -> Any:
    from sitekit.fleetpage.model import Country

    base: dict[str, Any] = dict(
        cc="ee",
        name="Estonia",
        cells={},
        skipped=[],
        deviations=[],
        scans=[],
        newest=None,
        keys=None,
        rotation_window_days=30,
        render="up to date",
        plan="not planned",
        plan_ok=None,
        journal="none",
        hosts=0,
    )
    base.update(over)
    return Country(**base)


def test_timeline_marks_keys_inside_the_rotation_window() -> None:
    from sitekit.fleetpage.model import KeyMark
    from sitekit.fleetpage.svg import key_timeline

    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    keys = [
        KeyMark("intermediate", "etcd-1", "active", now + dt.timedelta(days=10), True),
        KeyMark("intermediate", "ingress-1", "active", now + dt.timedelta(days=10), True),
        KeyMark("root-ca", "root", "active", now + dt.timedelta(days=3650), False),
        KeyMark("data-key", "k1", "active", now + dt.timedelta(days=200), False),
    ]
    svg = key_timeline([_country(keys=keys), _country(cc="ke", name="Kenya")], now)
    assert svg.count('class="due"') == 1 and ">2</text>" in svg  # two due keys, one mark, counted
    assert "etcd-1" in svg and "ingress-1" in svg
    assert svg.count('class="later"') == 1 and svg.count('class="key"') == 1
    assert "no key state on this machine" in svg


def test_scan_bars_show_the_ratio() -> None:
    from sitekit.fleetpage.svg import scan_bars

    svg = scan_bars([_country(scans=[("ee-cp-1", 0.75, {"pass": 75, "fail": 25})])])
    assert "75.0%" in svg and 'class="bar warn"' in svg and 'width="315.0"' in svg


def test_plan_status_from_the_plan_summary(tmp_path: Path) -> None:
    from sitekit.errors import UserError
    from sitekit.fleetpage.model import _plan

    assert _plan(tmp_path, "ee") == ("not planned on this machine", None)
    folder = tmp_path / "build" / "plan" / "ee"
    folder.mkdir(parents=True)
    (folder / "plan.json").write_text(json.dumps({"ok": True, "objects": {"Pod": 2, "Service": 1}}))
    text, ok = _plan(tmp_path, "ee")
    assert ok is True and text.startswith("ok: 3 objects")
    (folder / "plan.json").write_text(json.dumps({"ok": False, "admission_failures": ["a"], "errors": ["b"]}))
    assert _plan(tmp_path, "ee")[0].startswith("failed: 2 problem(s)")
    (folder / "plan.json").write_text("{broken")
    with pytest.raises(UserError, match=r"plan\.json: unreadable plan summary"):
        _plan(tmp_path, "ee")
