"""The wall: one tile per brand and competitor with the last hour's volume and net sentiment, the latest
posts, and the pipeline counters. Updates are pushed (server-sent events) within a second of a write."""

from __future__ import annotations

from datetime import UTC, datetime

import dash
from dash import Input, Output, callback, dcc, html

from dashboards import ids, live
from dashboards.data import BrandView, WallView
from dashboards.figures import summarize, volume_figure

STALE_AFTER_S = 120


def _post(p: dict) -> html.Li:
    # Post text is always a plain string child: Dash escapes it, it is never parsed as HTML.
    return html.Li(
        [
            html.Span(f"@{p.get('author_handle', '')}", className="post-author"),
            html.Span(str(p.get("text", "")), className="post-text"),
        ],
        className=f"post post--{p.get('label', 'neutral')}",
    )


def _tile(brand: BrandView, now: datetime) -> html.Div:
    s = summarize(brand.buckets, now)
    classes = ["tile", f"tile--{brand.role}"]
    if s.flagged:
        classes.append("tile--flagged")
    return html.Div(
        [
            html.Div(
                [
                    html.H2(brand.name, className="tile-name"),
                    html.Span("competitor" if brand.role == "competitor" else "", className="tile-role"),
                ],
                className="tile-head",
            ),
            html.Div(
                [
                    html.Div([html.Span(f"{s.posts:,}", className="tile-volume"), html.Small(" posts / hour")]),
                    html.Div(
                        [html.Span(f"{s.net_sentiment:+.0%}", className="tile-net"), html.Small(" net sentiment")]
                    ),
                ],
                className="tile-figures",
            ),
            dcc.Graph(
                figure=volume_figure(brand.buckets, now),
                config={"displayModeBar": False, "staticPlot": True},
                className="tile-graph",
            ),
            html.Ul([_post(p) for p in brand.latest], className="tile-posts"),
        ],
        id=ids.tile(brand.id),
        className=" ".join(classes),
        **{"data-posts": str(s.posts)},
    )


def _freshness(view: WallView, now: datetime) -> html.Span:
    if not view.configured:
        return html.Span("no data: no worker has started yet", className="fresh fresh--none")
    if view.updated_ms is None:
        return html.Span("no data yet", className="fresh fresh--none")
    age = now.timestamp() - view.updated_ms / 1000
    if age > STALE_AFTER_S:
        return html.Span(f"STALE: last update {int(age // 60)} min ago", className="fresh fresh--stale")
    return html.Span(f"live · updated {max(0, int(age))} s ago", className="fresh fresh--live")


def _counters(counters: dict[str, int]) -> list:
    labels = {"posts_in": "posts in", "scored": "scored", "unmatched": "unmatched", "deadlettered": "deadletter"}
    return [
        html.Span([html.B(f"{counters[k]:,}"), f" {label}"], className=f"counter counter--{k}", id=f"counter-{k}")
        for k, label in labels.items()
    ]


layout = html.Div(
    [
        dcc.Store(id=ids.LIVE_TICK),
        dcc.Interval(id=ids.SLOW_TICK, interval=5_000),
        html.Header(
            [html.H1("lytte"), html.Div(id=ids.WALL_COUNTERS, className="counters"), html.Div(id=ids.WALL_FRESHNESS)],
            className="wall-header",
        ),
        html.Main(id=ids.WALL_TILES, className="tiles"),
    ],
    className="wall",
)
dash.register_page(__name__, path="/", title="lytte — wall", name="Wall", layout=layout)


@callback(
    Output(ids.WALL_TILES, "children"),
    Output(ids.WALL_COUNTERS, "children"),
    Output(ids.WALL_FRESHNESS, "children"),
    Input(ids.LIVE_TICK, "data"),
    Input(ids.SLOW_TICK, "n_intervals"),
)
def refresh(_tick, _n):
    view = live.get().wall()
    now = datetime.now(UTC)
    return [_tile(b, now) for b in view.brands], _counters(view.counters), _freshness(view, now)
