"""The live push route: Redis change notices relayed to browsers as server-sent events.

One Redis pub/sub subscription per server process (`ChangeHub`: a background thread that reconnects with
backoff after Redis errors) is fanned out to at most `max_streams` open streams, each with its own bounded
inbox: a browser that reads slowly loses its oldest notices and never holds up the others. A stream asked for
beyond the bound gets 503 with Retry-After. Each stream sends at most NOTICES_PER_SECOND notices a second
(brands merged, `alerts` OR-ed) and a keep-alive comment after KEEPALIVE_S of quiet, so that proxies keep the
connection open. A browser that goes away frees its slot within PEER_CHECK_S where the server lets us see the
socket (gunicorn does: the socket reads end-of-file), else at the next write, a keep-alive at the latest.

Every wait is bounded: the hub's reads (LISTEN_WAIT_S, and a subscription silent for SILENT_S despite pings
counts as lost), its socket operations (SOCKET_TIMEOUT_S), a stream's waits (PEER_CHECK_S), and a browser
whose socket takes no data for STALL_S loses its stream.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import redis
from flask import Response, request

from dashboards.data import LiveView

log = logging.getLogger(__name__)

#: The browser gets at most this many change notices a second, however fast the workers write.
NOTICES_PER_SECOND = 4
KEEPALIVE_S = 15.0
#: notices one stream holds for its browser; beyond this the oldest are dropped (any one makes the wall redraw)
INBOX_SIZE = 64
#: what a browser refused a stream is told to wait (seconds)
RETRY_AFTER_S = 15
#: how often a stream looks whether its browser went away
PEER_CHECK_S = 0.5
#: a browser that takes no bytes for this long loses its stream (and its slot)
STALL_S = 2 * KEEPALIVE_S

# the hub's subscription
LISTEN_WAIT_S = 1.0
PING_S = 5.0
SILENT_S = 3 * PING_S
SOCKET_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2.0
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
#: the name of the hub's connection in Redis' CLIENT LIST
CLIENT_NAME = "lytte-dashboard-changes"


@dataclass(frozen=True)
class Notice:
    #: None: "anything may have changed" (sent after the subscription was lost and came back)
    brand: str | None
    alerts: bool = False


def parse_notice(data: bytes | str) -> Notice | None:
    """A change notice from the channel, or None when the message is not one.

    Scenario: b'{"brand": "nordair", "alerts": true, "written_ms": 1}' -> Notice("nordair", True);
    b'{"brand": "nordair"}' -> Notice("nordair", False); b'not json' -> None; b'{"x": 1}' -> None.
    """
    try:
        notice = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(notice, dict) or not isinstance(notice.get("brand"), str):
        return None
    return Notice(notice["brand"], bool(notice.get("alerts")))


class Coalescer:
    """What one stream sends, and when: notices merged into one data frame at most `per_second` times a second,
    a keep-alive comment after `keepalive_s` without a write.

    Scenario (seconds, from 0.0): add nordair at 0.0 -> `take(0.0)` is
    'data: {"brands":["nordair"],"alerts":false}'; add skyline at 0.1 and nordair with alerts at 0.2 ->
    nothing is due before 0.25 (`wait_s(0.2)` is 0.05), then `take(0.25)` is
    'data: {"brands":["nordair","skyline"],"alerts":true}'; nothing more -> `take(15.25)` is ': keepalive'.
    A notice without a brand (a resync) makes a frame too: 'data: {"brands":[],"alerts":true}'.
    """

    def __init__(self, now: float, per_second: float = NOTICES_PER_SECOND, keepalive_s: float = KEEPALIVE_S) -> None:
        self._gap = 1.0 / per_second
        self._keepalive_s = keepalive_s
        self._brands: set[str] = set()
        self._alerts = False
        self._pending = False
        self._data_at = float("-inf")
        self._wrote_at = now

    def add(self, notice: Notice) -> None:
        self._pending = True
        self._alerts = self._alerts or notice.alerts
        if notice.brand is not None:
            self._brands.add(notice.brand)

    def wait_s(self, now: float) -> float:
        """How long until a frame is due (0: one is due now)."""
        due = self._data_at + self._gap if self._pending else self._wrote_at + self._keepalive_s
        return max(0.0, due - now)

    def due(self, now: float) -> bool:
        return self.wait_s(now) == 0.0

    def take(self, now: float) -> str | None:
        """The frame due at `now` (counted as written), or None."""
        if not self.due(now):
            return None
        self._wrote_at = now
        if not self._pending:
            return ": keepalive\n\n"
        frame = orjson.dumps({"brands": sorted(self._brands), "alerts": self._alerts}).decode()
        self._brands.clear()
        self._alerts = self._pending = False
        self._data_at = now
        return f"data: {frame}\n\n"


class Inbox:
    """One stream's notices: the newest `size` kept, older ones dropped, so that putting never waits."""

    def __init__(self, size: int = INBOX_SIZE) -> None:
        self._notices: deque[Notice] = deque(maxlen=size)
        self._ready = threading.Condition()
        self.closed = False
        self.dropped = 0

    def put(self, notice: Notice) -> None:
        with self._ready:
            if len(self._notices) == self._notices.maxlen:
                self.dropped += 1
            self._notices.append(notice)
            self._ready.notify()

    def take(self, timeout: float) -> list[Notice]:
        """What arrived, waiting up to `timeout` when nothing has; returns at once when closed."""
        with self._ready:
            if not self._notices and not self.closed and timeout > 0:
                self._ready.wait(timeout)
            notices = list(self._notices)
            self._notices.clear()
            return notices

    def close(self) -> None:
        with self._ready:
            self.closed = True
            self._ready.notify_all()


