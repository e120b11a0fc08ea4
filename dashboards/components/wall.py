"""The pieces of the wall: a brand tile (its frame, its text, its charts), the freshness line and banner, and
the pipeline counters. Post text and every other field that came from outside is a plain string child: Dash
escapes it, nothing is ever parsed as HTML."""

from __future__ import annotations

from datetime import datetime

from dash import dcc, html

from dashboards import ids
from dashboards.data import WallView
from dashboards.figures import day_figure, hour_figure
from dashboards.wall_model import AlertLine, PostLine, Tile, source_statuses

STALE_AFTER_S = 120
#: what each density shows: top posts, alert lines, key people, terms
SHOWN = {"roomy": (3, 3, 3, 6), "normal": (2, 2, 2, 5), "dense": (1, 1, 0, 4)}
GRAPH_CONFIG = {"displayModeBar": False, "staticPlot": True, "responsive": True}


def tile_class(t: Tile) -> str:
    classes = ["tile", f"tile--{t.role}", f"tile--{t.state}"]
    if t.severity:
        classes.append(f"tile--{t.severity}")
    return " ".join(classes)


def post_line(p: PostLine) -> html.Li:
    """One top post: author, reach and text. The text is isolated (`dir="auto"` and `unicode-bidi: isolate`
    in the CSS) so that right-to-left text or override characters cannot reorder the rest of the tile."""
    author = html.Span(f"@{p.author}", className="post-author", dir="auto")
    if p.url:
        author = html.A(f"@{p.author}", href=p.url, className="post-author", target="_blank", rel="noopener noreferrer")
    return html.Li(
        [
            author,
            html.Span(f"{_count(p.reach)} reach", className="post-reach"),
            html.Span(p.text, className="post-text", dir="auto"),
        ],
        className=f"post post--{p.label}",
    )


def alert_line(a: AlertLine) -> html.Div:
    ack = f" · ack {a.acked_by}" if a.acked_by else ""
    return html.Div(
        [html.B(a.rule.upper()), html.Span(f" since {a.since:%H:%M}{ack}")],
        className=f"tile-alert tile-alert--{a.severity}",
        title=a.summary,
    )


def _count(n: float) -> str:
    """12 -> "12", 1,234 -> "1.2k", 56,789 -> "57k", 2,500,000 -> "2.5M", 10**9 -> "1.0B"."""
    if n >= 1_000_000_000:
        return f"{n / 1_000_000_000:.1f}B"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1_000:
        return f"{n / 1000:.1f}k"
    return f"{n:.0f}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def _figure(value: str, label: str, cls: str, **attrs) -> html.Div:
    return html.Div(
        [html.Span(value, className=f"fig-value {cls}", **attrs), html.Span(label, className="fig-label")],
        className="fig",
    )


