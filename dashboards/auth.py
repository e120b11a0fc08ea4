"""Who is looking at the dashboard, and what they may do.

Roles are ordered: a viewer sees the wall, the console and health; an operator also acknowledges, silences
and resolves; a supervisor also replays, exports and configures.

`install(app, settings)` puts every route of the app behind one guard (a Flask `before_request` hook, so it
holds under Flask's own server and under gunicorn alike): pages, unknown paths, Dash's layout, dependency,
callback and component-suite routes, the assets and the live push route. Only `/healthz` and the login
routes of the mode are public (`public_paths`). A browser navigating to a page is sent to the login page; any
other request (callbacks, the push route, scripts, assets) gets 401, or 403 for a user without a role.

Modes (`dashboard_auth`):
- off: everyone is DEMO_USER (a supervisor); `enabled()` is False and the shell says so.
- password: a login form (`/login`), accounts from the users file (`dashboards.users`), a Flask session cookie
  signed with the configured key (HttpOnly, SameSite=Lax, Secure over https), failed logins rate-limited.
- proxy: a sign-in proxy in front says who the user is (`dashboard_proxy_user_header`) and their groups;
  believed only from a peer inside `dashboard_proxy_trusted`; groups map to roles (`dashboard_group_roles`).
- oidc: OpenID Connect code flow through authlib (discovery, state, nonce, PKCE, id_token checked against
  the provider's keys); the groups claim maps to roles as in proxy mode.

Callbacks that act call `require(role)` first: the guard only knows that someone is logged in, the callback
knows what the action needs.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from dash import Dash
from flask import Flask, Response, current_app, g, has_app_context, has_request_context, redirect, request, session
from flask.sessions import SecureCookieSessionInterface

from dashboards.pages import login as login_page
from dashboards.users import ROLES, Account, UsersFileError, dummy_check, dummy_hash, load_users
from schemas.settings import Settings

__all__ = [
    "DEMO_USER",
    "ROLES",
    "AuthConfigError",
    "LoginLimiter",
    "NotAllowed",
    "User",
    "check",
    "current_user",
    "enabled",
    "install",
    "require",
]

log = logging.getLogger("lytte.dashboard.auth")

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
OIDC_CALLBACK_PATH = "/login/callback"
HEALTH_PATH = "/healthz"
SESSION_COOKIE = "lytte_session"
SESSION_HOURS = 12  # sliding: a wall screen's callbacks keep it alive; an idle browser logs in again
MIN_SECRET_CHARS = 32
EXTENSION = "lytte_auth"
FAILED = "wrong user name or password"  # one message for an unknown user and a wrong password


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def can(self, role: str) -> bool:
        """Scenario: an operator can("viewer") and can("operator"), not can("supervisor")."""
        return ROLES.index(self.role) >= ROLES.index(role)


#: the user when auth is off: everything is allowed, and every screen says auth is off
DEMO_USER = User("demo", "supervisor")


class AuthConfigError(RuntimeError):
    """The configured mode cannot start (no session key, a bad users file, ...): one line for the operator."""


class NotAllowed(PermissionError):
    """The current user lacks the role an action needs (callbacks show it; nothing is written)."""


class Refused(Exception):
    """The request names a user who may not use lytte at all (proxy/OIDC user with no mapped group)."""


# -- the interface the pages use ----------------------------------------------------------------------------

_enabled = False  # the mode of the app installed last: for callers outside any request


def _state() -> _Installed | None:
    return current_app.extensions.get(EXTENSION) if has_app_context() else None


def enabled() -> bool:
    state = _state()
    return state.mode is not None if state is not None else _enabled


def current_user() -> User | None:
    """The user of the current request; DEMO_USER when auth is off; None outside a request or when nobody is
    logged in."""
    if not enabled():
        return DEMO_USER
    if not has_request_context():
        return None
    return g.get("lytte_user")


def require(role: str) -> User:
    """The current user, if they have `role`; NotAllowed otherwise (nobody logged in, or a lower role).
    Scenario: a viewer's require("operator") raises NotAllowed("operator role needed")."""
    user = current_user()
    if user is None:
        raise NotAllowed("login needed")
    if not user.can(role):
        raise NotAllowed(f"{role} role needed")
    return user