def subscriber_client(client: redis.Redis) -> redis.Redis:
    """A client for the hub's one subscription: the server and credentials of `client`, a connection of its
    own (named CLIENT_NAME), every socket operation bounded."""
    pool = client.connection_pool
    kwargs = dict(pool.connection_kwargs) | {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "client_name": CLIENT_NAME,
    }
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


#: every hub of this process, for `stop_all` (the server's shutdown)
_hubs: weakref.WeakSet[ChangeHub] = weakref.WeakSet()


class ChangeHub:
    """One subscription to the change channel, fanned out to at most `max_streams` inboxes. The subscription
    starts with the first stream and lives until `stop`."""

    def __init__(self, client: redis.Redis, channel: str, max_streams: int, inbox_size: int = INBOX_SIZE) -> None:
        self._client = client
        self.channel = channel
        self.max_streams = max_streams
        self._inbox_size = inbox_size
        self._lock = threading.Lock()
        self._inboxes: set[Inbox] = set()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        #: set while subscribed
        self.connected = threading.Event()
        self._backoff = BACKOFF_MIN_S
        self._subscribed_before = False
        self._refused_logged_at = float("-inf")
        _hubs.add(self)

    @classmethod
    def for_view(cls, view: LiveView, max_streams: int) -> ChangeHub:
        return cls(subscriber_client(view.redis), view.keys.changes, max_streams)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(self._inboxes)

    def open(self) -> Inbox | None:
        """An inbox for a new stream, or None when `max_streams` are open (or the hub is stopping)."""
        with self._lock:
            if self._stopping.is_set():
                return None
            if len(self._inboxes) >= self.max_streams:
                now = time.monotonic()
                if now - self._refused_logged_at > 60:
                    log.warning("live streams: %d open, the most this server holds; refusing more", self.max_streams)
                    self._refused_logged_at = now
                return None
            inbox = Inbox(self._inbox_size)
            self._inboxes.add(inbox)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lytte-live-changes", daemon=True)
                self._thread.start()
            return inbox

    def release(self, inbox: Inbox) -> None:
        """Free a stream's slot (twice is harmless)."""
        with self._lock:
            self._inboxes.discard(inbox)
        inbox.close()

    def fan_out(self, notice: Notice) -> None:
        with self._lock:
            inboxes = list(self._inboxes)
        for inbox in inboxes:
            inbox.put(notice)

    def stop(self, wait_s: float = 0.0) -> None:
        """End the subscription and every open stream. Safe in a signal handler with `wait_s=0`."""
        self._stopping.set()
        with self._lock:
            inboxes = list(self._inboxes)
            self._inboxes.clear()
        for inbox in inboxes:
            inbox.close()
        thread = self._thread
        if wait_s > 0 and thread is not None:
            thread.join(wait_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except (redis.RedisError, OSError) as exc:
                delay = self._next_delay()
                log.warning("live changes: the Redis subscription failed (%s); again in %.1f s", exc, delay)
                self._stopping.wait(delay)
            except Exception:  # a bug must not end the live view silently: said, and tried again
                delay = self._next_delay()
                log.exception("live changes: the subscription's thread failed; again in %.1f s", delay)
                self._stopping.wait(delay)
        with contextlib.suppress(Exception):
            self._client.close()

    def _next_delay(self) -> float:
        delay = self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)
        return delay

    def _listen(self) -> None:
        pubsub = self._client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            heard = pinged = time.monotonic()
            while not self._stopping.is_set():
                message = pubsub.get_message(timeout=min(LISTEN_WAIT_S, PING_S))
                now = time.monotonic()
                if message is None:
                    if now - heard > SILENT_S:
                        raise redis.ConnectionError(f"no answer for {SILENT_S:.0f} s")
                    if now - heard >= PING_S and now - pinged >= PING_S:
                        pubsub.ping()
                        pinged = now
                    continue
                heard = now
                if message["type"] == "message":
                    notice = parse_notice(message["data"])
                    if notice is not None:
                        self.fan_out(notice)
                elif message["type"] == "subscribe":
                    self.connected.set()
                    self._backoff = BACKOFF_MIN_S
                    if self._subscribed_before:
                        log.info("live changes: subscribed again")
                        self.fan_out(Notice(None, alerts=True))  # what changed meanwhile is unknown
                    self._subscribed_before = True
        finally:
            self.connected.clear()
            with contextlib.suppress(Exception):
                pubsub.close()


