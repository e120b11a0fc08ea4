"""Pure functions from live-view data to numbers and figures; no Redis, no Dash callbacks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import plotly.graph_objects as go

from schemas.records import BucketMetrics

NEGATIVE_FLAG_AT = -0.25  # net sentiment over the last few minutes at or below this flags the tile


@dataclass(frozen=True)
class TileSummary:
    posts: int
    net_sentiment: float  # (positive - negative) / posts over the window, in [-1, 1]
    recent_net: float
    recent_posts: int
    reach: int

    @property
    def flagged(self) -> bool:
        return self.recent_posts >= 5 and self.recent_net <= NEGATIVE_FLAG_AT


def window(buckets: list[BucketMetrics], now: datetime, minutes: int) -> list[BucketMetrics]:
    since = now - timedelta(minutes=minutes)
    return [b for b in buckets if b.bucket_start > since]


def _net(buckets: list[BucketMetrics]) -> tuple[int, float]:
    posts = sum(b.posts for b in buckets)
    if not posts:
        return 0, 0.0
    return posts, (sum(b.positive for b in buckets) - sum(b.negative for b in buckets)) / posts


def summarize(buckets: list[BucketMetrics], now: datetime, recent_minutes: int = 5) -> TileSummary:
    """Scenario: buckets in the last hour with 10 posts (6 positive, 1 negative), of which the last five
    minutes hold 4 posts (all negative) -> posts=10, net_sentiment=0.5, recent_net=-1.0, recent_posts=4,
    flagged=False (too few recent posts to flag)."""
    hour = window(buckets, now, 60)
    posts, net = _net(hour)
    recent_posts, recent_net = _net(window(hour, now, recent_minutes))
    return TileSummary(posts, net, recent_net, recent_posts, sum(b.reach for b in hour))


def volume_figure(buckets: list[BucketMetrics], now: datetime) -> go.Figure:
    """Per-minute posts over the last hour, negative posts drawn over them in red."""
    hour = window(buckets, now, 60)
    x = [b.bucket_start for b in hour]
    fig = go.Figure(
        [
            go.Bar(x=x, y=[b.posts for b in hour], name="posts", marker_color="#5b8def"),
            go.Bar(x=x, y=[b.negative for b in hour], name="negative", marker_color="#e5484d"),
        ]
    )
    fig.update_layout(
        barmode="overlay",
        showlegend=False,
        margin=dict(l=8, r=8, t=4, b=20),
        height=110,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font=dict(color="#c9d1d9", size=11),
        xaxis=dict(range=[now - timedelta(minutes=60), now], showgrid=False, tickformat="%H:%M", nticks=7),
        yaxis=dict(showgrid=False, rangemode="tozero"),
        transition={"duration": 0},
    )
    return fig
