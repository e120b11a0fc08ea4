"""`lytte up`, the command behind `make demo`: local Kafka and Redis, worker, dashboard, synth, a URL."""

from __future__ import annotations

import os
import re
import signal
import time
import urllib.request

import pytest
import redis

from schemas.redis_keys import RedisKeys
from streams.processes import free_port, port_open, spawn_lytte
from tests.fixtures.factories import REPO
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.integration


def test_lytte_up_brings_the_wall_to_life_and_stops_cleanly(tmp_path, kafka_broker):
    ports = {name: free_port() for name in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "REDIS_PORT", "DASHBOARD_PORT")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYTTE_")}
    env.update({f"LYTTE_{k}": str(v) for k, v in ports.items()})
    # as under `make demo`, the home is the relative default (.lytte) under the current directory
    env.update(LYTTE_WATCH_CONFIG=str(REPO / "config" / "watch.yaml"), PYTHONUNBUFFERED="1")
    log = tmp_path / "up.log"
    proc = spawn_lytte(["up", "--rate", "20"], env, log, cwd=tmp_path)
    try:
        wait_until(lambda: "lytte is up: open" in log.read_text(), 120, "the URL line")
        url = re.search(r"open (http://\S+)", log.read_text()).group(1)
        assert url == f"http://127.0.0.1:{ports['DASHBOARD_PORT']}/"
        with urllib.request.urlopen(url, timeout=5) as page:
            assert page.status == 200

        client = redis.Redis(port=ports["REDIS_PORT"])
        keys = RedisKeys()
        wait_until(lambda: client.hlen(keys.buckets("nordair")) > 0, 60, "live buckets for the wall")
        client.close()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    output = log.read_text()
    assert "lytte up: stopped" in output, output
    assert (tmp_path / ".lytte" / "logs" / "worker.log").exists()
    time.sleep(0.5)
    for port in ports.values():
        assert not port_open("127.0.0.1", port), f"port {port} still open after stop"
