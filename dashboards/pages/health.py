"""Health (`/health`): consumer lag per topic and partition, throughput, worker liveness, Kafka and Redis
reachability, deadletters (and a look at one), webhook receivers and sources, each row ok / warning / bad.

It redraws on the shell's live tick (every change the workers write) and every 5 s, at most once a second: a
clientside throttle turns both into `health_ids.TICK`, letting the last one through at the end of the second.
Reads never wait on Kafka for long (`dashboards.health_data.KafkaHealth`); when Kafka or Redis stops answering,
the page says since when and keeps the last known figures, marked as old.
"""

from __future__ import annotations

import time

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html

from dashboards import auth, health_data, ids, live
from dashboards import health_ids as hid
from dashboards.components.health import deadletter_table, deadletter_value, figure, problems, table
from dashboards.health_data import HealthReader
from dashboards.health_model import (
    DEADLETTER_COLUMNS,
    LAG_COLUMNS,
    PARTITION_COLUMNS,
    RECEIVER_COLUMNS,
    SERVICE_COLUMNS,
    SOURCE_COLUMNS,
    WORKER_COLUMNS,
    summarise,
)


def _section(title: str, *children) -> html.Section:
    return html.Section([html.H2(title), *children], className="hsection")


layout = html.Div(
    [
        dcc.Interval(id=hid.INTERVAL, interval=5_000),
        dcc.Store(id=hid.TICK),
        dcc.Store(id=hid.SELECTED),
        html.Header([html.H1("Health"), html.Div(id=hid.VERDICT)], className="health-header"),
        html.Div(id=hid.FIGURES, className="hfigs"),
        _section("Workers", html.Div(id=hid.WORKERS)),
        _section("posts.raw by partition", html.Div(id=hid.PARTITIONS)),
        _section("Consumer lag", html.Div(id=hid.LAG)),
        _section(
            "Deadletters",
            html.Div(id=hid.DEADLETTERS),
            html.Div(
                html.Div("Click a row to see its record.", className="hnote"),
                id=hid.DEADLETTER_VALUE,
                className="dl-view",
            ),
        ),
        _section("Webhooks", html.Div(id=hid.WEBHOOKS)),
        _section("Sources", html.Div(id=hid.SOURCES)),
    ],
    id=hid.PAGE,
    className="health",
)
dash.register_page(__name__, path="/health", title="lytte — health", name="Health", layout=layout)


# Both the live tick (up to 4 a second) and the 5 s interval go through here: at most one redraw a second, and a
# change that came within the second is drawn at its end (a trailing timer), not dropped.
clientside_callback(
    f"""
    function (_tick, _n) {{
        var cs = window.dash_clientside;
        var t = window.lytteHealthTick || (window.lytteHealthTick = {{last: 0, timer: null}});
        var now = Date.now();
        if (now - t.last >= 1000) {{ t.last = now; return now; }}
        if (!t.timer) {{
            t.timer = setTimeout(function () {{
                t.timer = null;
                t.last = Date.now();
                if (document.getElementById('{hid.PAGE}')) {{ cs.set_props('{hid.TICK}', {{data: t.last}}); }}
            }}, 1000 - (now - t.last));
        }}
        return cs.no_update;
    }}
    """,
    Output(hid.TICK, "data"),
    Input(ids.LIVE_TICK, "data"),
    Input(hid.INTERVAL, "n_intervals"),
)


def _reader() -> HealthReader:
    return health_data.get(live.view.raw if live.view is not None else None)


@callback(
    Output(hid.VERDICT, "children"),
    Output(hid.FIGURES, "children"),
    Output(hid.WORKERS, "children"),
    Output(hid.PARTITIONS, "children"),
    Output(hid.LAG, "children"),
    Output(hid.DEADLETTERS, "children"),
    Output(hid.WEBHOOKS, "children"),
    Output(hid.SOURCES, "children"),
    Input(hid.TICK, "data"),
    State(hid.SELECTED, "data"),
)
def refresh(_tick, selected):
    s = summarise(_reader().read())
    return (
        problems(s.problems),
        [figure(f) for f in s.figures],
        [table(WORKER_COLUMNS, s.workers), table(SERVICE_COLUMNS, s.services)],
        table(PARTITION_COLUMNS, s.partitions),
        table(LAG_COLUMNS, s.lag),
        deadletter_table(DEADLETTER_COLUMNS, s.deadletters, selected),
        table(RECEIVER_COLUMNS, s.receivers),
        table(SOURCE_COLUMNS, s.sources),
    )


@callback(
    Output(hid.SELECTED, "data"),
    Output(hid.DEADLETTER_VALUE, "children"),
    Input({"type": hid.DEADLETTER_ROW, "key": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def select(_clicks):
    # Rows are drawn again on every refresh (n_clicks back to 0): only a real click counts.
    if not isinstance(ctx.triggered_id, dict) or not any(t.get("value") for t in ctx.triggered):
        return dash.no_update, dash.no_update
    key = ctx.triggered_id["key"]
    try:
        auth.require("viewer")
    except auth.NotAllowed as exc:
        return dash.no_update, html.Div(f"Not allowed: {exc}", className="hnote")
    partition, offset = (int(x) for x in key.split(":"))
    reader = _reader()
    record = reader.deadletter(partition, offset)
    return key, deadletter_value(record, int(time.time() * 1000), reader.kafka.deadletter_topic)
