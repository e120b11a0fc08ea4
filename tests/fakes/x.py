"""A local stand-in for X's API v2 filtered stream, speaking its wire format (docs.x.com, "Filtered stream"
and "Handling disconnections"):

- `GET /2/tweets/search/stream` and `GET /2/tweets/sample/stream`: HTTP/1.1 chunked, one JSON object per line
  ending in `\\r\\n`, a bare `\\r\\n` as keep-alive (every `keepalive_s`), `data` / `includes` /
  `matching_rules` per post; the operational-disconnect message; 429 and 503 answers;
- `GET /2/tweets/search/stream/rules` and `POST` with `{"add": [...]}` or `{"delete": {"ids": [...]}}` and the
  `dry_run` parameter, answering with `data`, `meta.summary` and per-rule `errors` (duplicate value, too long);
- `Authorization: Bearer <token>` checked on every request (401 otherwise).

A test scripts each stream connection (`expect(...)` steps, in order); once a script runs out, the connection
stays open and serves what `push()` queues, with keep-alives between. Every request is recorded (time, path,
query, whether the token was right: never the token itself).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

RULES_PATH = "/2/tweets/search/stream/rules"
STREAM_PATHS = {"/2/tweets/search/stream": "filter", "/2/tweets/sample/stream": "sample"}
MAX_RULE_CHARS = 512

OPERATIONAL_DISCONNECT = {
    "errors": [
        {
            "title": "operational-disconnect",
            "disconnect_type": "UpstreamOperationalDisconnect",
            "detail": "This stream has been disconnected upstream for operational reasons.",
            "type": "https://api.twitter.com/2/problems/operational-disconnect",
        }
    ]
}
TOO_MANY_CONNECTIONS = {
    "title": "ConnectionException",
    "detail": "This stream is currently at the maximum allowed connection limit.",
    "connection_issue": "TooManyConnections",
    "type": "https://api.twitter.com/2/problems/streaming-connection",
}
_PROBLEMS = {
    401: {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
    429: TOO_MANY_CONNECTIONS,
    503: {"title": "Service Unavailable", "type": "about:blank", "status": 503, "detail": "Service Unavailable"},
}


# -- connection scripts ------------------------------------------------------------------------------------


def line(obj: Any) -> tuple:
    """Send one line: a dict as JSON, bytes or str as they are (a broken line for the deadletter tests)."""
    data = obj if isinstance(obj, bytes) else obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()
    return ("line", data)


def pause(seconds: float) -> tuple:
    """Send nothing, not even keep-alives, for a while (a stall when longer than the client's limit)."""
    return ("pause", seconds)


def status(code: int) -> tuple:
    """Answer the connection with this HTTP status and X's problem body (the first and only step)."""
    return ("status", code)


KEEPALIVE = ("keepalive",)
CLOSE = ("close",)  # end the chunked body cleanly, as X does after an operational disconnect
CUT = ("cut",)  # half a post line, then the TCP connection dropped
HANGUP = ("hangup",)  # drop the connection before answering (a network error)


@dataclass
class Request:
    at: float  # time.monotonic()
    method: str
    path: str
    query: dict[str, str]
    authorized: bool
    body: Any = None


@dataclass
class _State:
    token: str
    keepalive_s: float
    rules: dict[str, dict] = field(default_factory=dict)
    scripts: queue.Queue = field(default_factory=queue.Queue)
    live: queue.Queue = field(default_factory=queue.Queue)
    requests: list[Request] = field(default_factory=list)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1_000_000_000_000_000_001))
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)
    open_streams: int = 0


