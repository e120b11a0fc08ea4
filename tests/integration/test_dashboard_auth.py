"""Dashboard auth on a real `lytte dashboard` (password and proxy modes), OIDC against a small local provider,
and the login form in real Chromium."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from flask import Flask, jsonify, redirect, request
from pydantic import SecretStr
from werkzeug.serving import make_server

from dashboards import auth
from dashboards.app import create_app
from dashboards.users import add_user
from schemas.settings import Settings
from streams.local.processes import free_port, port_open
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.integration

KEY = secrets.token_urlsafe(48)
PASSWORDS = {"vic": "viewer password", "sue": "supervisor password"}
NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html,application/xhtml+xml"}
PAGES = ["/", "/alerts", "/health", "/no/such/page"]
ROUTING_CALLBACK = {  # Dash Pages' own callback: the page layout for a path
    "output": ".._pages_content.children..._pages_store.data..",
    "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
    "inputs": [
        {"id": "_pages_location", "property": "pathname", "value": "/health"},
        {"id": "_pages_location", "property": "search", "value": ""},
    ],
    "changedPropIds": ["_pages_location.pathname"],
    "state": [],
}


@pytest.fixture
def users_file(tmp_path) -> Path:
    path = tmp_path / "users.yaml"
    add_user(path, "vic", "viewer", PASSWORDS["vic"])
    add_user(path, "sue", "supervisor", PASSWORDS["sue"])
    return path


@pytest.fixture
def password_settings(services_settings: Settings, users_file: Path) -> Settings:
    return services_settings.model_copy(
        update={
            "dashboard_port": free_port(),
            "dashboard_auth": "password",
            "dashboard_users_file": users_file,
            "dashboard_secret_key": SecretStr(KEY),
        }
    )


def start_dashboard(spawn, settings: Settings) -> str:
    child = spawn(settings, "dashboard", name="dashboard")
    wait_until(lambda: port_open("127.0.0.1", settings.dashboard_port), 60, "the dashboard", child)
    return f"http://127.0.0.1:{settings.dashboard_port}"


@pytest.fixture
def password_dashboard(spawn, password_settings: Settings) -> str:
    return start_dashboard(spawn, password_settings)


def http(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, follow_redirects=False, timeout=20)


def logged_in(base: str, name: str) -> httpx.Client:
    client = http(base)
    response = client.post("/login", data={"username": name, "password": PASSWORDS[name]})
    assert response.status_code == 303, response.text
    return client


def route_paths(settings: Settings) -> list[tuple[str, str]]:
    """(method, path) for every rule of the app's Flask map, built in this process from the same settings."""
    app = create_app(settings)
    samples = {
        "<string:package_name>": "dash",
        "<path:fingerprinted_path>": "dash-renderer/build/dash_renderer.min.js",
        "<path:filename>": "wall.css",
        "<path:path>": "alerts",
    }
    routes = []
    for rule in app.server.url_map.iter_rules():
        path = rule.rule
        for variable, sample in samples.items():
            path = path.replace(variable, sample)
        assert "<" not in path, f"no sample value for {rule.rule}: add one"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


def component_suite_paths(client: httpx.Client) -> list[str]:
    page = client.get("/").text
    paths = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)
    assert paths, "the page names no component-suite scripts"
    return paths


