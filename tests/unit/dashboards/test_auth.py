"""Roles, the login rate limiter, proxy trust and group mapping, and the guard on a small Dash app (Flask's
test client: no services)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import flask
import pytest
from dash import Dash, Input, Output, html
from pydantic import SecretStr

from dashboards import auth
from dashboards.auth import (
    DEMO_USER,
    ROLES,
    AuthConfigError,
    LoginLimiter,
    NotAllowed,
    User,
    load_secret_key,
    parse_group_roles,
    parse_networks,
    peer_trusted,
    public_paths,
    role_for,
    safe_next,
    split_groups,
    wants_page,
)
from dashboards.users import add_user
from schemas.settings import Settings

KEY = "k3y-" * 10
DEFAULT_MAP = Settings.model_fields["dashboard_group_roles"].default


# -- roles ----------------------------------------------------------------------------------------------------


def test_roles_are_ordered():
    assert ROLES == ("viewer", "operator", "supervisor")
    viewer, operator, supervisor = (User("x", role) for role in ROLES)
    assert viewer.can("viewer") and not viewer.can("operator") and not viewer.can("supervisor")
    assert operator.can("viewer") and operator.can("operator") and not operator.can("supervisor")
    assert all(supervisor.can(role) for role in ROLES)
    assert DEMO_USER.role == "supervisor"


# -- the rate limiter -----------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_for_a_name_block_it_until_the_window_passes():
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    for i in range(5):
        assert limiter.retry_after("ana", f"10.0.0.{i}") == 0
        limiter.failed("ana", f"10.0.0.{i}")
        clock.now += 10
    assert limiter.retry_after("ana", "10.0.0.99") == pytest.approx(300 - 50)
    assert limiter.retry_after("ANA", "10.0.0.99") > 0  # names are compared case-blind
    assert limiter.retry_after("bo", "10.0.0.99") == 0
    clock.now += 250
    assert limiter.retry_after("ana", "10.0.0.99") == 0  # the first failure left the window


def test_five_failures_from_one_address_block_every_name_from_it():
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    for name in ("a", "b", "c", "d", "e"):
        limiter.failed(name, "192.0.2.7")
    assert limiter.retry_after("f", "192.0.2.7") == pytest.approx(300)
    assert limiter.retry_after("f", "192.0.2.8") == 0


def test_a_success_clears_the_name_but_not_the_address():
    limiter = LoginLimiter(clock=Clock())
    for _ in range(5):
        limiter.failed("ana", "192.0.2.7")
    limiter.succeeded("ana")
    assert limiter.retry_after("ana", "192.0.2.8") == 0
    assert limiter.retry_after("ana", "192.0.2.7") > 0


def test_the_window_slides():
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    for _ in range(4):
        limiter.failed("ana", None)
    clock.now += 200
    limiter.failed("ana", None)
    assert limiter.retry_after("ana", None) == pytest.approx(100)
    clock.now += 100
    assert limiter.retry_after("ana", None) == 0
    limiter.failed("ana", None)  # four old ones left the window: one recent failure is not a block
    assert limiter.retry_after("ana", None) == 0


def test_the_limiter_forgets_the_oldest_names_past_its_bound():
    limiter = LoginLimiter(clock=Clock(), max_keys=100)
    for i in range(500):
        limiter.failed(f"user{i}", None)
    assert len(limiter._failures) <= 100


# -- proxy trust, groups, redirects ---------------------------------------------------------------------------


def test_networks_parse_and_bad_ones_fail_at_start_up():
    assert parse_networks("127.0.0.1/32, 10.0.0.0/8,, ::1") == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    with pytest.raises(AuthConfigError, match=r"'proxy\.local' is not a network"):
        parse_networks("10.0.0.0/8,proxy.local")


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("::ffff:10.1.2.3", True),
        ("::1", True),
        ("127.0.0.2", False),
        ("192.168.1.10", False),
        ("::2", False),
        (None, False),
        ("", False),
        ("not-an-address", False),
    ],
)
def test_peer_trust(peer, trusted):
    assert peer_trusted(peer, parse_networks("127.0.0.1/32,::1/128,10.0.0.0/8")) is trusted


def test_group_roles_parse():
    assert parse_group_roles(DEFAULT_MAP) == {
        "lytte-viewer": "viewer",
        "lytte-operator": "operator",
        "lytte-supervisor": "supervisor",
    }
    assert parse_group_roles(" cn=ops=operator , ") == {"cn=ops": "operator"}
    for bad in ("ops=admin", "ops", "=viewer"):
        with pytest.raises(AuthConfigError, match="LYTTE_DASHBOARD_GROUP_ROLES"):
            parse_group_roles(bad)


def test_the_highest_mapped_role_wins_and_no_mapped_group_means_no_role():
    mapping = parse_group_roles(DEFAULT_MAP)
    assert role_for(["staff", "lytte-viewer", "lytte-operator"], mapping) == "operator"
    assert role_for(["lytte-supervisor", "lytte-viewer"], mapping) == "supervisor"
    assert role_for(["staff", "LYTTE-VIEWER"], mapping) is None
    assert role_for([], mapping) is None
    assert split_groups(" lytte-viewer ,, staff") == ["lytte-viewer", "staff"]
    assert split_groups(["a", " b "]) == ["a", "b"]
    assert split_groups(None) == []


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/alerts?kiosk=1", "/alerts?kiosk=1"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/login?next=/x", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
    ],
)
def test_after_login_only_a_local_path(target, expected):
    assert safe_next(target) == expected


def test_browsers_navigating_are_told_apart_from_scripts():
    nav = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}
    assert wants_page("GET", "/alerts", nav)
    assert wants_page("GET", "/nowhere", {"Accept": "text/html,application/xhtml+xml"})
    assert not wants_page("POST", "/_dash-update-component", nav)
    assert not wants_page("GET", "/_dash-layout", {"Sec-Fetch-Mode": "cors", "Accept": "*/*"})
    assert not wants_page("GET", "/assets/wall.css", nav)
    assert not wants_page("GET", "/live/changes", {"Accept": "text/event-stream"})
    assert not wants_page("GET", "/alerts", {"Sec-Fetch-Mode": "cors", "Accept": "text/html"})


def test_the_public_paths_are_few_and_exact():
    assert public_paths("password") == {"/healthz", "/login"}
    assert public_paths("oidc") == {"/healthz", "/login", "/login/callback"}
    assert public_paths("proxy") == {"/healthz"}


# -- start-up errors ------------------------------------------------------------------------------------------


def test_the_session_key_comes_from_the_environment_or_a_file(tmp_path):
    assert load_secret_key(Settings(dashboard_auth="password", dashboard_secret_key=SecretStr(KEY))) == KEY
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    assert load_secret_key(Settings(dashboard_auth="password", dashboard_secret_key_file=key_file)) == KEY


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({}, "needs a session key: set LYTTE_DASHBOARD_SECRET_KEY"),
        ({"dashboard_secret_key": SecretStr("short-key")}, "at least 32 characters"),
        ({"dashboard_secret_key_file": Path("/nonexistent/key")}, "/nonexistent/key: cannot read the session key"),
    ],
)
def test_no_usable_session_key_fails_start_up(update, message):
    with pytest.raises(AuthConfigError, match=message) as info:
        load_secret_key(Settings(dashboard_auth="password", **update))
    assert "short-key" not in str(info.value)


def test_password_mode_without_a_users_file_or_users_fails_start_up(tmp_path):
    settings = Settings(dashboard_auth="password", dashboard_secret_key=SecretStr(KEY))
    with pytest.raises(AuthConfigError, match="needs a users file"):
        auth.install(Dash(__name__), settings)
    empty = tmp_path / "users.yaml"
    empty.write_text("users: {}\n")
    with pytest.raises(AuthConfigError, match="no users"):
        auth.install(Dash(__name__), settings.model_copy(update={"dashboard_users_file": empty}))


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"dashboard_auth": "password", "dashboard_secret_key": SecretStr(KEY)}, "needs a users file"),
        ({"dashboard_auth": "password"}, "needs a session key"),
        ({"dashboard_auth": "proxy", "dashboard_proxy_trusted": ""}, "needs LYTTE_DASHBOARD_PROXY_TRUSTED"),
        ({"dashboard_auth": "proxy", "dashboard_group_roles": "ops=root"}, "LYTTE_DASHBOARD_GROUP_ROLES"),
        ({"dashboard_auth": "oidc", "dashboard_secret_key": SecretStr(KEY)}, "LYTTE_DASHBOARD_OIDC_ISSUER"),
    ],
)
def test_check_fails_before_any_app_is_made(update, message):
    with pytest.raises(AuthConfigError, match=message):
        auth.check(Settings(**update))


def test_check_passes_a_usable_configuration(users_file):
    auth.check(Settings(dashboard_auth="off"))
    auth.check(Settings(dashboard_auth="proxy"))
    auth.check(
        Settings(dashboard_auth="password", dashboard_users_file=users_file, dashboard_secret_key=SecretStr(KEY))
    )


def test_oidc_mode_names_what_it_misses():
    settings = Settings(dashboard_auth="oidc", dashboard_secret_key=SecretStr(KEY), dashboard_oidc_client_id="x")
    with pytest.raises(AuthConfigError, match="LYTTE_DASHBOARD_OIDC_ISSUER, LYTTE_DASHBOARD_OIDC_CLIENT_SECRET"):
        auth.install(Dash(__name__), settings)


# -- the guard on a small app -----------------------------------------------------------------------------------

CALLBACK = {
    "output": "out.children",
    "outputs": {"id": "out", "property": "children"},
    "inputs": [{"id": "act", "property": "n_clicks", "value": 1}],
    "changedPropIds": ["act.n_clicks"],
    "state": [],
}


def small_app(settings: Settings) -> Dash:
    """A Dash app with a page, a callback that needs an operator, a push-like route and /healthz."""
    app = Dash(__name__)
    app.layout = html.Div([html.Button("ack", id="act"), html.Div(id="out")])

    @app.callback(Output("out", "children"), Input("act", "n_clicks"))
    def act(_):
        return f"acknowledged by {auth.require('operator').name}"

    @app.server.route("/live/changes")
    def changes():
        return flask.Response("data: {}\n\n", mimetype="text/event-stream")

    @app.server.route("/healthz")
    def healthz():
        return flask.Response("ok\n", mimetype="text/plain")

    auth.install(app, settings)
    return app


@pytest.fixture(scope="module")
def users_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.yaml"
    add_user(path, "vic", "viewer", "viewer password")
    add_user(path, "otto", "operator", "operator password")
    return path


@pytest.fixture
def password_app(users_file, tmp_path) -> Dash:
    path = tmp_path / "users.yaml"
    path.write_bytes(users_file.read_bytes())
    return small_app(
        Settings(dashboard_auth="password", dashboard_users_file=path, dashboard_secret_key=SecretStr(KEY))
    )


def login(client, name: str, password: str, **extra):
    return client.post("/login", data={"username": name, "password": password, **extra})


PROTECTED = [
    ("GET", "/"),
    ("GET", "/alerts"),
    ("GET", "/nowhere/at/all"),
    ("GET", "/_dash-layout"),
    ("GET", "/_dash-dependencies"),
    ("POST", "/_dash-update-component"),
    ("GET", "/_dash-component-suites/dash/dash-renderer/build/dash_renderer.v3_0_0m1.min.js"),
    ("GET", "/assets/wall.css"),
    ("GET", "/_favicon.ico"),
    ("GET", "/live/changes"),
    ("GET", "/logout"),
    ("OPTIONS", "/_dash-update-component"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_without_a_login_every_route_is_refused(password_app, method, path):
    client = password_app.server.test_client()
    response = client.open(path, method=method, json=CALLBACK if method == "POST" else None)
    assert response.status_code == 401, response.data
    assert response.mimetype == "text/plain"


def test_every_route_of_the_flask_map_is_guarded_except_the_public_ones(password_app):
    client = password_app.server.test_client()
    for rule in password_app.server.url_map.iter_rules():
        path = rule.rule.replace("<string:package_name>", "dash").replace("<path:fingerprinted_path>", "x.js")
        path = path.replace("<path:filename>", "x.css").replace("<path:path>", "x")
        method = "POST" if "POST" in rule.methods and path not in auth.public_paths("password") else "GET"
        status = client.open(path, method=method).status_code
        assert status == (200 if path in ("/login", "/healthz") else 401), (path, status)


def test_a_browser_is_sent_to_the_login_page_and_back(password_app):
    client = password_app.server.test_client()
    response = client.get("/alerts?kiosk=1", headers={"Sec-Fetch-Mode": "navigate", "Accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=%2Falerts%3Fkiosk%3D1"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert 'name="next" value="/alerts?kiosk=1"' in page.text
    assert "script" not in page.text.lower()
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    response = login(client, "vic", "viewer password", next="/alerts?kiosk=1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/alerts?kiosk=1"
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/live/changes").status_code == 200


def test_the_login_page_escapes_what_it_is_given(password_app):
    client = password_app.server.test_client()
    page = client.get('/login?next=/"><script>alert(1)</script>').text
    assert "<script>" not in page
    assert "&#34;&gt;&lt;script&gt;" in page


def test_the_session_cookie_is_signed_httponly_and_lax(password_app):
    client = password_app.server.test_client()
    response = login(client, "vic", "viewer password")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lytte_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    value = cookie.split(";")[0].split("=", 1)[1]

    def layout_with(cookie_value: str, app: Dash = password_app) -> int:
        client = app.server.test_client()
        client.set_cookie("lytte_session", cookie_value)
        return client.get("/_dash-layout").status_code

    assert layout_with(value) == 200
    assert layout_with(value[:-2] + ("xx" if not value.endswith("xx") else "yy")) == 401
    other = small_app(
        Settings(
            dashboard_auth="password",
            dashboard_users_file=password_app.server.extensions["lytte_auth"].mode.accounts.path,
            dashboard_secret_key=SecretStr("another key " * 4),
        )
    )
    assert layout_with(value, other) == 401  # signed with another key


def test_the_cookie_is_secure_over_https(password_app):
    client = password_app.server.test_client()
    response = client.post(
        "/login", data={"username": "vic", "password": "viewer password"}, base_url="https://lytte.example"
    )
    assert "Secure" in response.headers["Set-Cookie"]
    client = password_app.server.test_client()
    response = client.post(
        "/login",
        data={"username": "vic", "password": "viewer password"},
        headers={"X-Forwarded-Proto": "https"},  # from 127.0.0.1, a trusted proxy by default
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_one_message_for_an_unknown_user_and_a_wrong_password(password_app):
    client = password_app.server.test_client()
    unknown = login(client, "nobody", "viewer password")
    wrong = login(client, "vic", "not the password")
    assert unknown.status_code == wrong.status_code == 200  # the form again, with the message
    assert unknown.text == wrong.text
    assert "wrong user name or password" in wrong.text
    assert "Set-Cookie" not in wrong.headers and "Set-Cookie" not in unknown.headers


def test_an_unknown_name_costs_one_hash_check_like_a_known_one(password_app, monkeypatch):
    from dashboards import users

    checked = []
    real = users.check_password_hash
    monkeypatch.setattr(users, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    client = password_app.server.test_client()
    login(client, "nobody", "some password")
    login(client, "vic", "some password")
    assert len(checked) == 2
    assert checked[0].split("$")[0] == checked[1].split("$")[0]  # the same method and cost


def test_after_five_failures_the_login_answers_429_even_with_the_right_password(password_app):
    client = password_app.server.test_client()
    for _ in range(5):
        assert "wrong user name or password" in login(client, "otto", "guess").text
    response = login(client, "otto", "operator password")
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 301
    assert "too many failed attempts" in response.text
    other = password_app.server.test_client()  # the same address: blocked for every name
    assert login(other, "vic", "viewer password").status_code == 429


def test_a_viewer_cannot_acknowledge_even_by_posting_the_callback(password_app):
    client = password_app.server.test_client()
    login(client, "vic", "viewer password")
    response = client.post("/_dash-update-component", json=CALLBACK)
    assert response.status_code == 403
    assert response.text == "operator role needed\n"
    client = password_app.server.test_client()
    login(client, "otto", "operator password")
    response = client.post("/_dash-update-component", json=CALLBACK)
    assert response.status_code == 200
    assert "acknowledged by otto" in response.text


def test_logout_ends_the_session_even_if_the_cookie_comes_back(password_app):
    client = password_app.server.test_client()
    login(client, "vic", "viewer password")
    assert client.get("/_dash-layout").status_code == 200
    cookie = client.get_cookie("lytte_session").value
    assert client.get("/logout").status_code == 200
    assert client.get_cookie("lytte_session") is None
    assert client.get("/_dash-layout").status_code == 401
    again = password_app.server.test_client()  # a response still on its way, or a copy, sets it again
    again.set_cookie("lytte_session", cookie)
    assert again.get("/_dash-layout").status_code == 401
    login(again, "vic", "viewer password")  # a new login is a new session
    assert again.get("/_dash-layout").status_code == 200


def test_a_new_password_or_a_removed_user_ends_old_sessions(password_app, monkeypatch):
    monkeypatch.setattr(auth._Accounts, "RECHECK_S", 0.0)
    path = password_app.server.extensions["lytte_auth"].mode.accounts.path
    client = password_app.server.test_client()
    login(client, "vic", "viewer password")
    assert client.get("/_dash-layout").status_code == 200
    add_user(path, "vic", "viewer", "a new password", replace=True)
    assert client.get("/_dash-layout").status_code == 401
    assert login(client, "vic", "a new password").status_code == 303
    path.write_text(path.read_text().replace("role: viewer", "role: pilot"))  # broken: the old users stay
    assert client.get("/_dash-layout").status_code == 200


def test_current_user_and_require_inside_and_outside_a_request(password_app):
    with password_app.server.test_request_context("/"):
        password_app.server.preprocess_request()
        assert auth.enabled()
        assert auth.current_user() is None
        with pytest.raises(NotAllowed, match="login needed"):
            auth.require("viewer")
    off = small_app(Settings(dashboard_auth="off"))
    with off.server.test_request_context("/"):
        assert not auth.enabled()
        assert auth.current_user() == DEMO_USER
        assert auth.require("supervisor") == DEMO_USER


def test_nothing_secret_is_logged(password_app, caplog):
    caplog.set_level(logging.DEBUG)
    client = password_app.server.test_client()
    login(client, "otto", "wrong password here")
    response = login(client, "otto", "operator password")
    cookie = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    assert "login: otto (operator)" in caplog.text
    for secret in ("wrong password here", "operator password", cookie, KEY, "scrypt:"):
        assert secret not in caplog.text


# -- proxy mode -------------------------------------------------------------------------------------------------


@pytest.fixture
def proxy_app() -> Dash:
    return small_app(Settings(dashboard_auth="proxy", dashboard_proxy_trusted="10.0.0.0/8"))


def proxy_get(app: Dash, peer: str, **headers: str):
    client = app.server.test_client()
    return client.get("/_dash-layout", environ_base={"REMOTE_ADDR": peer}, headers=headers)


def test_proxy_headers_from_a_trusted_peer_are_believed(proxy_app):
    response = proxy_get(proxy_app, "10.0.0.5", **{"X-Forwarded-User": "ana", "X-Forwarded-Groups": "lytte-viewer"})
    assert response.status_code == 200
    with proxy_app.server.test_request_context(
        "/",
        environ_base={"REMOTE_ADDR": "10.0.0.5"},
        headers={"X-Forwarded-User": "ana", "X-Forwarded-Groups": "x, lytte-operator"},
    ):
        proxy_app.server.preprocess_request()
        assert auth.current_user() == User("ana", "operator")


def test_proxy_headers_from_anyone_else_are_not(proxy_app):
    headers = {"X-Forwarded-User": "ana", "X-Forwarded-Groups": "lytte-supervisor"}
    response = proxy_get(proxy_app, "192.168.1.20", **headers)
    assert response.status_code == 401
    assert "sign-in proxy" in response.text
    assert proxy_get(proxy_app, "10.0.0.5").status_code == 401  # the proxy named nobody


def test_a_proxy_user_with_no_mapped_group_is_refused(proxy_app):
    response = proxy_get(proxy_app, "10.0.0.5", **{"X-Forwarded-User": "ana", "X-Forwarded-Groups": "staff"})
    assert response.status_code == 403
    assert response.text == "ana is in no group that has a lytte role\n"


def test_in_proxy_mode_only_healthz_is_public(proxy_app):
    client = proxy_app.server.test_client()
    assert client.get("/healthz", environ_base={"REMOTE_ADDR": "192.168.1.20"}).status_code == 200
    assert client.get("/login", environ_base={"REMOTE_ADDR": "192.168.1.20"}).status_code == 401