# -- pure decisions -----------------------------------------------------------------------------------------


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Scenario: "127.0.0.1/32, 10.0.0.0/8" -> (127.0.0.1/32, 10.0.0.0/8); "10.0.0.1" -> (10.0.0.1/32,);
    "localhost" -> AuthConfigError."""
    networks = []
    for part in text.split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise AuthConfigError(f"LYTTE_DASHBOARD_PROXY_TRUSTED: {part.strip()!r} is not a network") from None
    return tuple(networks)


def peer_trusted(address: str | None, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Is the peer inside one of `networks`? Scenario: "127.0.0.1" in (127.0.0.1/32,) -> True; "10.1.2.3" ->
    False; "::ffff:127.0.0.1" (IPv4 on a dual-stack socket) -> True; None or "unix" -> False."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


def parse_group_roles(text: str) -> dict[str, str]:
    """Scenario: "ops=operator, leads=supervisor" -> {"ops": "operator", "leads": "supervisor"};
    "cn=ops=operator" -> {"cn=ops": "operator"} (the last "=" splits); "ops=admin" -> AuthConfigError."""
    mapping = {}
    for pair in text.split(","):
        if not pair.strip():
            continue
        group, sep, role = pair.strip().rpartition("=")
        if not sep or not group.strip() or role.strip() not in ROLES:
            raise AuthConfigError(
                f"LYTTE_DASHBOARD_GROUP_ROLES: {pair.strip()!r} is not GROUP=ROLE with a role of {', '.join(ROLES)}"
            )
        mapping[group.strip()] = role.strip()
    return mapping


def split_groups(value: str | list | None) -> list[str]:
    """Groups from a header ("a, b") or a claim (["a", "b"] or "a,b"). Scenario: " ops ,, leads" -> ["ops",
    "leads"]; None -> []."""
    if value is None:
        return []
    parts = value if isinstance(value, list) else str(value).split(",")
    return [str(p).strip() for p in parts if str(p).strip()]


def role_for(groups: Iterable[str], group_roles: dict[str, str]) -> str | None:
    """The highest role any of the groups maps to; None when none maps. Scenario: ["staff", "lytte-viewer",
    "lytte-operator"] with the default map -> "operator"; ["staff"] -> None."""
    roles = [group_roles[group] for group in groups if group in group_roles]
    return max(roles, key=ROLES.index) if roles else None


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (no open redirect), never the login page.
    Scenario: "/alerts?kiosk=1" -> "/alerts?kiosk=1"; "//evil.example/", "https://evil.example/", "/\\\\evil",
    "javascript:alert(1)", "/login" and None -> "/"."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith(LOGIN_PATH):
        return "/"
    return target


def wants_page(method: str, path: str, headers: dict[str, str], dash_prefix: str = "/") -> bool:
    """Is this a browser navigating to a page (send it to the login page) rather than a script, a callback,
    the push route or an asset (answer 401)? Scenario: GET "/alerts" with Sec-Fetch-Mode: navigate -> True;
    POST "/_dash-update-component" -> False; GET "/assets/wall.css" -> False; GET "/live/changes" -> False;
    GET "/health" with Accept: text/html and no Sec-Fetch-Mode (an old browser) -> True."""
    if method not in ("GET", "HEAD"):
        return False
    if path.startswith((dash_prefix + "_dash-", dash_prefix + "assets/", dash_prefix + "_favicon", "/live/")):
        return False
    fetch_mode = headers.get("Sec-Fetch-Mode")
    if fetch_mode:
        return fetch_mode == "navigate"
    return "text/html" in headers.get("Accept", "")


def public_paths(mode: str) -> frozenset[str]:
    """The only paths served without a login, exactly (no prefixes). Scenario: "password" -> {"/healthz",
    "/login"}; "oidc" -> also "/login/callback"; "proxy" -> {"/healthz"}."""
    extra = {"password": {LOGIN_PATH}, "oidc": {LOGIN_PATH, OIDC_CALLBACK_PATH}}.get(mode, set())
    return frozenset({HEALTH_PATH, *extra})


class LoginLimiter:
    """Failed logins per user name and per client address in a sliding window; thread-safe.

    Scenario (5 failures in 300 s): five failures for "ana" from any addresses -> retry_after("ana", anyone)
    is the time until the first of them is 300 s old, and 0 after that; five failures for five names from
    10.0.0.9 -> retry_after("anyone", "10.0.0.9") > 0. A success clears the name's failures, not the
    address's (a valid login must not buy an attacker more guesses at other names).
    """

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(name: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("name", name.casefold())]
        if address:
            keys.append(("addr", address))
        return keys

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, name: str, address: str | None) -> float:
        """0 when an attempt may be made; else the seconds until it may."""
        now = self.clock()
        with self._lock:
            wait = 0.0
            for key in self._keys(name, address):
                times = self._recent(key, now)
                if times is not None and len(times) >= self.max_failures:
                    wait = max(wait, times[-self.max_failures] + self.window_s - now)
            return wait

    def failed(self, name: str, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            for key in self._keys(name, address):
                self._recent(key, now)
                self._failures.setdefault(key, deque(maxlen=self.max_failures)).append(now)
            if len(self._failures) > self.max_keys:
                self._prune(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(("name", name.casefold()), None)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        while len(self._failures) > self.max_keys:  # many names at once: forget the oldest first
            del self._failures[next(iter(self._failures))]


# -- request helpers ----------------------------------------------------------------------------------------


def client_address(trusted: Iterable) -> str | None:
    """The client: the peer, or the last X-Forwarded-For hop when the peer is a trusted proxy."""
    peer = request.remote_addr
    if peer_trusted(peer, trusted):
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        if hops:
            try:
                return str(ipaddress.ip_address(hops[-1]))
            except ValueError:
                pass
    return peer


def came_over_https(trusted: Iterable) -> bool:
    if request.is_secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return proto == "https" and peer_trusted(request.remote_addr, trusted)


def _text(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


def _html(page: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(page, status=status, mimetype="text/html")
    response.headers.update(login_page.HEADERS)
    response.headers.update(headers or {})
    return response


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, with the Secure flag whenever the request came over https (directly or
    through a trusted proxy) or the settings ask for it always."""

    def __init__(self, always_secure: bool, trusted: tuple) -> None:
        self.always_secure = always_secure
        self.trusted = trusted

    def get_cookie_secure(self, app: Flask) -> bool:
        return self.always_secure or (has_request_context() and came_over_https(self.trusted))


