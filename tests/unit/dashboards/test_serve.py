"""The gunicorn settings of `lytte dashboard` (the server itself runs in tests/integration/test_dashboard_server.py)."""

import pytest
from gunicorn.config import Config
from gunicorn.workers.gthread import ThreadWorker

from dashboards.serve import (
    SHUTDOWN_S,
    DashboardServer,
    DashboardWorker,
    SafeLogger,
    bind_address,
    options,
    threads_for,
    without_query,
)
from schemas.settings import Settings


@pytest.mark.parametrize(
    ("host", "bind"),
    [("127.0.0.1", "127.0.0.1:8050"), ("0.0.0.0", "0.0.0.0:8050"), ("::1", "[::1]:8050"), ("[::1]", "[::1]:8050")],
)
def test_bind_address(host, bind):
    assert bind_address(host, 8050) == bind


def test_threads_leave_room_for_pages_beside_the_streams():
    assert threads_for(Settings(dashboard_threads=24, dashboard_max_streams=16)) == 24
    assert threads_for(Settings(dashboard_threads=8, dashboard_max_streams=16)) == 20


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("/callback?code=s3cret&state=x", "/callback?…"),
        ("GET /login?next=/&token=s3cret HTTP/1.1", "GET /login?… HTTP/1.1"),
        ("/live/changes", "/live/changes"),
        (3, 3),
    ],
)
def test_without_query(text, shown):
    assert without_query(text) == shown


def test_one_gthread_worker_on_loopback_by_default():
    opts = options(Settings())
    assert opts["bind"] == ["127.0.0.1:8050"]
    assert opts["workers"] == 1
    assert issubclass(opts["worker_class"], ThreadWorker)
    assert opts["threads"] == Settings().dashboard_threads
    assert opts["graceful_timeout"] == SHUTDOWN_S
    assert opts["accesslog"] is None
    assert "%(q)s" not in opts["access_log_format"] and "%(r)s" not in opts["access_log_format"]
    assert "%(f)s" not in opts["access_log_format"]  # the referrer carries query strings too


def test_every_option_is_a_gunicorn_setting():
    server = DashboardServer(Settings(dashboard_host="::1", dashboard_port=9000))
    assert server.cfg.worker_class is DashboardWorker
    assert server.cfg.threads == Settings().dashboard_threads
    assert server.cfg.address == [("::1", 9000)]
    if "control_socket_disable" in server.cfg.settings:  # gunicorn >= 25
        assert server.cfg.settings["control_socket_disable"].get() is True
    assert set(options(Settings())) - {"control_socket_disable"} <= set(Config().settings)


def test_the_error_log_shows_no_query_strings(capsys):
    cfg = Config()
    cfg.set("errorlog", "-")
    logger = SafeLogger(cfg)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("Error handling request %s %s", "GET", "/callback?code=s3cret")
    logger.warning("Invalid request from ip=1.2.3.4: Invalid Request Line 'GET /x?token=s3cret HTTP/1.1'")
    err = capsys.readouterr().err
    assert "Error handling request GET /callback?…" in err
    assert "s3cret" not in err
