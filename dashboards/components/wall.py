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
    """The line that says whether the wall can be trusted, the most severe state first: STALLED (records
    waiting in posts.raw and nothing handled for longer than the stall threshold), Kafka unreachable (so a
    stall cannot be seen), no worker yet, STALE (no write to the live view for a while), and only then live."""
    status = view.pipeline
    if status is not None and status.stalled:
        waited = f"for {view.stalled_for_s} s" if view.stalled_for_s is not None else "yet"
        waiting = f"{status.lag:,} record{'s' if status.lag != 1 else ''} waiting"
        return html.Span(f"STALLED: {waiting}, nothing handled {waited}", className="fresh fresh--stalled")
    age = now.timestamp() - view.updated_ms / 1000 if view.updated_ms is not None else None
    if status is None:
        since = f" · last update {_age(age)} ago" if age is not None else ""
        return html.Span(f"Kafka unreachable{since}", className="fresh fresh--kafka")
    if not view.configured:
        return html.Span("no data: no worker has started yet", className="fresh fresh--none")
    if age is None:
        return html.Span("no data yet", className="fresh fresh--none")
    if age > STALE_AFTER_S:
        return html.Span(f"STALE: last update {_age(age)} ago", className="fresh fresh--stale")
    return html.Span(f"live · updated {max(0, int(age))} s ago", className="fresh fresh--live")


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


#: What the pipeline did with every record of posts.raw; duplicates only when there are any.
COUNTER_LABELS = {
    "posts_in": "posts in",
    "matched": "matched",
    "unmatched": "unmatched",
    "deadlettered": "deadletter",
    "duplicates": "duplicates",
}


def counters(counters: dict[str, int]) -> list:
    return [
        html.Span([html.B(f"{counters[k]:,}"), f" {label}"], className=f"counter counter--{k}", id=f"counter-{k}")
        for k, label in COUNTER_LABELS.items()
        if k != "duplicates" or counters.get(k, 0) > 0
    ]