def tile_body(t: Tile, density: str) -> list:
    """The text of a tile, top to bottom: alerts and incident (or the resolved note), the headline figures,
    then top posts, key people, share of voice and terms as space allows."""
    n_posts, n_alerts, n_people, n_terms = SHOWN[density]
    status: list = [alert_line(a) for a in t.alerts[:n_alerts]]
    if len(t.alerts) > n_alerts:
        status.append(html.Div(f"+{len(t.alerts) - n_alerts} more firing", className="tile-alert tile-alert--more"))
    if t.incident:
        status.append(html.Div(t.incident, className="tile-incident"))
    if t.resolved_note:
        status.append(html.Div(t.resolved_note, className="tile-resolved"))
    if t.state == "quiet":
        status.append(html.Div("no mentions in the last 60 min", className="tile-quiet"))

    figures = html.Div(
        [
            _figure(f"{t.posts_hour:,}", "posts · 60 min", "tile-volume", **{"data-posts": str(t.posts_hour)}),
            _figure(
                "–" if t.net_sentiment is None else f"{t.net_sentiment:+.0%}",
                "sentiment",
                f"tile-net tile-net--{_net_level(t.net_sentiment)}",
            ),
            _figure(_pct(t.negative_share), "negative · 15 min", f"tile-neg tile-neg--{t.negative_level}"),
        ],
        className="tile-figures",
    )
    dense = density == "dense"
    parts = [f"{t.rate_now:.0f} posts/min now", f"{_pct(t.repost_share)} reposts"]
    if t.negative_baseline is not None:
        parts.append(f"negative usually {_pct(t.negative_baseline)}")
    if dense and t.share_of_voice is not None:  # no room for the bar: the figure joins this line
        parts.insert(0, f"share of voice {_pct(t.share_of_voice)}")
    secondary = html.Div(" · ".join(parts), className="tile-secondary")
    if dense and status:  # what fires matters more than the top post
        n_posts = 0
    details: list = []
    if t.top_posts and n_posts:
        details.append(html.Ul([post_line(p) for p in t.top_posts[:n_posts]], className="tile-posts"))
    extras: list = []
    if t.key_people and n_people:
        extras.append(
            html.Span(
                [html.Span("key people"), html.B(", ".join(t.key_people[:n_people]), className="extra-value")],
                className="tile-people",
            )
        )
    if t.share_of_voice is not None and not dense:
        extras.append(
            html.Span(
                [
                    html.Span("share of voice"),
                    html.B(_pct(t.share_of_voice), className="extra-value"),
                    html.Span(className="sov-bar", style={"--sov": f"{t.share_of_voice:.3f}"}),
                ],
                className="tile-sov",
            )
        )
    words = [*t.hashtags[: max(1, n_terms // 2)], *t.terms[:n_terms]][:n_terms]
    if words:
        extras.append(
            html.Span([html.Span("talk"), html.B(" · ".join(words), className="extra-value")], className="tile-terms")
        )
    mix = language_line(t) if n_terms else ""
    if mix:
        extras.append(html.Span([html.Span("languages"), html.B(mix, className="extra-value")], className="tile-langs"))
    if extras:
        details.append(html.Div(extras, className="tile-extras"))
    return [html.Div(status, className="tile-status"), figures, secondary, *details]


def language_line(t: Tile) -> str:
    """The window's language mix in words: "en 83% · da 8% · de 8%", and the share no model scored when there
    is one: "... · 8% unscored". Empty while a tile has one language only (nothing to tell)."""
    if len(t.languages) < 2 and not t.unscored_share:
        return ""
    parts = [f"{language} {_pct(share)}" for language, share in t.languages]
    if t.unscored_share:
        parts.append(f"{_pct(t.unscored_share)} unscored")
    return " · ".join(parts)


def _net_level(net: float | None) -> str:
    if net is None:
        return "none"
    return "bad" if net <= -0.25 else "warn" if net < 0 else "ok"


def brand_tile(t: Tile, density: str) -> html.Div:
    """A whole tile, built when the wall's brands change; afterwards the wall updates its class, its body and
    its charts in place."""
    charts = [
        html.Div(
            [
                dcc.Graph(
                    id=ids.tile_part(ids.TILE_HOUR, t.id),
                    figure=hour_figure(t.hour),
                    config=GRAPH_CONFIG,
                    className="chart",
                ),
                html.Span("per minute · 60 min", className="chart-label"),
            ],
            className="tile-chart tile-chart--hour",
        )
    ]
    if density != "dense":
        charts.append(
            html.Div(
                [
                    dcc.Graph(
                        id=ids.tile_part(ids.TILE_DAY, t.id),
                        figure=day_figure(t.day),
                        config=GRAPH_CONFIG,
                        className="chart",
                    ),
                    html.Span("24 h", className="chart-label"),
                ],
                className="tile-chart tile-chart--day",
            )
        )
    return html.Div(
        [
            html.Div(
                [
                    html.H2(t.name, className="tile-name", dir="auto"),
                    html.Span("competitor" if t.role == "competitor" else "", className="tile-role"),
                ],
                className="tile-head",
            ),
            html.Div(tile_body(t, density), id=ids.tile_part(ids.TILE_BODY, t.id), className="tile-body"),
            html.Div(charts, className="tile-charts"),
        ],
        id=ids.tile_part(ids.TILE, t.id),
        className=tile_class(t),
        **{"data-tile": t.id},
    )


def freshness(view: WallView, now: datetime) -> tuple[html.Span, str | None]:
    """The line that says whether the wall can be trusted, and the banner text when it cannot, the most severe
    state first: STALLED (records waiting in posts.raw and nothing handled for longer than the stall threshold),
    Kafka unreachable (so a stall cannot be seen), no worker yet, STALE (no write to the live view for a while),
    a source with no data (the pipeline is live, but a network's posts are not reaching it), and only then live
    (no banner)."""
    status = view.pipeline
    if status is not None and status.stalled:
        waited = f"for {view.stalled_for_s} s" if view.stalled_for_s is not None else "yet"
        waiting = f"{status.lag:,} record{'s' if status.lag != 1 else ''} waiting"
        text = f"STALLED: {waiting}, nothing handled {waited}"
        return html.Span(text, className="fresh fresh--stalled"), f"{text} — the wall is not live"
    age = now.timestamp() - view.updated_ms / 1000 if view.updated_ms is not None else None
    if status is None:
        since = f" · last update {_age(age)} ago" if age is not None else ""
        return html.Span(f"Kafka unreachable{since}", className="fresh fresh--kafka"), f"KAFKA UNREACHABLE{since}"
    if not view.configured:
        return html.Span(
            "no data: no worker has started yet", className="fresh fresh--none"
        ), "NO DATA: no worker has started yet"
    if age is None:
        return html.Span("no data yet", className="fresh fresh--none"), "NO DATA YET"
    if age > STALE_AFTER_S:
        return html.Span(
            f"STALE: last update {_age(age)} ago", className="fresh fresh--stale"
        ), f"NO DATA FOR {_age(age).upper()} — the wall is not live"
    down = [s for s in source_statuses(view.sources, int(now.timestamp() * 1000)) if s.state == "no_data"]
    if down:
        names = ", ".join(s.source.upper() for s in down)
        text = f"{names}: {down[0].text.upper()}" if len(down) == 1 else f"NO DATA FROM {names}"
        return html.Span("live", className="fresh fresh--live"), f"{text} — posts there are not seen"
    return html.Span("live", className="fresh fresh--live"), None


def sources_line(view: WallView, now: datetime) -> list[html.Span]:
    """One label per source: its name and "live", "no mentions" (talking to us, nothing matched) or "no data for
    N s" (silent or down), coloured; nothing when no source reports (the synthetic and replay sources do not)."""
    now_ms = int(now.timestamp() * 1000)
    return [
        html.Span(
            [html.B(s.source), " ", s.text],
            className=f"source source--{s.state}",
            title=f"source {s.source}: {s.text}",
            **{"data-source": s.source, "data-state": s.state},
        )
        for s in source_statuses(view.sources, now_ms)
    ]


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


#: What the pipeline did with every record of posts.raw; duplicates only when there are any. Each counts
#: posts once, whatever number of brands a post names.
COUNTER_LABELS = {
    "posts_in": "posts in",
    "matched": "about a watched brand",
    "unmatched": "about none",
    "deadlettered": "refused (deadletter)",
    "duplicates": "repeats dropped",
}


def counters(counters: dict[str, int]) -> list:
    return [
        html.Span([html.B(f"{counters[k]:,}"), f" {label}"], className=f"counter counter--{k}", id=f"counter-{k}")
        for k, label in COUNTER_LABELS.items()
        if k != "duplicates" or counters.get(k, 0) > 0
    ]
