"""What the dashboard's live push costs and how fast it is: `python -m streams.bench.dashboard_push`.

Starts a throw-away redis-server and `lytte dashboard` (gunicorn), both on free loopback ports (no Kafka:
the push path does not touch it), then

1. CPU per connected screen: the server's processes (gunicorn's arbiter and its worker) are measured for
   `--seconds` with one stream open (the shared subscription running) and then with `--streams` streams
   open, a change notice published every second both times; the difference, per minute and per added
   stream, is what one more screen costs.
2. Latency: `--notices` notices, each naming its own brand, published `--interval` apart (slower than the
   streams' pace of NOTICES_PER_SECOND, so that each goes out alone); from the publish to the frame that
   names it, on every open stream: p50 and p99.

Prints the figures; exits 1 if a notice never arrived.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import orjson
import redis

from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from streams.bench.latency import percentile
from streams.local.processes import child_env, free_port, spawn_lytte, stop, wait_for
from streams.local.redis import LocalRedis

TICK_S = os.sysconf("SC_CLK_TCK")
_BRAND = re.compile(rb"bench-(\d+)")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (from /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the whole line)
    return total / TICK_S


def server_pids(arbiter: int) -> list[int]:
    children = Path(f"/proc/{arbiter}/task/{arbiter}/children").read_text().split()
    return [arbiter, *map(int, children)]


class Streams(threading.Thread):
    """Open live streams, read by one thread; records when each `bench-<n>` brand first reaches each stream."""

    def __init__(self, port: int, count: int) -> None:
        super().__init__(daemon=True)
        self.selector = selectors.DefaultSelector()
        self.arrivals: dict[int, list[float]] = {}
        self.sockets = []
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /live/changes HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
            head = sock.recv(4096)
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"stream {i} refused: {head.splitlines()[0].decode(errors='replace')}")
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
            self.sockets.append(sock)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                now = time.monotonic()
                for match in _BRAND.finditer(data):
                    self.arrivals.setdefault(int(match.group(1)), []).append(now)

    def close(self) -> None:
        self._done.set()
        self.join(timeout=2)
        for sock in self.sockets:
            sock.close()


def measure_cpu(pids: list[int], client: redis.Redis, channel: str, seconds: float) -> float:
    """CPU seconds the server spends in `seconds`, a notice published every second."""
    start = cpu_seconds(pids)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        client.publish(channel, orjson.dumps({"brand": "idle", "alerts": False, "written_ms": 0}))
        time.sleep(1.0)
    return cpu_seconds(pids) - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.bench.dashboard_push", description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=Settings().dashboard_max_streams, help="open screens")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each CPU measurement")
    parser.add_argument("--notices", type=int, default=200, help="notices timed for the latency")
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between timed notices")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lytte-push-bench-") as tmp:
        home = Path(tmp)
        server = LocalRedis(home / "redis", free_port())
        server.start()
        settings = Settings(
            kafka_bootstrap=f"127.0.0.1:{free_port()}",
            redis_url=server.url,
            home=home,
            dashboard_port=free_port(),
            dashboard_max_streams=args.streams,
        )
        log = home / "dashboard.log"
        dashboard = spawn_lytte(["dashboard"], child_env(settings), log)
        client = redis.Redis.from_url(server.url)
        try:
            return _run(args, settings, dashboard.pid, client, log, dashboard)
        finally:
            client.close()
            stop(dashboard)
            server.stop()


def _run(args, settings: Settings, arbiter: int, client: redis.Redis, log: Path, dashboard) -> int:
    port = settings.dashboard_port

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    wait_for(answers, 90, "the dashboard", dashboard, f" (log: {log})")
    channel = RedisKeys(settings.redis_prefix).changes
    pids = server_pids(arbiter)
    print(
        f"dashboard: gunicorn pids {pids}; {args.streams} streams; {args.seconds:g} s per CPU measurement", flush=True
    )

    first = Streams(port, 1)
    first.start()
    baseline = measure_cpu(pids, client, channel, args.seconds)
    streams = Streams(port, args.streams - 1)
    streams.start()
    try:
        loaded = measure_cpu(pids, client, channel, args.seconds)
        per_minute = 60.0 / args.seconds
        per_stream = (loaded - baseline) * per_minute / max(1, args.streams - 1)
        print(
            f"CPU of the server: {baseline * per_minute:.3f} s/min with 1 stream, "
            f"{loaded * per_minute:.3f} s/min with {args.streams}: {per_stream * 1000:.1f} ms/min per added screen "
            f"({per_stream / 60 * 100:.3f} % of a core)",
            flush=True,
        )

        published: dict[int, float] = {}
        for n in range(args.notices):
            published[n] = time.monotonic()
            client.publish(channel, orjson.dumps({"brand": f"bench-{n}", "alerts": False, "written_ms": 0}))
            time.sleep(args.interval)
        time.sleep(1.0)
    finally:
        streams.close()
        first.close()

    arrivals = [(n, at) for group in (first, streams) for n, ats in group.arrivals.items() for at in ats]
    latencies = [(at - published[n]) * 1000 for n, at in arrivals if n in published]
    expected = args.notices * args.streams
    print(
        f"publish -> SSE frame over {args.notices} notices x {args.streams} streams ({len(latencies)} of "
        f"{expected} delivered): p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
        f"max {max(latencies, default=float('nan')):.1f} ms",
        flush=True,
    )
    return 0 if len(latencies) == expected else 1


if __name__ == "__main__":
    sys.exit(main())
