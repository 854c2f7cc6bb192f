"""The fleet page: one HTML file with inline CSS and SVG, no script and no external asset, so it opens
from a file on any machine, prints, and can be mailed as it is."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from html import escape
from pathlib import Path

from sitekit.fleetpage.model import FAMILIES, STALE_AFTER, Country, FleetPage
from sitekit.fleetpage.svg import key_timeline, scan_bars

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2430;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
.muted{color:#6b7785}table{border-collapse:collapse}th,td{padding:5px 8px;border:1px solid #dde3ea;text-align:left}
th{background:#f4f6f9;font-weight:600}
#matrix td{text-align:center;min-width:54px;font-variant-numeric:tabular-nums;white-space:nowrap}
#matrix th,#status th{white-space:nowrap}
td.passed{background:#d9f2e1}td.failed{background:#f9d4d4;font-weight:600}td.skipped{background:#eceff3;color:#52606d}
td.deviation{background:#fdebc8}td.none{background:#fff;color:#9aa5b1}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border-radius:3px}
.legend .passed{background:#d9f2e1}.legend .failed{background:#f9d4d4}.legend .skipped{background:#eceff3}
.legend .deviation{background:#fdebc8}
.ok{color:#17713a}.bad{color:#b42318;font-weight:600}.stale{color:#b54708;font-weight:600}
svg.chart text{font:12px system-ui,sans-serif;fill:#1d2430}svg.chart text.axis{fill:#6b7785;font-size:11px}
svg.chart text.muted{fill:#6b7785}svg.chart .track{fill:#eceff3}svg.chart .bar.good{fill:#2f9e5b}
svg.chart .bar.warn{fill:#d98c1f}svg.chart .lane{stroke:#c3ccd6;stroke-width:1}
svg.chart .window{fill:#fdebc8;opacity:.8}svg.chart circle.key{fill:#3b6fb6}svg.chart circle.due{fill:#d92d20}
svg.chart circle.later{fill:#9aa5b1}svg.chart text.count{font-size:10px;fill:#52606d}
details{margin:4px 0}summary{cursor:pointer}
"""


def _age(newest: dt.datetime | None, now: dt.datetime) -> tuple[str, str]:
    if newest is None:
        return "no evidence", "bad"
    age = now - newest
    hours = age.total_seconds() / 3600
    text = f"{hours:.0f} h" if hours < 48 else f"{age.days} days"
    return f"{text} ({newest:%Y-%m-%d %H:%M} UTC)", "stale" if age > STALE_AFTER else "ok"


def _cell(c: Country, family: str) -> str:
    cell = c.cells[family]
    if cell.state == "none":
        return '<td class="none" title="no result">·</td>'
    parts = []
    if cell.passed:
        parts.append(f"✓{cell.passed}")
    if cell.failed:
        parts.append(f"✗{cell.failed}")
    if cell.deviation:
        parts.append(f"Δ{cell.deviation}")
    if cell.skipped:
        parts.append(f"–{cell.skipped}")
    tip = "; ".join(cell.notes[:8]) or f"{cell.passed} passed, {cell.skipped} skipped"
    return f'<td class="{cell.state}" title="{escape(tip)}">{" ".join(parts)}</td>'


def _matrix(page: FleetPage) -> str:
    head = "".join(f'<th title="{escape(f)}">{escape(FAMILIES.get(f, f))}</th>' for f in page.families)
    rows = []
    for c in page.countries:
        cells = "".join(_cell(c, f) for f in page.families)
        rows.append(f'<tr data-country="{escape(c.cc)}"><th>{escape(c.cc.upper())} {escape(c.name)}</th>{cells}</tr>')
    return (
        '<table id="matrix"><thead><tr><th>country</th>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _status(page: FleetPage) -> str:
    rows = []
    for c in page.countries:
        age, age_cls = _age(c.newest, page.generated)
        render_cls = "ok" if c.render == "up to date" else "bad"
        plan_cls = {True: "ok", False: "bad", None: "muted"}[c.plan_ok]
        due = [k for k in c.keys or [] if k.in_window]
        keys = (
            "no key state on this machine"
            if c.keys is None
            else (
                f'<span class="bad">{len(due)} inside the rotation window</span>'
                if due
                else '<span class="ok">none due</span>'
            )
        )
        rows.append(
            f"<tr><th>{escape(c.cc.upper())} {escape(c.name)}</th><td>{c.hosts}</td>"
            f'<td class="{age_cls}">{escape(age)}</td><td class="{render_cls}">{escape(c.render)}</td>'
            f'<td class="{plan_cls}">{escape(c.plan)}</td><td>{keys} ({c.rotation_window_days}-day window)</td>'
            f'<td class="muted">{escape(c.journal)}</td></tr>'
        )
    return (
        '<table id="status"><thead><tr><th>country</th><th>hosts with evidence</th><th>evidence age</th>'
        "<th>render</th><th>plan</th><th>keys</th><th>journal</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _reasons(page: FleetPage) -> str:
    out = []
    for c in page.countries:
        skipped: dict[str, list[str]] = {}
        for control, host, reason in c.skipped:
            skipped.setdefault(reason, []).append(f"{control} on {host}")
        items = "".join(
            f"<li>{escape(reason)} <span class='muted'>({escape(', '.join(where[:6]))}"
            f"{' …' if len(where) > 6 else ''})</span></li>"
            for reason, where in sorted(skipped.items())
        )
        devs = "".join(f"<li><b>{escape(ctl)}</b>: {escape(why)}</li>" for ctl, why in c.deviations)
        out.append(
            f"<details><summary>{escape(c.cc.upper())} {escape(c.name)}: {len(c.skipped)} skipped, "
            f"{len(c.deviations)} accepted deviation(s)</summary>"
            f"<h4>Skipped, with the reason</h4><ul>{items or '<li class=muted>none</li>'}</ul>"
            f"<h4>Accepted deviations</h4><ul>{devs or '<li class=muted>none</li>'}</ul></details>"
        )
    return "".join(out)


def render_page(page: FleetPage) -> str:
    """The whole page as one string."""
    countries = ", ".join(c.cc.upper() for c in page.countries)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sitekit fleet report</title>
<style>{CSS}</style></head>
<body>
<h1>sitekit fleet report</h1>
<p class="muted">Made by <code>sitekit report --html</code> on {page.generated:%Y-%m-%d %H:%M} UTC
for {len(page.countries)} countries ({escape(countries)}). One file, no script, nothing fetched: open it anywhere.</p>
<h2>Controls by country and family</h2>
<p class="legend"><span class="passed">✓ passed</span><span class="failed">✗ failed</span>
<span class="deviation">Δ accepted deviation</span><span class="skipped">– skipped, with reason</span>
<span class="muted">counts are host × control results; hover a cell for details</span></p>
{_matrix(page)}
{_reasons(page)}
<h2>Country status</h2>
{_status(page)}
<h2>OpenSCAP pass ratio per scanned host</h2>
{scan_bars(page.countries)}
<h2>Key expiry, next two years</h2>
<p class="muted">Shaded: each country's rotation window from today; red: a key expiring inside it; grey at the right
edge: later.</p>
{key_timeline(page.countries, page.generated)}
</body></html>
"""


def write_page(page: FleetPage, out_dir: Path) -> Path:
    """Write `<out_dir>/fleet.html` atomically and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "fleet.html"
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".fleet.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(render_page(page))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path
