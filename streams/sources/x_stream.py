"""tweepy's `StreamingClient` wired to a `SourceRuntime`: one connection attempt at a time.

tweepy reads the stream, splits it into lines and calls a hook for each line, keep-alive, HTTP error,
network error and end of stream. Each hook here hands the line on (a Post to posts.raw, what cannot be read
to the deadletter topic) or records how the attempt ended and stops tweepy's own retry loop, so that the
source decides the wait (`x_reconnect`) and can be stopped at any moment.

tweepy has no setting for its API host (it builds `https://api.twitter.com/...` itself), so the source mounts
a `requests` transport adapter on tweepy's session (its documented `session` attribute) for that host: the
adapter sends the request to the configured base URL (`LYTTE_X_API_URL`: X's own `https://api.x.com` by
default, a local fake in tests) and gives every request a bounded timeout (tweepy sends the rules requests
with none, and reads the stream with 21 s, which the adapter replaces with the stall limit).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import time
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from tweepy import StreamingClient

from streams.sources.x_payload import STREAM_PARAMS, PayloadError, is_disconnect, read_line, stream_problem
from streams.sources.x_reconnect import STALL_S, Outcome, ReconnectPolicy

log = logging.getLogger("streams.sources.x")

#: The host tweepy writes into every URL.
TWEEPY_HOST = "https://api.twitter.com"
CONNECT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 30.0


def check_api_url(url: str) -> str:
    """The base URL without a trailing slash, if the bearer token may travel to it: https, or plain http to a
    loopback address only (a local fake). Scenarios: "https://api.x.com/" -> "https://api.x.com";
    "http://127.0.0.1:8080" -> itself; "http://api.example.com" -> ValueError."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host).is_loopback:
                return url.rstrip("/")
        if host == "localhost":
            return url.rstrip("/")
    raise ValueError(f"LYTTE_X_API_URL must be https:// (or http:// to a loopback address), not {parts.scheme}://...")


class ApiHostAdapter(HTTPAdapter):
    """Sends tweepy's requests to the configured X API base URL, each with a bounded timeout, and keeps the
    open stream's response so that `abort()` can cut it from another thread."""

    def __init__(self, base_url: str, stall_s: float = STALL_S) -> None:
        super().__init__()
        self.base_url = check_api_url(base_url)
        self.stall_s = stall_s
        self._lock = threading.Lock()
        self._stream_response = None

    def send(self, request, stream=False, timeout=None, **kwargs):
        if request.url.startswith(TWEEPY_HOST):
            request.url = self.base_url + request.url[len(TWEEPY_HOST) :]
        # the read timeout of a stream is the stall limit: no byte, keep-alives included, for that long
        timeout = (CONNECT_TIMEOUT_S, self.stall_s if stream else REQUEST_TIMEOUT_S)
        response = super().send(request, stream=stream, timeout=timeout, **kwargs)
        if stream:
            with self._lock:
                self._stream_response = response
        return response

    def abort(self) -> None:
        """Shut the open stream's socket, which wakes the read blocked on it (a stop must not wait for the next
        keep-alive, or for the stall limit)."""
        with self._lock:
            response = self._stream_response
        connection = getattr(getattr(response, "raw", None), "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class XStream(StreamingClient):
    """One tweepy client for the rules and the stream. `run_once` connects and returns how it ended."""

    def __init__(self, bearer_token: str, runtime, policy: ReconnectPolicy, adapter: ApiHostAdapter) -> None:
        super().__init__(bearer_token, daemon=True)
        self.session.mount(TWEEPY_HOST + "/", adapter)
        self.runtime = runtime
        self.policy = policy
        self.adapter = adapter
        self.connections = 0
        self.outcome: Outcome | None = None
        self._last_byte = time.monotonic()

    def run_once(self, sample: bool = False) -> Outcome:
        """Connect to the filtered stream (or the 1% sample) and read it until it ends; how it ended."""
        self.outcome = None
        self._last_byte = time.monotonic()
        if sample:
            self.sample(**STREAM_PARAMS)
        else:
            self.filter(**STREAM_PARAMS)
        return self.outcome or Outcome("closed", "the stream ended")

    def stop(self) -> None:
        """From another thread: end the connection now."""
        self.disconnect()
        self.adapter.abort()

    def _end(self, outcome: Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
        self.disconnect()  # tweepy's loop stops here instead of sleeping and retrying on its own

    # -- tweepy's hooks -----------------------------------------------------------------------------------

    def on_connect(self) -> None:
        self.connections += 1
        if self.connections > 1:
            self.runtime.reconnected()
        self.runtime.set_state("connected")

    def on_keep_alive(self) -> None:
        self._last_byte = time.monotonic()
        self.policy.delivered()
        self.runtime.heartbeat()

    def on_data(self, raw_data: bytes) -> None:
        self._last_byte = time.monotonic()
        try:
            line = read_line(raw_data)
        except PayloadError as exc:
            self.policy.delivered()
            self.runtime.reject(raw_data, f"x: {exc}")
            return
        if line.post is not None:
            self.policy.delivered()
            self.runtime.post(line.post)
            log.debug("x: post %s (rules %s)", line.post.source_id, ",".join(line.post.matching_rules) or "-")
            return
        self.runtime.heartbeat()
        why = f"X says: {stream_problem(line.errors)}"  # logged with the wait that follows
        self._end(Outcome("closed" if is_disconnect(line.errors) else "stream_error", why))

    def on_request_error(self, status_code: int) -> None:
        self._end(Outcome("http", f"HTTP {status_code}", status_code))

    def on_connection_error(self) -> None:
        silent = time.monotonic() - self._last_byte
        stalled = silent >= self.adapter.stall_s * 0.95
        why = f"stalled: no data for {silent:.0f} s" if stalled else "network error"
        self._end(Outcome("network", why))

    def on_closed(self, response) -> None:
        self._end(Outcome("closed", "X closed the stream"))

    def on_exception(self, exception: Exception) -> None:
        log.error("x: the stream failed: %s: %s", type(exception).__name__, exception)
        self._end(Outcome("exception", f"{type(exception).__name__}"))

    def on_disconnect(self) -> None:
        log.debug("x: disconnected")