class FakeX:
    """Scenario: `with FakeX("t0ken") as x: x.expect(line(post_payload(...)), CLOSE)`, point the client at
    `x.url`; the first connection gets the post and an orderly end, the next ones stay open for `x.push(...)`."""

    def __init__(self, token: str, keepalive_s: float = 20.0) -> None:
        self.state = _State(token, keepalive_s)
        state = self.state

        class Handler(_Handler):
            pass

        Handler.state = state
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-x", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeX:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeX:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a test does ------------------------------------------------------------------------------

    def expect(self, *steps: tuple) -> None:
        """The script of the next stream connection not yet scripted."""
        self.state.scripts.put(list(steps))

    def push(self, obj: Any) -> None:
        """A line for the open (or next) live connection."""
        self.state.live.put(line(obj)[1])

    def set_rules(self, *rules: tuple[str, str | None]) -> None:
        """Rules X already has, as (value, tag)."""
        with self.state.lock:
            for value, tag in rules:
                rule_id = str(next(self.state.ids))
                self.state.rules[rule_id] = {"id": rule_id, "value": value} | ({"tag": tag} if tag else {})

    @property
    def rules(self) -> list[dict]:
        with self.state.lock:
            return [dict(rule) for rule in self.state.rules.values()]

    @property
    def requests(self) -> list[Request]:
        with self.state.lock:
            return list(self.state.requests)

    def stream_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path in STREAM_PATHS]

    @property
    def open_streams(self) -> int:
        with self.state.lock:
            return self.state.open_streams


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the tests read `requests`
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        authorized = self.headers.get("Authorization") == f"Bearer {self.state.token}"
        body = None
        if method == "POST":
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with contextlib.suppress(ValueError):
                body = json.loads(raw or b"null")
        with self.state.lock:
            self.state.requests.append(Request(time.monotonic(), method, parts.path, query, authorized, body))
        if not authorized:
            return self._json(401, _PROBLEMS[401])
        if parts.path == RULES_PATH:
            return self._rules(method, query, body)
        if parts.path in STREAM_PATHS and method == "GET":
            return self._stream()
        return self._json(404, {"title": "Not Found Error", "type": "about:blank", "status": 404})

    # -- rules ---------------------------------------------------------------------------------------------

    def _rules(self, method: str, query: dict, body: Any) -> None:
        state = self.state
        sent = _now()
        if method == "GET":
            with state.lock:
                rules = [dict(r) for r in state.rules.values()]
            meta = {"sent": sent, "result_count": len(rules)}
            return self._json(200, ({"data": rules} if rules else {}) | {"meta": meta})
        dry_run = query.get("dry_run") == "true"
        if isinstance(body, dict) and isinstance(body.get("add"), list):
            return self._add(body["add"], dry_run, sent)
        if isinstance(body, dict) and isinstance(body.get("delete"), dict):
            return self._delete(body["delete"].get("ids") or [], dry_run, sent)
        return self._json(400, {"title": "Invalid Request", "detail": "add or delete expected", "status": 400})

    def _add(self, add: list, dry_run: bool, sent: str) -> None:
        state = self.state
        data, errors = [], []
        with state.lock:
            values = {r["value"] for r in state.rules.values()}
            for rule in add:
                value, tag = rule.get("value", ""), rule.get("tag")
                if value in values:
                    same = next(r["id"] for r in state.rules.values() if r["value"] == value)
                    errors.append(
                        {"value": value, "id": same, "title": "DuplicateRule", "type": _problem("duplicate-rules")}
                    )
                    continue
                if not value or len(value) > MAX_RULE_CHARS:
                    detail = f"Rule must be 1 to {MAX_RULE_CHARS} characters"
                    errors.append(
                        {
                            "value": value,
                            "title": "UnprocessableEntity",
                            "detail": detail,
                            "type": _problem("invalid-rules"),
                        }
                    )
                    continue
                rule_id = str(next(state.ids))
                created = {"value": value, "id": rule_id} | ({"tag": tag} if tag else {})
                values.add(value)
                data.append(created)
                if not dry_run:
                    state.rules[rule_id] = dict(created)
        summary = {"created": len(data), "not_created": len(errors), "valid": len(data), "invalid": len(errors)}
        answer = ({"data": data} if data else {}) | {"meta": {"sent": sent, "summary": summary}}
        self._json(200, answer | ({"errors": errors} if errors else {}))

    def _delete(self, ids: list, dry_run: bool, sent: str) -> None:
        state = self.state
        deleted, errors = 0, []
        with state.lock:
            for rule_id in ids:
                if str(rule_id) not in state.rules:
                    errors.append(
                        {"id": str(rule_id), "title": "Not Found Error", "type": _problem("resource-not-found")}
                    )
                    continue
                deleted += 1
                if not dry_run:
                    del state.rules[str(rule_id)]
        summary = {"deleted": deleted, "not_deleted": len(errors)}
        self._json(200, {"meta": {"sent": sent, "summary": summary}} | ({"errors": errors} if errors else {}))

    # -- the stream ----------------------------------------------------------------------------------------

    def _stream(self) -> None:
        try:
            steps = self.state.scripts.get_nowait()
        except queue.Empty:
            steps = []
        if steps and steps[0][0] == "hangup":
            return self._drop()
        if steps and steps[0][0] == "status":
            return self._json(steps[0][1], _PROBLEMS.get(steps[0][1], {"title": "Error", "status": steps[0][1]}))
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with self.state.lock:
            self.state.open_streams += 1
        try:
            for step in steps:
                if not self._step(step):
                    return
            self._live()
        except OSError:  # the client went away
            self.close_connection = True
        finally:
            with self.state.lock:
                self.state.open_streams -= 1

    def _step(self, step: tuple) -> bool:
        """Play one step; False when the connection is over."""
        kind = step[0]
        if kind == "line":
            self._chunk(step[1] + b"\r\n")
        elif kind == "keepalive":
            self._chunk(b"\r\n")
        elif kind == "pause":
            self.state.closing.wait(step[1])
        elif kind == "close":
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            return False
        elif kind == "cut":
            half = b'{"data": {"id": "1", "text": "cut in the mid'
            self.wfile.write(f"{len(half) + 40:x}\r\n".encode() + half)  # the chunk promises more than it has
            self.wfile.flush()
            self._drop()
            return False
        return True

    def _live(self) -> None:
        """Serve pushed lines, with a keep-alive whenever nothing came for `keepalive_s`, until the fake stops."""
        state = self.state
        while not state.closing.is_set():
            try:
                data = state.live.get(timeout=state.keepalive_s)
            except queue.Empty:
                self._chunk(b"\r\n")
                continue
            self._chunk(data + b"\r\n")
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Drop the TCP connection at once, without an orderly HTTP end."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _json(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if code == 429:
            self.send_header("x-rate-limit-limit", "50")
            self.send_header("x-rate-limit-remaining", "0")
            self.send_header("x-rate-limit-reset", str(int(time.time()) + 900))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _problem(name: str) -> str:
    return f"https://api.twitter.com/2/problems/{name}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# -- payloads as X sends them --------------------------------------------------------------------------------


