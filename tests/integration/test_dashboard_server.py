"""`lytte dashboard` served like a product: gunicorn, loopback only, a bound on live streams with one shared
Redis subscription, notices pushed within a second, a prompt stop on SIGTERM. A real redis-server; Kafka is
not needed (the wall's Kafka reader says "unreachable")."""

from __future__ import annotations

import signal
import socket
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import orjson
import pytest

from dashboards.live_stream import CLIENT_NAME, PEER_CHECK_S
from dashboards.serve import SHUTDOWN_S
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from streams.local.processes import free_port
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.integration

MAX_STREAMS = 3


class SseClient:
    """One browser's live stream, on a raw socket so that closing it is exactly a browser going away."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(
            b"GET /live/changes?token=hunter2 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        )
        self.buffer = b""
        head = self._until(lambda: b"\r\n\r\n" in self.buffer, 10)
        status_line, *lines = head.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}

    def _until(self, done, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout} s; read so far: {self.buffer[-500:]!r}")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(self.buffer[-500:])
            self.buffer += data
        return self.buffer

    def wait_for(self, needle: bytes, timeout: float) -> None:
        self._until(lambda: needle in self.buffer, timeout)

    def ended(self, timeout: float) -> bool:
        """Whether the server ends the stream (its last chunk, or the connection) within `timeout`."""
        try:
            self._until(lambda: self.buffer.endswith(b"\r\n0\r\n\r\n"), timeout)
        except EOFError:
            return True
        except (AssertionError, OSError):
            return False
        return True

    def close(self) -> None:
        self.sock.close()


def get(port: int, path: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)
    except OSError:  # not listening (yet, or any more)
        return 0, {}


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for path, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not Path(path).exists():
            continue
        for line in Path(path).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, local_port = local.split(":")
            if state == "0A" and int(local_port, 16) == port:  # 0A: LISTEN
                raw = b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, len(address), 8))
                found.add(socket.inet_ntop(family, raw))
    return found


def stream_when_free(port: int, timeout: float) -> SseClient:
    """A live stream, asked for again until a slot is free."""
    deadline = time.monotonic() + timeout
    while True:
        stream = SseClient(port)
        if stream.status == 200:
            return stream
        stream.close()
        if time.monotonic() > deadline:
            raise AssertionError(f"no live stream slot freed within {timeout} s")
        time.sleep(0.1)


@pytest.fixture
def dashboard(redis_server, spawn, tmp_path):
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap=f"127.0.0.1:{free_port()}",  # nothing there: the wall says Kafka is unreachable
        redis_url=redis_server.url,
        redis_prefix=f"t{run}",
        home=tmp_path / "home",
        dashboard_port=free_port(),
        dashboard_max_streams=MAX_STREAMS,
        dashboard_threads=8,
    )
    child = spawn(settings, "dashboard", name="dashboard")
    wait_until(lambda: get(settings.dashboard_port, "/healthz")[0] == 200, 90, "the dashboard", child)
    return settings, child


def test_the_dashboard_is_served_like_a_product(dashboard, redis_client):
    settings, child = dashboard
    port = settings.dashboard_port

    # gunicorn serves it, one worker process, on loopback only
    status, headers = get(port, "/healthz")
    assert status == 200 and headers.get("Server", "").startswith("gunicorn")
    children = Path(f"/proc/{child.proc.pid}/task/{child.proc.pid}/children")
    if children.exists():
        assert len(children.read_text().split()) == 1, "one worker process"
    assert listening_addresses(port) == {"127.0.0.1"}

    # max_streams streams open; the next is refused with Retry-After; pages are still served meanwhile
    streams = [SseClient(port) for _ in range(MAX_STREAMS)]
    for stream in streams:
        assert stream.status == 200 and stream.headers["content-type"].startswith("text/event-stream")
        stream.wait_for(b"retry: 2000", 5)
    refused = SseClient(port)
    assert refused.status == 503
    assert int(refused.headers["retry-after"]) > 0
    refused.close()
    assert get(port, "/?code=hunter2")[0] == 200, "the live streams left no thread for the page"

    # one Redis subscription however many streams are open
    named = [c for c in redis_client.client_list() if c["name"] == CLIENT_NAME]
    assert len(named) == 1 and named[0]["sub"] == "1"
    clients_with_all_streams = len(redis_client.client_list())
    streams[0].close()  # a browser goes away: its slot is free again within PEER_CHECK_S
    closed = time.monotonic()
    streams.append(stream_when_free(port, PEER_CHECK_S + 5))
    assert time.monotonic() - closed < PEER_CHECK_S + 5
    assert len(redis_client.client_list()) <= clients_with_all_streams

    # a change notice reaches every open stream within a second
    live = streams[1:]
    published = time.monotonic()
    redis_client.publish(RedisKeys(settings.redis_prefix).changes, orjson.dumps({"brand": "nordair", "alerts": True}))
    for stream in live:
        stream.wait_for(b'data: {"brands":["nordair"],"alerts":true}', 1.0)
    assert time.monotonic() - published < 1.0

    # SIGTERM: the streams end at once and the server stops within its bound
    stopping = time.monotonic()
    child.proc.send_signal(signal.SIGTERM)
    for stream in live:
        assert stream.ended(SHUTDOWN_S), "the stream was not ended by the stop"
    ended = time.monotonic() - stopping
    assert child.proc.wait(SHUTDOWN_S + 10) == 0
    assert time.monotonic() - stopping < SHUTDOWN_S + 10
    assert ended < SHUTDOWN_S / 2, "the streams held the stop up"
    assert listening_addresses(port) == set()
    assert named[0]["name"] not in {c["name"] for c in redis_client.client_list()}

    log = child.output()
    assert "hunter2" not in log, "a query string reached the log"
    assert "Traceback" not in log, log[-3000:]
