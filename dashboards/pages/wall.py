"""The wall: one tile per brand and competitor with the last hour's volume and net sentiment, the latest
posts, and the pipeline counters. Updates are pushed (server-sent events) within a second of a write. The
5 s slow tick redraws the freshness line even when nothing is pushed, so a stalled pipeline shows as STALLED
at most a tick (plus the 2 s Kafka cache) after it passes the stall threshold (`LYTTE_STALL_AFTER_S`)."""

from __future__ import annotations

from datetime import UTC, datetime

import dash
import redis
from dash import Input, Output, callback, dcc, html

from dashboards import ids, live
from dashboards.components.wall import brand_tile, counters, freshness

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
    now = datetime.now(UTC)
    try:
        view = live.get().wall(now)
    except redis.RedisError as exc:
        # Keep the tiles as they were, but never let them pass for live.
        line = html.Span(
            f"Redis unreachable: the wall is not updating ({type(exc).__name__})", className="fresh fresh--stalled"
        )
        return dash.no_update, dash.no_update, line
    return [brand_tile(b, now) for b in view.brands], counters(view.counters), freshness(view, now)