def stop_all() -> None:
    """Stop every hub of this process: their streams end, so that the server can stop (gunicorn waits for
    open requests). Called from the server worker's signal handlers: it never waits."""
    for hub in list(_hubs):
        hub.stop()


class Peer:
    """The browser's end of a stream, where the server shows us the socket (gunicorn: `gunicorn.socket`). Not
    on TLS sockets or without a socket: then every check says "still there, writable" and a write tells."""

    def __init__(self, sock: object) -> None:
        plain = isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket)
        self._sock: socket.socket | None = sock if plain else None

    def gone(self) -> bool:
        if self._sock is None:
            return False
        try:
            data = self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if data:  # the browser sent something on a stream: stop looking, the writes will tell
            self._sock = None
            return False
        return True

    def writable(self) -> bool:
        if self._sock is None:
            return True
        try:
            poll = select.poll()
            poll.register(self._sock, select.POLLOUT)
            return bool(poll.poll(0))
        except (OSError, ValueError):
            return True


class _Stream:
    """The body of one stream response; `close` (called by the server however the response ends, even one
    never started) frees the slot."""

    def __init__(self, hub: ChangeHub, inbox: Inbox, peer: Peer) -> None:
        self._hub = hub
        self._inbox = inbox
        self._peer = peer

    def __iter__(self) -> Iterator[str]:
        return self._events()

    def close(self) -> None:
        self._hub.release(self._inbox)

    def _events(self) -> Iterator[str]:
        try:
            yield "retry: 2000\n\n"
            pacer = Coalescer(time.monotonic(), NOTICES_PER_SECOND, KEEPALIVE_S)
            blocked_since: float | None = None
            while True:
                now = time.monotonic()
                wait = PEER_CHECK_S if blocked_since is not None else min(pacer.wait_s(now), PEER_CHECK_S)
                for notice in self._inbox.take(wait):
                    pacer.add(notice)
                if self._inbox.closed or self._peer.gone():
                    return
                now = time.monotonic()
                if not pacer.due(now):
                    continue
                if self._peer.writable():
                    blocked_since = None
                    yield pacer.take(now)
                elif blocked_since is None:
                    blocked_since = now
                elif now - blocked_since >= STALL_S:
                    log.info("live streams: a browser took nothing for %.0f s; its stream ends", STALL_S)
                    return
        finally:
            self.close()


def stream_response(hub: ChangeHub) -> Response:
    """The live push route's answer (call it inside the request): an event stream, or 503 with Retry-After
    when the hub holds `max_streams` streams already. Browsers' EventSource gives up on a 503: the page's
    script opens a new one after a while."""
    inbox = hub.open()
    if inbox is None and hub.stopping:
        # The server is stopping: an empty stream, so that the browser asks again in 2 s (by then at a new
        # server), where a 503 would make it give up.
        return Response("retry: 2000\n\n", mimetype="text/event-stream", headers={"Cache-Control": "no-store"})
    if inbox is None:
        return Response(
            "too many live screens on this dashboard server; try again later\n",
            status=503,
            mimetype="text/plain",
            headers={"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"},
        )
    return Response(
        _Stream(hub, inbox, Peer(request.environ.get("gunicorn.socket"))),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