def test_without_a_login_every_route_is_refused_and_with_one_allowed(password_dashboard, password_settings):
    base = password_dashboard
    public = auth.public_paths("password")
    viewer = logged_in(base, "vic")
    suites = component_suite_paths(viewer)
    routes = [
        *route_paths(password_settings),
        *(("GET", page) for page in PAGES),
        ("GET", "/assets/wall.css"),
        ("GET", "/assets/live.js"),
        ("GET", "/live/changes"),
        ("POST", "/_dash-update-component"),
        *(("GET", path) for path in suites[:3]),
    ]
    anonymous = http(base)
    for method, path in routes:
        if path in public:
            continue
        body = ROUTING_CALLBACK if method == "POST" else None
        response = anonymous.request(method, path, json=body)
        assert response.status_code == 401, (method, path, response.status_code)
        assert "login needed" in response.text
        assert "set-cookie" not in response.headers

    # A browser navigating to any page, known or not, is sent to the login page; Dash's routes are not pages.
    for page in PAGES:
        response = anonymous.get(page, headers=NAVIGATE)
        assert response.status_code == 303, page
        assert response.headers["location"].startswith("/login")
    assert anonymous.get("/_dash-layout", headers=NAVIGATE).status_code == 401
    assert anonymous.get("/healthz").text == "ok\n"
    assert anonymous.get("/login").status_code == 200

    # Logged in as a viewer, all of it is served.
    for page in PAGES:
        assert viewer.get(page, headers=NAVIGATE).status_code == 200, page
    for path in ("/_dash-layout", "/_dash-dependencies", "/assets/wall.css", "/assets/live.js", suites[0]):
        assert viewer.get(path).status_code == 200, path
    response = viewer.post("/_dash-update-component", json=ROUTING_CALLBACK)
    assert response.status_code == 200, response.text[:500]
    with viewer.stream("GET", "/live/changes") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
    layout = viewer.get("/_dash-layout").text
    assert "vic · viewer" in layout and "auth off" not in layout


def test_a_failed_login_says_the_same_for_a_wrong_password_and_an_unknown_user(password_dashboard):
    client = http(password_dashboard)
    wrong = client.post("/login", data={"username": "vic", "password": "nope nope"})
    unknown = client.post("/login", data={"username": "nobody", "password": "nope nope"})
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.text == unknown.text
    assert "wrong user name or password" in wrong.text
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers
    for _ in range(3):
        client.post("/login", data={"username": "vic", "password": "nope nope"})
    blocked = client.post("/login", data={"username": "vic", "password": PASSWORDS["vic"]})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


def test_logout_ends_the_session(password_dashboard):
    client = logged_in(password_dashboard, "sue")
    assert client.get("/_dash-layout").status_code == 200
    cookie = client.cookies.get("lytte_session")
    assert client.get("/logout").status_code == 200
    assert client.get("/_dash-layout").status_code == 401
    copy = http(password_dashboard)  # the old cookie, brought back, is refused too
    copy.cookies.set("lytte_session", cookie)
    assert copy.get("/_dash-layout").status_code == 401


def console_action(button: str, firing_row: dict) -> dict:
    """The body the alert console's page sends when `button` is clicked with `firing_row` selected."""
    from dashboards import console_ids as cid

    states = [
        (cid.FIRING_GRID, "selectedRows", [firing_row]),
        (cid.INCIDENTS_GRID, "selectedRows", []),
        (cid.SILENCES_GRID, "selectedRows", []),
        (cid.NOTE, "value", "on it"),
        (cid.SILENCE_MATCHERS, "value", ""),
        (cid.SILENCE_DURATION, "value", "2h"),
        (cid.SILENCE_REASON, "value", ""),
    ]
    return {
        "output": f"{cid.ALERTS_MESSAGE}.children",
        "outputs": {"id": cid.ALERTS_MESSAGE, "property": "children"},
        "inputs": [{"id": b, "property": "n_clicks", "value": 1 if b == button else None} for b in cid.ACTION_BUTTONS],
        "changedPropIds": [f"{button}.n_clicks"],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in states],
    }


def test_a_viewer_cannot_acknowledge(password_settings):
    """The alert console's own action callback, posted by hand: refused without a session (401); a viewer gets
    a refusal and nothing reaches the actions topic; an operator gets past the role check (and is told the
    alert does not exist)."""
    from dashboards import console_ids as cid
    from schemas.topics import Topic
    from tests.fixtures.workers import read_topic

    app = create_app(password_settings)
    body = console_action(cid.ACK_ALERT, {"fingerprint": "0123456789abcdef", "brand": "nordair"})
    client = app.server.test_client()
    assert client.post("/_dash-update-component", json=body).status_code == 401
    client.post("/login", data={"username": "vic", "password": PASSWORDS["vic"]})
    refused = client.post("/_dash-update-component", json=body)
    assert refused.status_code == 200 and "operator" in refused.text
    assert read_topic(password_settings, Topic.ACTIONS.name(password_settings.topic_prefix)) == []
    client = app.server.test_client()
    client.post("/login", data={"username": "sue", "password": PASSWORDS["sue"]})
    answered = client.post("/_dash-update-component", json=body).text
    assert "Not done" in answered and "operator" not in answered


