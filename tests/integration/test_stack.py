"""`lytte up`, the command behind `make demo`: local Kafka and Redis, worker, dashboard, synth, a URL; and
its supervision: what is killed comes back."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from schemas.redis_keys import RedisKeys
from streams.local.processes import free_port, port_open, spawn_lytte
from streams.local.stack import worker_names
from tests.fixtures.factories import REPO
from tests.fixtures.workers import Child, wait_until

pytestmark = pytest.mark.integration

KEYS = RedisKeys()


def spawn_up(tmp_path: Path) -> tuple[Child, dict[str, int]]:
    """`lytte up --rate 20 --history 0` in tmp_path on free ports; its output goes to tmp_path/up.log."""
    ports = {name: free_port() for name in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "REDIS_PORT", "DASHBOARD_PORT")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYTTE_")}
    env.update({f"LYTTE_{k}": str(v) for k, v in ports.items()})
    # as under `make demo`, the home is the relative default (.lytte) under the current directory
    env.update(LYTTE_WATCH_CONFIG=str(REPO / "config" / "watch.yaml"), PYTHONUNBUFFERED="1")
    log = tmp_path / "up.log"
    return Child("lytte up", spawn_lytte(["up", "--rate", "20", "--history", "0"], env, log, cwd=tmp_path), log), ports


def test_lytte_up_brings_the_wall_to_life_and_stops_cleanly(tmp_path, kafka_broker):
    up, ports = spawn_up(tmp_path)
    proc, log = up.proc, up.log
    try:
        wait_until(lambda: "lytte is up: open" in log.read_text(), 120, "the URL line", up)
        url = re.search(r"open (http://\S+)", log.read_text()).group(1)
        assert url == f"http://127.0.0.1:{ports['DASHBOARD_PORT']}/"
        with urllib.request.urlopen(url, timeout=5) as page:
            assert page.status == 200

        client = redis.Redis(port=ports["REDIS_PORT"])
        keys = RedisKeys()
        wait_until(lambda: client.hlen(keys.buckets("nordair")) > 0, 60, "live buckets for the wall", up)
        records = [json.loads(v) for v in client.hvals(keys.services)]
        assert sorted(r["name"] for r in records) == sorted(["dashboard", "kafka", "redis", "synth", *worker_names()])
        assert {(r["state"], r["restarts"]) for r in records} == {("running", 0)}
        client.close()

        # `lytte status --json` against the stack, as an operator runs it beside `lytte up`
        env = {k: v for k, v in os.environ.items() if not k.startswith("LYTTE_")}
        env.update({f"LYTTE_{k}": str(v) for k, v in ports.items()})
        result = subprocess.run(
            [sys.executable, "-m", "streams.cli", "status", "--json"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        status = json.loads(result.stdout)
        assert status["raw_end"] > 0 and status["posts_in"] > 0 and status["stalled"] is False
        assert status["posts_in"] == status["matched"] + status["unmatched"] + status["deadlettered"]
        assert {s["name"] for s in status["services"]} >= {*worker_names(), "kafka", "redis"}
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    output = log.read_text()
    assert "lytte up: stopped" in output, output
    assert all((tmp_path / ".lytte" / "logs" / f"{name}.log").exists() for name in worker_names())
    time.sleep(0.5)
    for port in ports.values():
        assert not port_open("127.0.0.1", port), f"port {port} still open after stop"


def service(client: redis.Redis, name: str) -> dict | None:
    """The supervision record of one service, or None while Redis is away or has not got it yet."""
    try:
        raw = client.hget(KEYS.services, name)
    except redis.ConnectionError:
        return None
    return json.loads(raw) if raw else None


def nordair_posts(client: redis.Redis) -> int:
    """Posts in the live buckets of brand nordair, 0 while Redis is away."""
    try:
        return sum(json.loads(raw)["posts"] for raw in client.hvals(KEYS.buckets("nordair")))
    except redis.ConnectionError:
        return 0


def restarted(client: redis.Redis, name: str, old_pid: int) -> dict | None:
    record = service(client, name)
    return record if record and record["state"] == "running" and record["pid"] != old_pid else None


def test_lytte_up_restarts_a_killed_worker_and_a_killed_redis(tmp_path, kafka_broker):
    up, ports = spawn_up(tmp_path)
    client = redis.Redis(port=ports["REDIS_PORT"], socket_timeout=2, socket_connect_timeout=2)
    try:
        wait_until(lambda: "lytte is up: open" in up.output(), 120, "the URL line", up)
        wait_until(lambda: nordair_posts(client) > 0, 60, "live buckets for the wall", up)
        name = worker_names()[0]
        worker = service(client, name)
        assert worker["state"] == "running"
        assert f"{name} started (pid {worker['pid']}" in up.output()

        os.kill(worker["pid"], signal.SIGKILL)
        wait_until(lambda: restarted(client, name, worker["pid"]), 20, "a new worker", up)
        again = restarted(client, name, worker["pid"])
        assert (again["restarts"], again["restarts_recent"], again["last_exit_code"]) == (1, 1, -9)
        assert f"{name} exited with code -9 (restart 1 in the last 10 min); restarting in 1 s" in up.output()
        assert f"{name} started (pid {again['pid']}" in up.output()
        posts = nordair_posts(client)
        wait_until(lambda: nordair_posts(client) > posts, 40, "nordair buckets growing after the restart", up)

        server = service(client, "redis")
        os.kill(server["pid"], signal.SIGKILL)
        wait_until(lambda: restarted(client, "redis", server["pid"]), 20, "redis-server back on its port", up)
        assert service(client, "redis")["restarts"] == 1
        assert "redis exited with code -9" in up.output()
        wait_until(lambda: nordair_posts(client) > posts, 40, "the view filling again", up)
        assert client.exists(KEYS.watch)
        assert up.proc.poll() is None
    finally:
        client.close()
        os.killpg(up.proc.pid, signal.SIGINT)
        up.proc.wait(60)
    assert "lytte up: stopped" in up.output()
