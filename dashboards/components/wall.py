"""The pieces of the wall: a brand tile, a post line, the freshness line and the pipeline counters."""

from __future__ import annotations

from datetime import datetime

from dash import dcc, html

from dashboards import ids
from dashboards.data import BrandView, WallView
from dashboards.figures import summarize, volume_figure

STALE_AFTER_S = 120


def post_line(p: dict) -> html.Li:
    # Post text is always a plain string child: Dash escapes it, it is never parsed as HTML.
    return html.Li(
        [
            html.Span(f"@{p.get('author_handle', '')}", className="post-author"),
            html.Span(str(p.get("text", "")), className="post-text"),
        ],
        className=f"post post--{p.get('label', 'neutral')}",
    )


def brand_tile(brand: BrandView, now: datetime) -> html.Div:
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
            html.Ul([post_line(p) for p in brand.latest], className="tile-posts"),
        ],
        id=ids.tile(brand.id),
        className=" ".join(classes),
        **{"data-posts": str(s.posts)},
    )


def freshness(view: WallView, now: datetime) -> html.Span:
    if not view.configured:
        return html.Span("no data: no worker has started yet", className="fresh fresh--none")
    if view.updated_ms is None:
        return html.Span("no data yet", className="fresh fresh--none")
    age = now.timestamp() - view.updated_ms / 1000
    if age > STALE_AFTER_S:
        return html.Span(f"STALE: last update {int(age // 60)} min ago", className="fresh fresh--stale")
    return html.Span(f"live · updated {max(0, int(age))} s ago", className="fresh fresh--live")


def counters(counters: dict[str, int]) -> list:
    labels = {"posts_in": "posts in", "scored": "scored", "unmatched": "unmatched", "deadlettered": "deadletter"}
    return [
        html.Span([html.B(f"{counters[k]:,}"), f" {label}"], className=f"counter counter--{k}", id=f"counter-{k}")
        for k, label in labels.items()
    ]