def test_password_mode_without_a_session_key_does_not_start(spawn, password_settings):
    settings = password_settings.model_copy(update={"dashboard_secret_key": None})
    child = spawn(settings, "dashboard", name="dashboard")
    wait_until(lambda: child.proc.poll() is not None, 60, "the dashboard to give up")
    assert child.proc.returncode != 0
    assert "needs a session key: set LYTTE_DASHBOARD_SECRET_KEY" in child.output()
    assert not port_open("127.0.0.1", settings.dashboard_port)


# -- proxy mode -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("trusted", "believed"), [("127.0.0.1/32,::1/128", True), ("10.0.0.0/8", False)])
def test_proxy_headers_are_believed_only_from_a_trusted_peer(spawn, services_settings, trusted, believed):
    settings = services_settings.model_copy(
        update={"dashboard_port": free_port(), "dashboard_auth": "proxy", "dashboard_proxy_trusted": trusted}
    )
    client = http(start_dashboard(spawn, settings))
    headers = {"X-Forwarded-User": "ana", "X-Forwarded-Groups": "staff, lytte-operator"}
    response = client.get("/_dash-layout", headers=headers)
    if believed:
        assert response.status_code == 200
        assert "ana · operator" in response.text
        assert client.post("/_dash-update-component", json=ROUTING_CALLBACK, headers=headers).status_code == 200
        refused = client.get("/_dash-layout", headers={"X-Forwarded-User": "ana", "X-Forwarded-Groups": "staff"})
        assert refused.status_code == 403
    else:
        assert response.status_code == 401
        assert client.get("/", headers={**headers, **NAVIGATE}).status_code == 401  # no login page to send to
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/healthz").status_code == 200


# -- OIDC against a small local provider --------------------------------------------------------------------------


@dataclass
class FakeProvider:
    """Discovery, authorize (answers at once, as if the user had signed in), token (client secret, PKCE) and
    JWKS; `claims` are what the next id_token says, `audience` lets a test make a bad one."""

    client_id: str = "lytte"
    client_secret: str = "provider secret"
    claims: dict = field(default_factory=lambda: {"preferred_username": "ana", "groups": ["lytte-operator"]})
    audience: str | None = None
    url: str = ""
    codes: dict = field(default_factory=dict)

    def app(self) -> Flask:
        from joserfc import jwt
        from joserfc.jwk import KeySet, RSAKey

        key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        app = Flask("fake-oidc")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify(
                issuer=self.url,
                authorization_endpoint=f"{self.url}/authorize",
                token_endpoint=f"{self.url}/token",
                jwks_uri=f"{self.url}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
            )

        @app.get("/jwks")
        def jwks():
            return jsonify(KeySet([key]).as_dict(private=False))

        @app.get("/authorize")
        def authorize():
            args = request.args
            assert args["client_id"] == self.client_id and args["response_type"] == "code"
            code = secrets.token_urlsafe(16)
            self.codes[code] = dict(args)
            return redirect(f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}")

        @app.post("/token")
        def token():
            basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if request.headers.get("Authorization") != f"Basic {basic}":
                return jsonify(error="invalid_client"), 401
            asked = self.codes.pop(request.form["code"], None)
            verifier = request.form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if (
                asked is None
                or asked["code_challenge"] != challenge
                or asked["redirect_uri"] != request.form.get("redirect_uri")
            ):
                return jsonify(error="invalid_grant"), 400
            now = int(time.time())
            claims = {
                "iss": self.url,
                "sub": "user-1",
                "aud": self.audience or self.client_id,
                "iat": now,
                "exp": now + 300,
                "nonce": asked["nonce"],
                **self.claims,
            }
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
            return jsonify(access_token="at", token_type="Bearer", expires_in=300, id_token=id_token)

        return app


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    server = make_server("127.0.0.1", 0, provider.app(), threaded=True)
    provider.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider
    server.shutdown()
    thread.join(10)


