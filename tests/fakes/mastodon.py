"""A local Mastodon instance for tests: the REST and streaming endpoints a reader of public timelines uses, in
Mastodon's wire format (docs.joinmastodon.org: methods/instance, methods/timelines, methods/streaming).

- `GET /api/v1/instance` and `/api/v2/instance`: the streaming URL (`urls.streaming_api`, `configuration.urls.
  streaming`, as ws://, which Mastodon.py turns into http://) and the timelines' access settings;
- `GET /api/v1/timelines/tag/:tag` and `/api/v1/timelines/public`: newest first, `max_id`, `since_id`, `min_id`,
  `limit` (default 20, at most 40), `Link` headers (next: `max_id`, prev: `min_id`); 404 for a tag never used;
- `GET /api/v1/streaming/hashtag?tag=` and `/api/v1/streaming/public`: server-sent events over chunked HTTP,
  `event: update` + `data: <Status JSON>` for each status published while the connection is open, and a `:thump`
  comment every `heartbeat_s`;
- every endpoint but the instance ones wants `Authorization: Bearer <token>` (401 otherwise).

A test publishes statuses (`publish`), cuts the streams (`drop_streams`), refuses new stream connections for a
while (`refuse_streams`), injects raw events (`send_raw`) and reads what was asked (`requests`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

_CLOSE = object()


def _order(status_id: str) -> tuple[int, str]:
    return len(status_id), status_id


def make_status(
    status_id: str,
    html: str,
    *,
    username: str = "ann",
    domain: str | None = None,
    account_id: str = "1001",
    display_name: str = "Ann",
    followers: int | None = 120,
    tags: tuple[str, ...] = (),
    language: str | None = "en",
    in_reply_to_id: str | None = None,
    reblog: dict | None = None,
    mentions: tuple[tuple[str, str], ...] = (),
    created_at: datetime | None = None,
    instance: str = "mastodon.example",
) -> dict:
    """A Status entity as Mastodon serialises it (trimmed of what no reader here uses). `mentions` are
    (acct, url) pairs; `domain` None means a local account."""
    acct = username if domain is None else f"{username}@{domain}"
    home = domain or instance
    created = (created_at or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    account = {
        "id": account_id,
        "username": username,
        "acct": acct,
        "display_name": display_name,
        "locked": False,
        "bot": False,
        "created_at": "2020-01-01T00:00:00.000Z",
        "note": "",
        "url": f"https://{home}/@{username}",
        "following_count": 3,
        "statuses_count": 42,
        "emojis": [],
        "fields": [],
    }
    if followers is not None:
        account["followers_count"] = followers
    return {
        "id": status_id,
        "created_at": created,
        "in_reply_to_id": in_reply_to_id,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": language,
        "uri": f"https://{home}/users/{username}/statuses/{status_id}",
        "url": None if reblog else f"https://{home}/@{username}/{status_id}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "edited_at": None,
        "content": "" if reblog else html,
        "reblog": reblog,
        "account": account,
        "media_attachments": [],
        "mentions": [{"id": "9", "username": a.split("@")[0], "url": u, "acct": a} for a, u in mentions],
        "tags": [{"name": t.lower(), "url": f"https://{instance}/tags/{t.lower()}"} for t in tags],
        "emojis": [],
        "card": None,
        "poll": None,
    }


@dataclass
class _Subscriber:
    stream: str  # "public" or "hashtag:<tag folded>"
    events: queue.Queue


class FakeMastodon:
    def __init__(self, token: str = "test-token", heartbeat_s: float = 1.0) -> None:
        self.token = token
        self.heartbeat_s = heartbeat_s
        self.statuses: dict[str, dict] = {}
        self.requests: list[tuple[str, dict[str, list[str]], bool]] = []  # (path, query, authorised)
        self.stream_connections = 0
        self._ids = itertools.count(int(time.time() * 1000) << 16)
        self._lock = threading.Lock()
        self._subscribers: list[_Subscriber] = []
        self._refuse_until = 0.0
        self._refuse_status = 503
        #: accept stream connections and cut them at once (a broken proxy, a crashing streaming server)
        self.cut_streams_at_once = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-mastodon")

    # -- control ----------------------------------------------------------------------------------------------

    def start(self) -> FakeMastodon:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.drop_streams()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeMastodon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_id(self) -> str:
        return str(next(self._ids))

    def publish(self, status: dict) -> int:
        """Store the status (REST timelines show it) and send it to the open streams it belongs to; returns how
        many stream connections it went to."""
        with self._lock:
            self.statuses[status["id"]] = status
            targets = [s for s in self._subscribers if self._belongs(status, s.stream)]
        data = json.dumps(status, separators=(",", ":"))
        for sub in targets:
            sub.events.put(f"event: update\ndata: {data}\n\n")
        return len(targets)

    def send_raw(self, text: str, stream: str | None = None) -> None:
        """Write `text` as it is to every open stream, or to those of one kind ("public", "hashtag:nordair")."""
        with self._lock:
            targets = [s for s in self._subscribers if stream is None or s.stream == stream]
        for sub in targets:
            sub.events.put(text)

    def drop_streams(self) -> int:
        """Close every open stream connection (as a streaming server restart does)."""
        with self._lock:
            subs, self._subscribers = self._subscribers, []
        for sub in subs:
            sub.events.put(_CLOSE)
        return len(subs)

    def refuse_streams(self, seconds: float, status: int = 503) -> None:
        """Answer new stream requests with an error (503 Service Unavailable, 429 Too Many Requests) for a while."""
        self._refuse_until = time.monotonic() + seconds
        self._refuse_status = status

    def open_streams(self) -> list[str]:
        with self._lock:
            return [s.stream for s in self._subscribers]

    def timeline_requests(self) -> list[tuple[str, dict[str, list[str]]]]:
        return [(p, q) for p, q, _ in self.requests if p.startswith("/api/v1/timelines/")]

    # -- the timelines ----------------------------------------------------------------------------------------

    @staticmethod
    def _belongs(status: dict, stream: str) -> bool:
        if stream == "public":
            return True
        tag = stream.removeprefix("hashtag:")
        return any(t["name"].casefold() == tag for t in status.get("tags") or ())

    def _timeline(self, stream: str, query: dict[str, list[str]]) -> list[dict]:
        def one(name: str) -> str | None:
            return query.get(name, [None])[0]

        limit = min(int(one("limit") or 20), 40)
        with self._lock:
            rows = sorted(
                (s for s in self.statuses.values() if self._belongs(s, stream)),
                key=lambda s: _order(s["id"]),
                reverse=True,
            )
        if one("max_id"):
            rows = [s for s in rows if _order(s["id"]) < _order(one("max_id"))]
        if one("since_id"):
            rows = [s for s in rows if _order(s["id"]) > _order(one("since_id"))]
        if one("min_id"):  # the page immediately newer than min_id, still newest first
            rows = [s for s in rows if _order(s["id"]) > _order(one("min_id"))][-limit:]
        return rows[:limit]

    # -- HTTP -------------------------------------------------------------------------------------------------

    def _instance_v1(self) -> dict:
        return {
            "uri": "mastodon.example",
            "title": "Fake Mastodon",
            "version": "4.3.0",
            "urls": {"streaming_api": f"ws://127.0.0.1:{self.port}"},
        }

    def _instance_v2(self) -> dict:
        access = {"local": "authenticated", "remote": "authenticated"}
        return {
            "domain": "mastodon.example",
            "title": "Fake Mastodon",
            "version": "4.3.0",
            "configuration": {
                "urls": {"streaming": f"ws://127.0.0.1:{self.port}"},
                "timelines_access": {"live_feeds": access, "hashtag_feeds": access, "trending_link_feeds": access},
            },
        }

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _json(self, code: int, body, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                url = url._replace(path=url.path.rstrip("/") or "/")  # Rails routes take a trailing slash too
                query = parse_qs(url.query)
                authorised = self.headers.get("Authorization") == f"Bearer {fake.token}"
                with fake._lock:
                    fake.requests.append((url.path, query, authorised))
                if url.path == "/api/v1/instance":
                    return self._json(200, fake._instance_v1())
                if url.path == "/api/v2/instance":
                    return self._json(200, fake._instance_v2())
                if not authorised:
                    return self._json(401, {"error": "The access token is invalid"})
                if url.path == "/api/v1/timelines/public":
                    return self._page("public", url.path, query)
                if m := re.fullmatch(r"/api/v1/timelines/tag/([^/]+)", url.path):
                    tag = m.group(1).casefold()
                    with fake._lock:
                        used = any(fake._belongs(s, f"hashtag:{tag}") for s in fake.statuses.values())
                    if not used:
                        return self._json(404, {"error": "Record not found"})
                    return self._page(f"hashtag:{tag}", url.path, query)
                if url.path == "/api/v1/streaming/public":
                    return self._stream("public")
                if url.path == "/api/v1/streaming/hashtag" and query.get("tag"):
                    return self._stream(f"hashtag:{query['tag'][0].casefold()}")
                return self._json(404, {"error": "Not found"})

            def _page(self, stream: str, path: str, query: dict[str, list[str]]) -> None:
                rows = fake._timeline(stream, query)
                headers = {}
                if rows:
                    keep = {k: v[0] for k, v in query.items() if k in ("limit", "local", "remote", "only_media")}
                    base = f"{fake.base_url}{path}?"
                    nxt = base + urlencode(keep | {"max_id": rows[-1]["id"]})
                    prev = base + urlencode(keep | {"min_id": rows[0]["id"]})
                    headers["Link"] = f'<{nxt}>; rel="next", <{prev}>; rel="prev"'
                self._json(200, rows, headers)

            def _chunk(self, text: str) -> None:
                data = text.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, stream: str) -> None:
                if time.monotonic() < fake._refuse_until:
                    return self._json(fake._refuse_status, {"error": "refused by the test"})
                sub = _Subscriber(stream, queue.Queue())
                with fake._lock:
                    fake._subscribers.append(sub)
                    fake.stream_connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    self._chunk(":)\n")
                    while not fake.cut_streams_at_once:
                        try:
                            item = sub.events.get(timeout=fake.heartbeat_s)
                        except queue.Empty:
                            self._chunk(":thump\n")
                            continue
                        if item is _CLOSE:
                            break
                        self._chunk(item)
                except OSError:
                    pass
                finally:
                    with fake._lock:
                        if sub in fake._subscribers:
                            fake._subscribers.remove(sub)
                    self.close_connection = True
                    with contextlib.suppress(OSError):  # no last chunk: cut, as a dropped connection is
                        self.connection.shutdown(2)

        return Handler
