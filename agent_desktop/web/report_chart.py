"""The reports' charts, drawn by the desk as SVG (issue 12: a chart library served by the desk, or server SVG).

    GET /api/reports/chart.svg?kind=queues|agents&from=&to=[&interval=day|hour][&name=QUEUE|AGENT_ID]

Why server-side SVG and not a chart library: the figures are already here (the very rows of the table and the
CSV, so chart and table cannot disagree), a bar chart with one line is a hundred lines of code we own, there is no
dependency to vet, vendor and keep up to date on agents' PCs that reach only the desk, and the geometry is tested
in Python. What must follow the agent's language and locale is left to the page: every number, percentage and
date is an empty `<text>` with `data-num`, `data-pct` or `data-date` that reports.js fills through format.js, and
legends carry `data-i18n` keys, so a language switch redraws no chart.

Queues: per interval a stacked bar of answered / abandoned / other (overflowed, callback requested, closed) and
the service level as a line on the right axis (0–100 %). Agents: the calls per interval, one-and-done as the line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

from ..store import report_quality, reports
from ..store.clock import utcnow
from . import keys
from .auth import require
from .date_range import period
from .errors import ApiError
from .reports_api import _choice, agents_timezone, queue_rows, queue_settings

WIDTH, HEIGHT = 960, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 16, 56


@dataclass(frozen=True)
class Point:
    start: str  # local ISO of the interval
    bars: tuple[tuple[str, float], ...]  # (css class, value), stacked bottom up
    line: float | None  # a 0–1 fraction, or none


def setup(app: web.Application) -> None:
    app.router.add_get("/api/reports/chart.svg", chart)


def _nice_max(value: float) -> float:
    """The axis' top: four gridline steps of whole numbers (counts are whole)."""
    if value <= 20:
        return 4 * max(1, math.ceil(value / 4))
    power = 10 ** math.floor(math.log10(value))
    for step in (2, 4, 8, 10):
        if value <= step * power:
            return step * power
    return 20 * power


def render(points: list[Point], interval: str, legend: list[tuple[str, str]], line_key: str) -> str:
    """The chart as an SVG document (see the module's docstring for what the page fills in)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max((sum(v for _, v in p.bars) for p in points), default=0))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'data-testid="report-chart" data-points="{len(points)}" data-interval="{interval}">'
    ]
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        out.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" data-num="{value:g}"></text>')
        out.append(f'<text x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}" data-pct="{i / 4:g}"></text>')
    n = max(1, len(points))
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.7)
    every = max(1, math.ceil(n / 12))  # at most a dozen date labels
    line: list[str] = []
    dots: list[str] = []
    for i, p in enumerate(points):
        x = LEFT + slot * i + (slot - bar_w) / 2
        base = TOP + plot_h
        for css, value in p.bars:
            h = plot_h * value / top
            if h > 0:
                out.append(
                    f'<rect class="{css}" x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                    f'data-value="{value:g}"/>'
                )
            base -= h
        if i % every == 0:
            out.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" '
                f"data-date={quoteattr(p.start)} data-fmt={quoteattr(interval)}></text>"
            )
        if p.line is not None:
            cx, cy = f"{x + bar_w / 2:.1f}", f"{TOP + plot_h - plot_h * p.line:.1f}"
            line.append(f"{cx},{cy}")
            dots.append(f'<circle class="dot-sl" cx="{cx}" cy="{cy}" r="3"/>')  # one day alone is a dot
    if line:
        out.append(f'<polyline class="line-sl" points="{" ".join(line)}"/>')
    out.extend(dots)
    # Each legend item is a group at a first guess of its place; the page moves them once their labels are in
    # the agent's language (their widths are only known then).
    x = LEFT
    for css, key in [*legend, ("line-sl", line_key)]:
        y = HEIGHT - 12
        shape = (
            f'<line class="{css}" x1="0" x2="12" y1="{y - 4}" y2="{y - 4}"/>'
            if css == "line-sl"
            else f'<rect class="{css}" x="0" y="{y - 10}" width="10" height="10"/>'
        )
        out.append(
            f'<g class="legend-item" transform="translate({x} 0)">{shape}'
            f'<text x="16" y="{y}" data-i18n={quoteattr(key)}>{escape(key)}</text></g>'
        )
        x += 180
    out.append("</svg>")
    return "".join(out)


def queue_points(rows: list[dict[str, Any]], queue: str) -> list[Point]:
    points = []
    for row in rows:
        if row["queue"] != queue:
            continue
        other = row["overflowed"] + row["callbacks_requested"] + row["closed"]
        bars = (("bar-answered", row["answered"]), ("bar-abandoned", row["abandoned"]), ("bar-other", other))
        points.append(Point(row["start"], bars, row["service_level"]))
    return points


def agent_points(rows: list[dict[str, Any]], agent_id: int | None) -> list[Point]:
    """One agent's rows, or every agent's added up per interval."""
    merged: dict[str, list] = {}
    for row in rows:
        if agent_id is not None and row["agent_id"] != agent_id:
            continue
        found = merged.setdefault(row["start"], [0, 0])
        found[0] += row["calls"]
        found[1] += row["escalated"]  # contacts, as the table's one-and-done
    return [
        Point(start, (("bar-answered", calls),), report_quality.one_and_done(escalated, calls))
        for start, (calls, escalated) in sorted(merged.items())
    ]


@require("supervisor")
async def chart(request: web.Request) -> web.Response:
    first, last = period(request)
    kind = _choice(request, "kind", ("queues", "agents"), "queues")
    interval = _choice(request, "interval", reports.INTERVALS, "day")
    name = request.query.get("name", "")
    config = request.app[keys.CONFIG]
    store = request.app[keys.STORE]
    if kind == "queues":
        settings = queue_settings(config)
        if name not in settings and not (not settings and name == "default"):
            raise ApiError("bad_request", "name: a configured queue", {"field": "name"})
        rows = await store.read_big(queue_rows, first, last, interval, settings)
        svg = render(
            queue_points(rows, name),
            interval,
            [
                ("bar-answered", "report.answered"),
                ("bar-abandoned", "report.abandoned"),
                ("bar-other", "report.other"),
            ],
            "report.service_level",
        )
    else:
        if name and not name.isdigit():
            raise ApiError("bad_request", "name: an agent id", {"field": "name"})
        if interval == "hour" and (last - first).days + 1 > report_quality.MAX_HOURLY_DAYS:
            raise ApiError("bad_request", "an hourly chart covers at most 31 days", {"field": "to"})
        rows = await store.read_big(
            report_quality.agent_intervals, first, last, agents_timezone(config), interval, utcnow()
        )
        svg = render(
            agent_points(rows, int(name) if name else None),
            interval,
            [("bar-answered", "report.calls")],
            "report.one_and_done",
        )
    return web.Response(text=svg, content_type="image/svg+xml", headers={"Cache-Control": "no-store"})