@pytest.fixture
def oidc_app(services_settings, provider):
    settings = services_settings.model_copy(
        update={
            "dashboard_auth": "oidc",
            "dashboard_secret_key": SecretStr(KEY),
            "dashboard_oidc_issuer": provider.url,
            "dashboard_oidc_client_id": provider.client_id,
            "dashboard_oidc_client_secret": SecretStr(provider.client_secret),
        }
    )
    return create_app(settings)


def oidc_login(client, provider: FakeProvider, start: str = "/alerts"):
    """Browser steps: the page sends to /login, /login to the provider, the provider back to the callback."""
    to_login = client.get(start, headers=NAVIGATE)
    assert to_login.status_code == 303
    to_provider = client.get(to_login.headers["Location"])
    assert to_provider.status_code == 302
    assert to_provider.headers["Location"].startswith(f"{provider.url}/authorize?")
    back = httpx.get(to_provider.headers["Location"], follow_redirects=False, timeout=10)
    assert back.status_code == 302
    callback = urlsplit(back.headers["location"])
    assert callback.path == "/login/callback"
    return client.get(f"{callback.path}?{callback.query}")


def test_oidc_login_maps_groups_to_a_role(oidc_app, provider):
    client = oidc_app.server.test_client()
    assert client.get("/_dash-layout").status_code == 401
    response = oidc_login(client, provider)
    assert response.status_code == 303, response.text
    assert response.headers["Location"] == "/alerts"
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    assert "ana · operator" in layout.text
    assert client.get("/logout").status_code == 200
    assert client.get("/_dash-layout").status_code == 401


def test_oidc_refuses_a_user_without_a_mapped_group(oidc_app, provider):
    provider.claims = {"preferred_username": "eve", "groups": ["staff"]}
    client = oidc_app.server.test_client()
    response = oidc_login(client, provider)
    assert response.status_code == 403
    assert "eve is in no group that has a lytte role" in response.text
    assert client.get("/_dash-layout").status_code == 401


def test_oidc_refuses_a_token_for_another_client_and_a_forged_state(oidc_app, provider):
    provider.audience = "some-other-client"
    client = oidc_app.server.test_client()
    assert oidc_login(client, provider).status_code == 401
    assert client.get("/_dash-layout").status_code == 401

    provider.audience = None
    client = oidc_app.server.test_client()
    client.get("/login")  # a login started in this browser ...
    forged = client.get("/login/callback?" + urlencode({"code": "x", "state": "not-the-state"}))
    assert forged.status_code == 401  # ... but the answer is not to it
    assert client.get("/_dash-layout").status_code == 401


# -- the login form in a real browser -----------------------------------------------------------------------------


@pytest.mark.browser
def test_the_login_form_in_chromium(password_dashboard, chrome):
    from selenium.webdriver.common.by import By

    from tests.fixtures.browser import console_errors

    chrome.get(f"{password_dashboard}/alerts")
    wait_until(lambda: chrome.current_url.endswith("/login?next=%2Falerts"), 10, "the login page")
    chrome.find_element(By.NAME, "username").send_keys("vic")
    chrome.find_element(By.NAME, "password").send_keys("wrong password")
    chrome.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(lambda: "wrong user name or password" in chrome.page_source, 10, "the refusal")
    assert console_errors(chrome) == []

    chrome.find_element(By.NAME, "username").send_keys("vic")
    chrome.find_element(By.NAME, "password").send_keys(PASSWORDS["vic"])
    chrome.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(lambda: urlsplit(chrome.current_url).path == "/alerts", 10, "the alerts page")
    wait_until(
        lambda: "vic · viewer" in chrome.execute_script("return document.body.innerText"), 20, "the user in the shell"
    )
    assert console_errors(chrome) == []
    chrome.get(f"{password_dashboard}/logout")
    assert "you are logged out" in chrome.page_source
    chrome.get(f"{password_dashboard}/")
    wait_until(lambda: urlsplit(chrome.current_url).path == "/login", 10, "the login page again")
    assert console_errors(chrome) == []
