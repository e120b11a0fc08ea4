"""`lytte status` against a real broker: what is in posts.raw, what was handled, the lag, the stalled flag
with a short threshold, the services `lytte up` recorded, and Redis being down."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from streams.local.processes import child_env, free_port
from tests.fixtures.factories import REPO
from tests.fixtures.workers import wait_until
from tests.integration.test_pipeline import produce, synth_posts

pytestmark = pytest.mark.integration


def status(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "status", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=child_env(settings),
        timeout=60,
    )


def status_json(settings: Settings) -> dict:
    result = status(settings, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_status_without_worker_shows_everything_waiting(services_settings, watch_config):
    settings = services_settings.model_copy(update={"stall_after_s": 60.0})
    posts = synth_posts(watch_config, 12, minutes=1)
    produce(settings, posts)

    doc = status_json(settings)
    assert (doc["raw_end"], doc["posts_in"], doc["lag"]) == (12, 0, 12)
    assert doc["stalled"] is False and doc["last_handled_ms"] == 0
    assert [p["partition"] for p in doc["partitions"]] == [0, 1, 2, 3]
    assert sum(p["raw_end"] for p in doc["partitions"]) == 12
    assert all(p["lag"] == p["raw_end"] for p in doc["partitions"])
    assert doc["services"] is None and "services_error" not in doc

    text = status(settings)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split()[:3] == ["partition", "in", "topic"]
    assert lines[5].split()[:3] == ["total", "12", "0"]
    assert lines[6] == "pipeline: no worker has handled anything yet"


def test_status_calls_records_waiting_past_the_threshold_stalled(services_settings, watch_config):
    settings = services_settings.model_copy(update={"stall_after_s": 2.0})
    produce(settings, synth_posts(watch_config, 12, minutes=1))
    holding = sorted(p["partition"] for p in status_json(settings)["partitions"] if p["raw_end"] > 0)

    def stalled() -> bool:
        return status_json(settings)["stalled"]

    wait_until(stalled, 30, "status to say stalled")
    doc = status_json(settings)
    assert doc["stalled_partitions"] == holding and doc["lag"] == 12
    text = status(settings)
    assert text.returncode == 0, "stalled is a report, not a failure"
    verdict = f"partition{'s' if len(holding) > 1 else ''} {', '.join(map(str, holding))}"
    assert f"pipeline: STALLED ({verdict}: records waiting, nothing handled for " in text.stdout


def test_status_shows_services_and_works_with_redis_down(services_settings, redis_client):
    settings = services_settings
    record = {"name": "worker", "state": "restarting", "pid": None, "restarts": 2, "restarts_recent": 2}
    redis_client.hset(RedisKeys(settings.redis_prefix).services, mapping={"worker": json.dumps(record)})
    assert status_json(settings)["services"] == [record]
    assert "  worker  restarting  restarts 2 (2 in the last 10 min)" in status(settings).stdout

    port = free_port()
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    result = status(down)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"redis at 127.0.0.1:{port} did not answer within 2 s: services unknown"
    doc = status_json(down)
    assert doc["services"] is None and doc["services_error"].startswith("redis at ")


def test_status_with_worker(services_settings, spawn, watch_config):
    settings = services_settings
    worker = spawn(settings, "worker")
    posts = synth_posts(watch_config, 200, minutes=1)
    produce(settings, posts)

    def caught_up() -> bool:
        doc = status_json(settings)
        return doc["raw_end"] == len(posts) and doc["posts_in"] == len(posts)

    wait_until(caught_up, 120, "status to count every post handled", worker)
    doc = status_json(settings)
    assert doc["lag"] == 0 and doc["stalled"] is False
    assert doc["matched"] + doc["unmatched"] + doc["deadlettered"] == len(posts)
    assert all(p["handled"]["last_offset"] == p["raw_end"] - 1 for p in doc["partitions"])
    assert status(settings).stdout.splitlines()[-1] == "pipeline: ok"
