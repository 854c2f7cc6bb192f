"""The page's two charts as inline SVG, from small templates (no plotting library).

Two chart kinds do not justify a dependency, and the libraries that draw SVG either pull external
JavaScript or stylesheets into their output by default (pygal) or write large, randomly-named SVG
(matplotlib); both would break "no external asset" or the page's reviewability. Every value is escaped;
colours come from the page's CSS classes so the charts follow its legend.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from sitekit.fleetpage.model import Country


def scan_bars(countries: list[Country]) -> str:
    """Horizontal bars: OpenSCAP pass ratio (pass / (pass + fail)) per scanned host."""
    bars = [(c.cc, host, ratio, counts) for c in countries for host, ratio, counts in c.scans]
    if not bars:
        return '<p class="muted">No host scanned yet (sitekit scan &lt;cc&gt;).</p>'
    label_w, bar_w, row_h = 190, 420, 26
    height = row_h * len(bars) + 30
    out = [
        f'<svg class="chart" role="img" aria-label="OpenSCAP pass ratio per scanned host" '
        f'width="{label_w + bar_w + 70}" height="{height}" viewBox="0 0 {label_w + bar_w + 70} {height}">'
    ]
    for i, (cc, host, ratio, counts) in enumerate(bars):
        y = 10 + i * row_h
        width = round(bar_w * ratio, 1)
        tip = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        out += [
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(cc.upper())} {escape(host)}</text>',
            f'<rect class="track" x="{label_w}" y="{y}" width="{bar_w}" height="18" rx="3"/>',
            f'<rect class="bar {"good" if ratio >= 0.9 else "warn"}" x="{label_w}" y="{y}" width="{width}" '
            f'height="18" rx="3"><title>{escape(host)}: {escape(tip)}</title></rect>',
            f'<text x="{label_w + bar_w + 8}" y="{y + 15}">{ratio:.1%}</text>',
        ]
    axis_y = 10 + len(bars) * row_h
    for pct in (0, 50, 90, 100):
        x = label_w + bar_w * pct / 100
        out.append(f'<text class="axis" x="{x}" y="{axis_y + 12}" text-anchor="middle">{pct}%</text>')
    out.append("</svg>")
    return "\n".join(out)


def key_timeline(countries: list[Country], now: dt.datetime, span_days: int = 730) -> str:
    """One lane per country from now to `span_days` ahead: each key's expiry as a mark (red inside the
    rotation window, which is the shaded band from now), keys expiring later pinned to the right edge."""
    left, width, lane_h = 150, 640, 34
    height = lane_h * len(countries) + 40
    end = now + dt.timedelta(days=span_days)

    def x_of(moment: dt.datetime) -> float:
        frac = (min(moment, end) - now) / (end - now)
        return round(left + width * max(frac, 0.0), 1)

    out = [
        f'<svg class="chart" role="img" aria-label="Key expiry timeline" width="{left + width + 30}" '
        f'height="{height}" viewBox="0 0 {left + width + 30} {height}">'
    ]
    for i, c in enumerate(countries):
        y = 10 + i * lane_h
        mid = y + lane_h / 2
        out.append(
            f'<text x="{left - 10}" y="{mid + 4}" text-anchor="end">{escape(c.cc.upper())} {escape(c.name)}</text>'
        )
        out.append(f'<line class="lane" x1="{left}" y1="{mid}" x2="{left + width}" y2="{mid}"/>')
        window_x = x_of(now + dt.timedelta(days=c.rotation_window_days))
        out.append(
            f'<rect class="window" x="{left}" y="{y + 4}" width="{window_x - left}" height="{lane_h - 8}">'
            f"<title>{escape(c.cc.upper())} rotation window: {c.rotation_window_days} days</title></rect>"
        )
        if c.keys is None:
            out.append(f'<text class="muted" x="{left + 8}" y="{mid + 4}">no key state on this machine</text>')
            continue
        groups: dict[tuple[float, str], list[str]] = {}
        for k in sorted(c.keys, key=lambda k: k.not_after):
            cls = "due" if k.in_window else ("later" if k.not_after > end else "key")
            days = (k.not_after - now).days
            line = f"{k.kind} {k.name} ({k.state}) expires {k.not_after:%Y-%m-%d}, in {days} days"
            groups.setdefault((round(x_of(k.not_after) / 6) * 6, cls), []).append(line)
        for (x, cls), lines in groups.items():
            # Keys made together expire together: one mark per 6 px, with how many and which.
            out.append(
                f'<circle class="{cls}" cx="{x}" cy="{mid}" r="{5 if len(lines) == 1 else 7}">'
                f"<title>{escape(chr(10).join(lines))}</title></circle>"
            )
            if len(lines) > 1:
                out.append(f'<text class="count" x="{x}" y="{mid - 10}" text-anchor="middle">{len(lines)}</text>')
    axis_y = 10 + len(countries) * lane_h + 14
    for months in range(0, span_days // 30 + 1, 6):
        moment = now + dt.timedelta(days=months * 30.4)
        out.append(f'<text class="axis" x="{x_of(moment)}" y="{axis_y}" text-anchor="middle">{moment:%Y-%m}</text>')
    out.append(f'<text class="axis" x="{left + width}" y="{axis_y + 14}" text-anchor="end">later →</text>')
    out.append("</svg>")
    return "\n".join(out)
