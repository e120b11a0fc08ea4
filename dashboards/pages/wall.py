"""The wall (`/`): one tile per brand and competitor, filling the screen whatever its size, live within a second.

Query parameters: `kiosk=1` hides the navigation; `brands=a,b` shows only those; `per=N&rotate=S` shows N tiles
at a time and moves to the next group every S seconds.

One callback keeps the wall. It runs on every change notice pushed from Redis (the shell's live tick), on a
slow tick (`dashboard_slow_refresh_s`, so that staleness shows even when nothing is pushed) and on the
rotation tick. It rebuilds the tiles only when the brands on screen change; otherwise it updates each tile
in place (its class, its text, its charts as `Patch`es), and only the tiles whose content changed
(`Tile.digest`): a calm wall does not move.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dash
import redis
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from dashboards import auth, ids, live
from dashboards.components.wall import brand_tile, counters, freshness, sources_line, tile_body, tile_class
from dashboards.figures import day_patch, hour_patch
from dashboards.wall_model import density, grid_shape, groups, tiles


def layout(kiosk: str | None = None, brands: str | None = None, per: str | None = None, rotate: str | None = None, **_):
    rotate_s = _positive(rotate)
    return html.Div(
        [
            dcc.Interval(id=ids.SLOW_TICK, interval=live.get().slow_refresh_ms),
            dcc.Interval(id=ids.ROTATE_TICK, interval=(rotate_s or 60) * 1000, disabled=not rotate_s),
            dcc.Interval(id=ids.CLOCK_TICK, interval=1_000),
            dcc.Store(id=ids.WALL_QUERY, data={"brands": _brand_list(brands), "per": _positive(per)}),
            dcc.Store(id=ids.WALL_SHOWN),
            dcc.Store(id=ids.WALL_DIGESTS, data={}),
            html.Header(
                [
                    html.Span(id=ids.WALL_CLOCK, className="wall-clock"),
                    *([] if auth.enabled() else [html.Span("auth off", className="wall-authoff")]),
                    html.Div(id=ids.WALL_FRESHNESS, className="wall-fresh"),
                    html.Div(id=ids.WALL_SOURCES, className="wall-sources"),
                    html.Div(id=ids.WALL_COUNTERS, className="counters"),
                ],
                className="wall-header",
            ),
            html.Div(id=ids.WALL_BANNER, className="banner banner--hidden"),
            html.Main(id=ids.WALL_TILES, className="tiles"),
        ],
        className="wall",
    )


dash.register_page(__name__, path="/", title="lytte — wall", name="Wall", layout=layout)


def _positive(text: str | None) -> int | None:
    try:
        value = int(text) if text else None
    except ValueError:
        return None
    return value if value and value > 0 else None


def _brand_list(text: str | None) -> list[str] | None:
    return [b.strip() for b in text.split(",") if b.strip()] if text else None


clientside_callback(
    """function (n) {
        return new Date().toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', hour12: false});
    }""",
    Output(ids.WALL_CLOCK, "children"),
    Input(ids.CLOCK_TICK, "n_intervals"),
)


@callback(
    Output(ids.WALL_TILES, "children"),
    Output(ids.WALL_TILES, "className"),
    Output(ids.WALL_TILES, "style"),
    Output(ids.WALL_SHOWN, "data"),
    Output({"type": ids.TILE, "brand": ALL}, "className"),
    Output({"type": ids.TILE_BODY, "brand": ALL}, "children"),
    Output({"type": ids.TILE_HOUR, "brand": ALL}, "figure"),
    Output({"type": ids.TILE_DAY, "brand": ALL}, "figure"),
    Output(ids.WALL_DIGESTS, "data"),
    Output(ids.WALL_COUNTERS, "children"),
    Output(ids.WALL_FRESHNESS, "children"),
    Output(ids.WALL_SOURCES, "children"),
    Output(ids.WALL_BANNER, "children"),
    Output(ids.WALL_BANNER, "className"),
    Input(ids.LIVE_TICK, "data"),
    Input(ids.SLOW_TICK, "n_intervals"),
    Input(ids.ROTATE_TICK, "n_intervals"),
    State(ids.WALL_QUERY, "data"),
    State(ids.WALL_SHOWN, "data"),
    State(ids.WALL_DIGESTS, "data"),
)
def refresh(_tick, _slow, rotation, query, shown, digests):
    now = datetime.now(UTC)
    n_tiles, n_hour, n_day = (len(ctx.outputs_list[i]) for i in (4, 6, 7))
    unchanged_tiles = ([no_update] * n_tiles, [no_update] * n_tiles, [no_update] * n_hour, [no_update] * n_day)
    try:
        view = live.get().wall(now)
    except redis.RedisError as exc:
        # Keep the tiles as they were, but never let them pass for live.
        text = f"Redis unreachable: the wall is not updating ({type(exc).__name__})"
        line = html.Span(text, className="fresh fresh--stalled")
        head = (no_update, line, no_update, text.upper(), "banner banner--bad")
        return (no_update,) * 4 + unchanged_tiles + (no_update, *head)

    wanted = (query or {}).get("brands")
    on_wall = [b for b in view.brands if wanted is None or b.id in wanted]
    pages = groups([b.id for b in on_wall], (query or {}).get("per"))
    page = set(pages[(rotation or 0) % len(pages)])
    on_screen = [b.id for b in on_wall if b.id in page]
    models = {t.id: t for t in tiles(view.brands, now) if t.id in page}

    line, banner = freshness(view, now)
    head = (
        counters(view.counters),
        line,
        sources_line(view, now),
        banner or "",
        "banner banner--bad" if banner else "banner banner--hidden",
    )
    fresh_digests = {b: models[b].digest() for b in on_screen}
    if on_screen != shown:
        n = len(on_screen)
        cols, rows = grid_shape(n)
        dens = density(n)
        grid = [brand_tile(models[b], dens) for b in on_screen]
        if not grid:
            grid = [html.Div("no brands to show: is the worker running with a watch file?", className="tiles-empty")]
        style = {"--cols": cols, "--rows": rows}
        return (grid, f"tiles tiles--{dens}", style, on_screen, *unchanged_tiles, fresh_digests, *head)

    dens = density(len(on_screen))
    classes, bodies, hours, days = [], [], [], []
    for out in ctx.outputs_list[4]:
        t = models.get(out["id"]["brand"])
        same = t is None or (digests or {}).get(t.id) == fresh_digests[t.id]
        classes.append(no_update if same else tile_class(t))
        bodies.append(no_update if same else tile_body(t, dens))
    for out in ctx.outputs_list[6]:
        t = models.get(out["id"]["brand"])
        same = t is None or (digests or {}).get(t.id) == fresh_digests[t.id]
        hours.append(no_update if same else hour_patch(t.hour))
    for out in ctx.outputs_list[7]:
        t = models.get(out["id"]["brand"])
        same = t is None or (digests or {}).get(t.id) == fresh_digests[t.id]
        days.append(no_update if same else day_patch(t.day))
    return (no_update,) * 4 + (classes, bodies, hours, days, fresh_digests, *head)
