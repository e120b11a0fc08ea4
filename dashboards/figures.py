"""The tile charts as Plotly figures, and the patches that update them in place.

Charts on a wall carry no text of their own (Plotly sizes text in pixels, which is unreadable on a 4K screen
from 5 m): the tile labels them in HTML, sized with the screen. Each figure has a fixed number of points (60
minutes, 48 half hours), so a screen that runs for a week redraws the same amount every time: the wall
sends a `Patch` of the arrays, never a growing series.

Both axes' ranges are set here, on every update. Plotly writes the range it autoscaled into the figure it was
given, with `autorange` off, so a patch that only changed the arrays kept the first draw's height: a chart drawn
while the worker was still catching up clipped every later bar at a few posts a minute.
"""

from __future__ import annotations

from datetime import timedelta

import plotly.graph_objects as go
from dash import Patch

from dashboards.wall_model import DAY_SLOT_MINUTES, DaySeries, HourSeries

WRITTEN = "#5b8def"
REPOSTS = "#8a6fd1"
NEGATIVE = "#ff6b6b"
MARK = "#ffb020"
DAY = "#4a6fa5"


def _base_layout(fig: go.Figure) -> None:
    fig.update_layout(
        showlegend=False,
        margin=dict(l=0, r=0, t=0, b=0),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        bargap=0.12,
        xaxis=dict(visible=False, fixedrange=True),
        yaxis=dict(visible=False, fixedrange=True),
        transition={"duration": 0},
        autosize=True,
    )


def _marks(series: HourSeries) -> list[dict]:
    return [
        dict(type="line", xref="x", yref="paper", x0=t, x1=t, y0=0, y1=1, line=dict(color=MARK, width=3, dash="dot"))
        for t in series.alert_marks
    ]


#: room above the highest bar, as a share of it
HEADROOM = 0.05


def _hour_range(series: HourSeries) -> list:
    return [series.minutes[0] - timedelta(seconds=30), series.minutes[-1] + timedelta(seconds=30)]


def _height(*columns) -> list[float]:
    """The y range that shows the highest value: [0, 5] posts -> [0, 5.25]; nothing at all -> [0, 1.05]."""
    return [0, max(1, *(max(c, default=0) for c in columns)) * (1 + HEADROOM)]


def _hour_height(series: HourSeries) -> list[float]:
    stacked = [w + r for w, r in zip(series.written, series.reposts, strict=True)]
    return _height(stacked, series.negative)


def hour_figure(series: HourSeries) -> go.Figure:
    """The last hour per minute: posts written (blue) and reposted (violet) stacked, negative posts as a red
    line over them, and a dotted amber line where an alert fired."""
    x = list(series.minutes)
    fig = go.Figure(
        [
            go.Bar(x=x, y=list(series.written), name="written", marker_color=WRITTEN, marker_line_width=0),
            go.Bar(x=x, y=list(series.reposts), name="reposts", marker_color=REPOSTS, marker_line_width=0),
            go.Scatter(x=x, y=list(series.negative), name="negative", mode="lines", line=dict(color=NEGATIVE, width=3)),
        ]
    )
    _base_layout(fig)
    fig.update_layout(
        barmode="stack", shapes=_marks(series), xaxis_range=_hour_range(series), yaxis_range=_hour_height(series)
    )
    return fig


def hour_patch(series: HourSeries) -> Patch:
    """The same as `hour_figure`, as an in-place update of its arrays, marks and range."""
    p = Patch()
    x = list(series.minutes)
    for i, y in enumerate((series.written, series.reposts, series.negative)):
        p["data"][i]["x"] = x
        p["data"][i]["y"] = list(y)
    p["layout"]["shapes"] = _marks(series)
    p["layout"]["xaxis"]["range"] = _hour_range(series)
    p["layout"]["yaxis"]["range"] = _hour_height(series)
    return p


def day_figure(series: DaySeries) -> go.Figure:
    """The last 24 hours in half hours: posts, with the negative ones over them in red."""
    x = list(series.slots)
    fig = go.Figure(
        [
            go.Bar(x=x, y=list(series.posts), name="posts", marker_color=DAY, marker_line_width=0),
            go.Bar(x=x, y=list(series.negative), name="negative", marker_color=NEGATIVE, marker_line_width=0),
        ]
    )
    _base_layout(fig)
    half = timedelta(minutes=DAY_SLOT_MINUTES / 2)
    fig.update_layout(
        barmode="overlay", xaxis_range=[x[0] - half, x[-1] + half], yaxis_range=_height(series.posts, series.negative)
    )
    return fig


def day_patch(series: DaySeries) -> Patch:
    p = Patch()
    x = list(series.slots)
    half = timedelta(minutes=DAY_SLOT_MINUTES / 2)
    for i, y in enumerate((series.posts, series.negative)):
        p["data"][i]["x"] = x
        p["data"][i]["y"] = list(y)
    p["layout"]["xaxis"]["range"] = [x[0] - half, x[-1] + half]
    p["layout"]["yaxis"]["range"] = _height(series.posts, series.negative)
    return p