def load_secret_key(settings: Settings) -> str:
    """The session key from LYTTE_DASHBOARD_SECRET_KEY or the key file; never a random one (sessions must
    survive a restart). The messages never contain the key."""
    if settings.dashboard_secret_key is not None:
        key = settings.dashboard_secret_key.get_secret_value().strip()
    elif settings.dashboard_secret_key_file is not None:
        path = settings.dashboard_secret_key_file
        try:
            key = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise AuthConfigError(f"{path}: cannot read the session key file: {reason}") from None
    else:
        raise AuthConfigError(
            f"dashboard auth {settings.dashboard_auth} needs a session key: set LYTTE_DASHBOARD_SECRET_KEY or "
            "LYTTE_DASHBOARD_SECRET_KEY_FILE "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if len(key) < MIN_SECRET_CHARS:
        raise AuthConfigError(f"the dashboard session key needs at least {MIN_SECRET_CHARS} characters")
    return key


# -- modes ----------------------------------------------------------------------------------------------------


def _users_path(settings: Settings) -> Path:
    if settings.dashboard_users_file is None:
        raise AuthConfigError(
            "dashboard auth password needs a users file: set LYTTE_DASHBOARD_USERS_FILE "
            "(and add users with `lytte users add NAME --role ROLE`)"
        )
    return Path(settings.dashboard_users_file)


def _check_oidc(settings: Settings) -> None:
    missing = [
        f"LYTTE_DASHBOARD_OIDC_{what.upper()}"
        for what in ("issuer", "client_id", "client_secret")
        if not getattr(settings, f"dashboard_oidc_{what}")
    ]
    if missing:
        raise AuthConfigError(f"dashboard auth oidc needs {', '.join(missing)}")
    try:
        import authlib.integrations.flask_client  # noqa: F401
    except ImportError:
        raise AuthConfigError("dashboard auth oidc needs the authlib package (pip install 'authlib>=1.9')") from None


def check(settings: Settings) -> None:
    """AuthConfigError now if the configured mode cannot work, so that a server refuses to start with one clear
    line before it forks or binds (`install` checks the same again)."""
    if settings.dashboard_auth == "off":
        return
    trusted = parse_networks(settings.dashboard_proxy_trusted)
    if settings.dashboard_auth == "proxy":
        _ProxyMode(settings, trusted)
        return
    load_secret_key(settings)
    if settings.dashboard_auth == "password":
        _Accounts(_users_path(settings))
    else:
        parse_group_roles(settings.dashboard_group_roles)
        _check_oidc(settings)


class _Mode(Protocol):
    name: str
    login_url: str | None  # where a browser is sent to log in; None: there is no login page (proxy)

    def user(self) -> User | None:
        """The user of this request, None for nobody; Refused for someone lytte does not let in."""


class _Accounts:
    """The users file, read again when it changes (a `lytte users add` needs no restart); a change that does
    not load keeps the accounts in use, and says why in the log."""

    RECHECK_S = 1.0  # a stat of the file at most this often

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._stamp = self._stat()
        try:
            self.accounts = load_users(path)
        except UsersFileError as exc:
            raise AuthConfigError(str(exc)) from None
        if not self.accounts:
            raise AuthConfigError(f"{path}: no users (add one with `lytte users add NAME --role ROLE`)")

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def get(self, name: str) -> Account | None:
        now = time.monotonic()
        if now - self._checked >= self.RECHECK_S:
            with self._lock:
                self._checked = now
                stamp = self._stat()
                if stamp is not None and stamp != self._stamp:
                    self._stamp = stamp
                    try:
                        self.accounts = load_users(self.path)
                        log.info("users file %s read again: %d users", self.path, len(self.accounts))
                    except UsersFileError as exc:
                        log.error("users file changed but cannot be used (keeping the previous users): %s", exc)
        return self.accounts.get(name)


class _Ended:
    """Session ids ended by a logout, kept as long as such a session could live. A cookie session lives in
    the browser, so logging out must also refuse the cookie if it comes back: a response still on its way
    when the user logged out can set it again, and a copied cookie would otherwise outlive the logout.
    Kept in this process (one dashboard server process; a restart forgets them)."""

    def __init__(self, keep_s: float, max_ids: int = 100_000) -> None:
        self.keep_s = keep_s
        self.max_ids = max_ids
        self._ended: dict[str, float] = {}
        self._lock = threading.Lock()

    def end(self, sid: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._ended[sid] = now
            for old, at in list(self._ended.items()):  # oldest first: stop at the first one still kept
                if at > now - self.keep_s and len(self._ended) <= self.max_ids:
                    break
                del self._ended[old]

    def __contains__(self, sid: str) -> bool:
        with self._lock:
            return sid in self._ended


class _SessionMode:
    """What the password and OIDC modes share: a signed cookie session with an id that logout ends."""

    name = ""
    login_url = LOGIN_PATH

    def __init__(self) -> None:
        self.ended = _Ended(keep_s=SESSION_HOURS * 3600)

    def _session(self) -> dict | None:
        """The session's fields if it is one of this mode's and not logged out; else None (and it is cleared)."""
        sid = session.get("s")
        if sid is None:
            return None  # nobody logged in (or a login on its way: its state must stay)
        if session.get("m") != self.name or not isinstance(session.get("u"), str) or sid in self.ended:
            session.clear()
            return None
        return session

    def start_session(self, **fields: str) -> None:
        session.clear()  # nothing of a session from before the login is kept
        session.permanent = True
        session.update(m=self.name, s=secrets.token_urlsafe(18), **fields)

    def end_session(self) -> None:
        sid = session.get("s")
        if isinstance(sid, str):
            self.ended.end(sid)
        session.clear()


class _PasswordMode(_SessionMode):
    name = "password"

    def __init__(self, app: Dash, settings: Settings, trusted: tuple) -> None:
        super().__init__()
        self.accounts = _Accounts(_users_path(settings))
        dummy_hash()
        self.limiter = LoginLimiter()
        self.trusted = trusted
        app.server.add_url_rule(LOGIN_PATH, "lytte_login", self.login, methods=["GET", "POST"])

    def user(self) -> User | None:
        fields = self._session()
        if fields is None:
            return None
        account = self.accounts.get(fields["u"])
        if account is None or fields.get("h") != account.fingerprint:  # removed, or a new password since
            session.clear()
            return None
        return User(account.name, account.role)

    def login(self) -> Response:
        next_url = safe_next(request.values.get("next"))
        if request.method == "GET":
            return _html(login_page.login_form(LOGIN_PATH, next_url))
        name = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        address = client_address(self.trusted)
        wait = self.limiter.retry_after(name, address)
        if wait > 0:
            log.warning("login refused from %s: too many failed attempts", address)
            minutes = max(1, round(wait / 60))
            message = f"too many failed attempts: try again in {minutes} minute{'s' if minutes > 1 else ''}"
            return _html(login_page.login_form(LOGIN_PATH, next_url, message), 429, {"Retry-After": str(int(wait) + 1)})
        account = self.accounts.get(name) if len(password) <= 1024 else None
        ok = account.check(password) if account is not None else dummy_check(password[:1024])
        if not ok or account is None:
            self.limiter.failed(name, address)
            log.warning("login failed from %s", address)  # not the name: people type passwords into it
            # 200, like any form shown again with its error: a 401 page is a console error in browsers
            return _html(login_page.login_form(LOGIN_PATH, next_url, FAILED))
        self.limiter.succeeded(name)
        self.start_session(u=account.name, h=account.fingerprint)
        log.info("login: %s (%s) from %s", account.name, account.role, address)
        return redirect(next_url, 303)


class _ProxyMode:
    name = "proxy"
    login_url = None

    def __init__(self, settings: Settings, trusted: tuple) -> None:
        self.trusted = trusted
        self.group_roles = parse_group_roles(settings.dashboard_group_roles)
        self.user_header = settings.dashboard_proxy_user_header
        self.groups_header = settings.dashboard_proxy_groups_header
        if not trusted:
            raise AuthConfigError("dashboard auth proxy needs LYTTE_DASHBOARD_PROXY_TRUSTED (the proxy's networks)")

    def user(self) -> User | None:
        if not peer_trusted(request.remote_addr, self.trusted):
            return None  # anyone can send these headers: only the proxy's are believed
        name = request.headers.get(self.user_header, "").strip()
        if not name:
            return None
        if len(name) > 256:
            raise Refused("the user name from the proxy is too long")
        role = role_for(split_groups(request.headers.get(self.groups_header)), self.group_roles)
        if role is None:
            raise Refused(f"{name} is in no group that has a lytte role")
        return User(name, role)


class _OidcMode(_SessionMode):
    name = "oidc"

    def __init__(self, app: Dash, settings: Settings, trusted: tuple) -> None:
        _check_oidc(settings)
        from authlib.integrations.flask_client import OAuth

        super().__init__()
        self.trusted = trusted
        self.group_roles = parse_group_roles(settings.dashboard_group_roles)
        issuer = settings.dashboard_oidc_issuer.rstrip("/")
        self.oauth = OAuth(app.server)
        self.client = self.oauth.register(
            "lytte",
            client_id=settings.dashboard_oidc_client_id,
            client_secret=settings.dashboard_oidc_client_secret.get_secret_value(),
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256", "default_timeout": 10},
        )
        app.server.add_url_rule(LOGIN_PATH, "lytte_login", self.login, methods=["GET"])
        app.server.add_url_rule(OIDC_CALLBACK_PATH, "lytte_oidc_callback", self.callback, methods=["GET"])

    def user(self) -> User | None:
        fields = self._session()
        if fields is None or fields.get("r") not in ROLES:
            return None
        return User(fields["u"], fields["r"])

    def _callback_url(self) -> str:
        # Behind a trusted proxy the browser sees the proxy's scheme and host, and so must the provider.
        scheme, host = request.scheme, request.host
        if peer_trusted(request.remote_addr, self.trusted):
            scheme = request.headers.get("X-Forwarded-Proto", scheme).split(",")[0].strip() or scheme
            host = request.headers.get("X-Forwarded-Host", host).split(",")[0].strip() or host
        return f"{scheme}://{host}{OIDC_CALLBACK_PATH}"

    def login(self) -> Response:
        next_url = safe_next(request.args.get("next"))
        try:
            response = self.client.authorize_redirect(self._callback_url())
        except Exception as exc:  # the provider is down or its discovery document is bad
            log.error("oidc: cannot start a login at the provider: %s", type(exc).__name__)
            return _html(login_page.notice("log in", "the sign-in provider does not answer; try again later"), 503)
        session["next"] = next_url
        return response

    def callback(self) -> Response:
        import requests

        again = (LOGIN_PATH, "try again")
        try:
            token = self.client.authorize_access_token()
        except requests.RequestException as exc:
            log.error("oidc: the provider does not answer: %s", type(exc).__name__)
            return _html(login_page.notice("log in", "the sign-in provider does not answer", *again), 503)
        except Exception as exc:  # authlib's OAuthError (state, provider errors) or a token that fails its checks
            log.warning("oidc: login refused: %s %r", type(exc).__name__, getattr(exc, "error", ""))
            return _html(login_page.notice("log in", "the sign-in did not succeed", *again), 401)
        claims = token.get("userinfo") or {}
        name = str(claims.get("preferred_username") or claims.get("email") or claims.get("sub") or "")[:256]
        if not name:
            return _html(login_page.notice("log in", "the sign-in provider named no user", *again), 401)
        role = role_for(split_groups(claims.get("groups")), self.group_roles)
        next_url = safe_next(session.pop("next", None))
        if role is None:
            log.warning("oidc: %s has no group with a lytte role", name)
            return _html(login_page.notice("refused", f"{name} is in no group that has a lytte role"), 403)
        self.start_session(u=name, r=role)
        log.info("login: %s (%s) through oidc", name, role)
        return redirect(next_url, 303)


# -- install --------------------------------------------------------------------------------------------------


@dataclass
class _Installed:
    mode: _Mode | None  # None: auth off
    public: frozenset[str]
    dash_prefix: str


def install(app: Dash, settings: Settings) -> None:
    """Put every route of `app` (pages, callbacks, the live push route, assets) behind the configured mode.
    AuthConfigError when the mode cannot work as configured (the dashboard must not start then)."""
    global _enabled
    server = app.server
    dash_prefix = app.config.routes_pathname_prefix or "/"
    if settings.dashboard_auth == "off":
        server.extensions[EXTENSION] = _Installed(None, frozenset(), dash_prefix)
        _enabled = False
        log.warning("dashboard auth is off: anyone who reaches the dashboard can see and act")
        return
    trusted = parse_networks(settings.dashboard_proxy_trusted)
    mode: _Mode
    if settings.dashboard_auth == "proxy":
        mode = _ProxyMode(settings, trusted)
    else:
        server.secret_key = load_secret_key(settings)
        server.config.update(
            SESSION_COOKIE_NAME=SESSION_COOKIE,
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax",
            PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        )
        server.session_interface = _SessionInterface(settings.dashboard_cookie_secure, trusted)
        if settings.dashboard_auth == "password":
            mode = _PasswordMode(app, settings, trusted)
        else:
            mode = _OidcMode(app, settings, trusted)
    state = _Installed(mode, public_paths(settings.dashboard_auth), dash_prefix)
    server.extensions[EXTENSION] = state
    _enabled = True

    @server.before_request
    def lytte_auth_guard() -> Response | None:
        return _guard(state)

    server.add_url_rule(LOGOUT_PATH, "lytte_logout", _logout, methods=["GET", "POST"])
    server.register_error_handler(NotAllowed, lambda exc: _text(str(exc), 403))


def _guard(state: _Installed) -> Response | None:
    g.lytte_user = None
    if request.path in state.public:
        return None
    try:
        user = state.mode.user()
    except Refused as exc:
        return _text(str(exc), 403)
    if user is not None:
        g.lytte_user = user
        return None
    if state.mode.login_url is not None and wants_page(
        request.method, request.path, request.headers, state.dash_prefix
    ):
        target = safe_next(request.full_path if request.query_string else request.path)
        return redirect(state.mode.login_url + (f"?next={quote(target, safe='')}" if target != "/" else ""), 303)
    if state.mode.login_url is None:
        return _text("sign in through the site's sign-in proxy", 401)
    return _text("login needed", 401)


def _logout() -> Response:
    state = current_app.extensions[EXTENSION]
    if not isinstance(state.mode, _SessionMode):  # proxy mode keeps no session
        return _html(login_page.notice("logged out", "log out at the site's sign-in proxy too"))
    state.mode.end_session()
    return _html(login_page.notice("logged out", "you are logged out", LOGIN_PATH, "log in again"))
