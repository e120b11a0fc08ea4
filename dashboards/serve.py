"""`lytte dashboard` under gunicorn, one command: one worker process (the live view, its Kafka reader and the
live-change hub are per process) with `dashboard_threads` threads, gthread workers. A live push stream holds a
thread for as long as its screen is open, which is what `dashboard_max_streams` bounds; `threads_for` keeps
threads free for pages and callbacks beside the streams.

Stopping: SIGTERM (and SIGINT) end the live streams at once (`live_stream.stop_all`), requests in flight get
up to SHUTDOWN_S to finish, then gunicorn kills the worker. No access log is written (a wall screen makes a
request per redraw; query strings can carry secrets, an OIDC callback's code for one), and the error log
shows request paths without their query strings.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from dashboards import live_stream
from schemas.settings import Settings

log = logging.getLogger(__name__)

#: requests in flight get this long to finish after SIGTERM; then the worker is killed
SHUTDOWN_S = 10
#: threads kept for pages and callbacks beside the live streams
SPARE_THREADS = 4


def bind_address(host: str, port: int) -> str:
    """gunicorn's bind string.

    Scenario: ("127.0.0.1", 8050) -> "127.0.0.1:8050"; ("::1", 8050) -> "[::1]:8050"; ("[::1]", 8050) ->
    "[::1]:8050".
    """
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def threads_for(settings: Settings) -> int:
    """Request threads: the configured number, but never so few that open live streams leave no thread for
    the pages.

    Scenario: threads 24, max streams 16 -> 24; threads 8, max streams 16 -> 20 (16 + SPARE_THREADS).
    """
    return max(settings.dashboard_threads, settings.dashboard_max_streams + SPARE_THREADS)


_QUERY = re.compile(r"\?\S*")


def without_query(text: object) -> object:
    """A log argument with any URL query string cut off (other values unchanged).

    Scenario: "/callback?code=secret&state=x" -> "/callback?…"; "/live/changes" -> "/live/changes"; 3 -> 3.
    """
    return _QUERY.sub("?…", text) if isinstance(text, str) else text


class SafeLogger(glogging.Logger):
    """gunicorn's logger, with query strings cut off the request lines and URIs it logs on errors."""

    def error(self, msg, *args, **kwargs):
        super().error(without_query(msg), *map(without_query, args), **kwargs)

    def warning(self, msg, *args, **kwargs):
        super().warning(without_query(msg), *map(without_query, args), **kwargs)

    def exception(self, msg, *args, **kwargs):
        super().exception(without_query(msg), *map(without_query, args), **kwargs)


class DashboardWorker(ThreadWorker):
    """gunicorn's gthread worker that ends the live streams as soon as it is told to stop: gunicorn waits for
    open requests, and a stream would otherwise stay open until killed."""

    def handle_exit(self, sig, frame):  # SIGTERM: graceful
        live_stream.stop_all()
        super().handle_exit(sig, frame)

    def handle_quit(self, sig, frame):  # SIGINT, SIGQUIT: quick
        live_stream.stop_all()
        super().handle_quit(sig, frame)


def options(settings: Settings) -> dict[str, Any]:
    """The gunicorn settings for these lytte settings."""
    return {
        "bind": [bind_address(settings.dashboard_host, settings.dashboard_port)],
        "workers": 1,
        "worker_class": DashboardWorker,
        "threads": threads_for(settings),
        "graceful_timeout": SHUTDOWN_S,
        "timeout": 30,  # the worker's heartbeat (the gthread main loop beats every second, streams or not)
        "keepalive": 5,
        "accesslog": None,
        "access_log_format": '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms',  # if ever enabled: no query
        "logger_class": SafeLogger,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "lytte-dashboard",
        "preload_app": False,  # the app (its Redis and Kafka clients, the hub's thread) is made in the worker
        "control_socket_disable": True,  # gunicorn >= 25 opens one in a shared path by default
    }


class DashboardServer(BaseApplication):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in options(self.settings).items():
            if key in self.cfg.settings:  # older gunicorns lack some (the control socket)
                self.cfg.set(key, value)

    def load(self):
        from dashboards.app import create_app

        return create_app(self.settings).server


def serve(settings: Settings) -> None:
    """Run the dashboard until SIGTERM or SIGINT (blocks; gunicorn's arbiter runs in this process)."""
    if threads_for(settings) != settings.dashboard_threads:
        log.warning(
            "dashboard: %d threads instead of %d, so that %d live streams leave %d for the pages",
            threads_for(settings),
            settings.dashboard_threads,
            settings.dashboard_max_streams,
            SPARE_THREADS,
        )
    DashboardServer(settings).run()


if __name__ == "__main__":
    serve(Settings())
