"""The live view and the settings the page callbacks read; set once by `dashboards.app.create_app`."""

from __future__ import annotations

from dashboards.data import LiveView
from schemas.settings import Settings

view: LiveView | None = None
settings: Settings | None = None


def get() -> LiveView:
    if view is None:
        raise RuntimeError("the dashboard was not created with dashboards.app.create_app")
    return view
