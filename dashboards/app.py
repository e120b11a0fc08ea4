"""The Dash app: the shell every page shares (navigation, who is logged in, the live tick), the pages, the
live push route (server-sent events from Redis pub/sub) and the health probe."""

from __future__ import annotations

import dash
from dash import Dash, Input, Output, _callback, clientside_callback, dcc, html
from flask import Response

from dashboards import auth, health_data, ids, live
from dashboards.data import LiveView
from dashboards.live_stream import ChangeHub, stream_response
from schemas.settings import Settings

PAGES = (("/", "Wall"), ("/alerts", "Alerts"), ("/health", "Health"))


def shell() -> html.Div:
    """The frame around every page, built per request (it names the user). In kiosk mode (`?kiosk=1`) the
    navigation hides and the page has the whole screen."""
    user = auth.current_user()
    who = [html.Span("auth off: anyone can see and act", className="nav-authoff")] if not auth.enabled() else []
    if user is not None and auth.enabled():
        who = [html.Span(f"{user.name} · {user.role}", className="nav-user"), html.A("log out", href="/logout")]
    return html.Div(
        [
            dcc.Location(id=ids.URL),
            dcc.Store(id=ids.LIVE_TICK),
            html.Nav(
                [html.Span("lytte", className="nav-brand")]
                + [html.A(name, href=path, className="nav-link") for path, name in PAGES]
                + [html.Div(who, className="nav-who")],
                className="nav",
            ),
            dash.page_container,
        ],
        id=ids.SHELL,
        className="lytte",
    )


clientside_callback(
    "function (search) { return new URLSearchParams(search || '').get('kiosk') === '1' ? 'lytte kiosk' : 'lytte'; }",
    Output(ids.SHELL, "className"),
    Input(ids.URL, "search"),
)


_page_callbacks: tuple[dict, list] | None = None


def _give_page_callbacks() -> None:
    """Make the pages' callbacks (registered once, when their modules are imported, with `dash.callback`)
    available to this app too. Dash moves them from its global registry into the first app that serves a
    request, so without this a second app in the same process (tests make many) would have none."""
    global _page_callbacks
    if _page_callbacks is None:
        _page_callbacks = (dict(_callback.GLOBAL_CALLBACK_MAP), list(_callback.GLOBAL_CALLBACK_LIST))
    else:
        _callback.GLOBAL_CALLBACK_MAP.update(_page_callbacks[0])
        _callback.GLOBAL_CALLBACK_LIST.extend(c for c in _page_callbacks[1] if c not in _callback.GLOBAL_CALLBACK_LIST)


def create_app(settings: Settings | None = None, view: LiveView | None = None) -> Dash:
    settings = settings or Settings()
    live.view = view or LiveView(settings)
    live.settings = settings
    health_data.install(settings, live.view.raw)
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        title="lytte",
        update_title=None,  # no "Updating..." flashing in the tab of a wall screen
        suppress_callback_exceptions=True,  # each page's callbacks exist while another page is shown
    )
    from dashboards.pages import alerts, health, wall  # noqa: F401  (register the pages and their callbacks)

    _give_page_callbacks()

    app.layout = shell

    # one Redis subscription for every open screen, at most dashboard_max_streams of them (503 beyond)
    hub = ChangeHub.for_view(live.view, settings.dashboard_max_streams)

    @app.server.route("/live/changes")
    def live_changes() -> Response:
        return stream_response(hub)

    @app.server.route("/healthz")
    def healthz() -> Response:
        live.view.redis.ping()
        return Response("ok\n", mimetype="text/plain")

    auth.install(app, settings)
    return app


def run(settings: Settings) -> None:
    from dashboards.serve import serve  # gunicorn: one worker process, dashboard_threads threads

    serve(settings)
