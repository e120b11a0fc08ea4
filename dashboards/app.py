"""The Dash app: pages, the live-change stream (server-sent events from Redis pub/sub), and the server."""

from __future__ import annotations

import time

import dash
import orjson
from dash import Dash, html
from flask import Response

from dashboards import live
from dashboards.data import LiveView
from schemas.settings import Settings

#: The browser gets at most this many change notices a second, however fast the workers write.
NOTICES_PER_SECOND = 4
KEEPALIVE_S = 15.0


def _change_stream(view: LiveView):
    pubsub = view.changes()
    try:
        yield "retry: 2000\n\n"
        pending: set[str] = set()
        last_sent = 0.0
        while True:
            message = pubsub.get_message(timeout=1.0 / NOTICES_PER_SECOND)
            while message is not None:
                pending.add(orjson.loads(message["data"])["brand"])
                message = pubsub.get_message(timeout=0)
            now = time.monotonic()
            if pending and now - last_sent >= 1.0 / NOTICES_PER_SECOND:
                yield f"data: {orjson.dumps({'brands': sorted(pending)}).decode()}\n\n"
                pending.clear()
                last_sent = now
            elif now - last_sent >= KEEPALIVE_S:
                yield ": keepalive\n\n"
                last_sent = now
    finally:
        pubsub.close()


def create_app(settings: Settings | None = None, view: LiveView | None = None) -> Dash:
    settings = settings or Settings()
    live.view = view or LiveView(settings)
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        title="lytte",
        update_title=None,  # no "Updating..." flashing in the tab of a wall screen
    )
    from dashboards.pages import wall  # noqa: F401  (registers the page and its callbacks)

    app.layout = html.Div([dash.page_container], className="lytte")

    @app.server.route("/live/changes")
    def live_changes() -> Response:
        return Response(
            _change_stream(live.view),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.server.route("/healthz")
    def healthz() -> Response:
        live.view.redis.ping()
        return Response("ok\n", mimetype="text/plain")

    return app


def run(settings: Settings) -> None:
    app = create_app(settings)
    app.run(host=settings.dashboard_host, port=settings.dashboard_port, debug=False, threaded=True)
