"""The live view the page callbacks read; set once by `dashboards.app.create_app`."""

from __future__ import annotations

from dashboards.data import LiveView

view: LiveView | None = None


def get() -> LiveView:
    if view is None:
        raise RuntimeError("the dashboard was not created with dashboards.app.create_app")
    return view