def user(user_id: str, username: str, name: str = "", followers: int = 0, verified: bool = False) -> dict:
    return {
        "id": user_id,
        "username": username,
        "name": name or username,
        "verified": verified,
        "public_metrics": {"followers_count": followers, "following_count": 10, "tweet_count": 100, "listed_count": 1},
    }


def post_payload(
    post_id: str,
    text: str,
    author: dict,
    *,
    kind: str | None = None,  # "retweeted", "quoted" or "replied_to"
    referenced: dict | None = None,  # the referenced post, with "author" (a user dict) for includes
    created_at: str = "2026-12-07T03:30:00.000Z",
    lang: str = "en",
    tags: tuple[str, ...] = ("brand:nordair",),
    metrics: dict | None = None,
    with_includes: bool = True,
) -> dict:
    """A filtered-stream line for one post, with its includes and matching rules."""
    data: dict[str, Any] = {
        "id": post_id,
        "text": text,
        "author_id": author["id"],
        "created_at": created_at,
        "lang": lang,
        "edit_history_tweet_ids": [post_id],
        "public_metrics": metrics or {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0},
    }
    users = [author]
    tweets = []
    if kind and referenced:
        data["referenced_tweets"] = [{"type": kind, "id": referenced["id"]}]
        ref = {k: v for k, v in referenced.items() if k != "author"}
        ref.setdefault("edit_history_tweet_ids", [ref["id"]])
        if "author" in referenced:
            ref["author_id"] = referenced["author"]["id"]
            users.append(referenced["author"])
        tweets.append(ref)
    payload: dict[str, Any] = {"data": data}
    if with_includes:
        payload["includes"] = {"users": users} | ({"tweets": tweets} if tweets else {})
    if tags:
        payload["matching_rules"] = [{"id": str(1600 + i), "tag": tag} for i, tag in enumerate(tags)]
    return payload
