"""`lytte ingest http` as a process on the real broker and redis-server: posts over HTTP into posts.raw."""

from __future__ import annotations

import contextlib

import httpx
import orjson
import pytest

from schemas import topics
from schemas.records import Post
from schemas.redis_keys import RedisKeys
from schemas.source_health import SourceReport
from schemas.topics import Topic
from streams.local.processes import free_port
from tests.fixtures.factories import ingest_post
from tests.fixtures.workers import read_topic, wait_until

pytestmark = pytest.mark.integration

TOKEN = "ingest-token-5e6f7a8b9c0d1e2f"


def listening(port: int) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200
    return False


def start(services_settings, spawn, *args: str, token: str | None = TOKEN, wait: bool = True):
    port = free_port()
    settings = services_settings.model_copy(update={"ingest_port": port, "source_report_s": 0.5})
    child = spawn(settings, "ingest", "http", *args, name="http", env={"LYTTE_INGEST_TOKEN": token} if token else {})
    if wait:
        wait_until(lambda: listening(port), 60, "the ingest endpoint listening", child)
    return settings, child, f"http://127.0.0.1:{port}/v1/posts"


def send(url: str, body: bytes, content_type: str, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Content-Type": content_type} | ({"Authorization": f"Bearer {token}"} if token else {})
    return httpx.post(url, content=body, headers=headers, timeout=15)


def raw_ids(settings) -> list[str]:
    records = read_topic(settings, Topic.POSTS_RAW.name(settings.topic_prefix))
    return sorted(Post.model_validate_json(r.value).id for r in records)


def test_json_and_json_lines_reach_posts_raw_and_bad_lines_the_deadletter_topic(services_settings, spawn, redis_client):
    settings, child, url = start(services_settings, spawn)
    one = send(url, orjson.dumps(ingest_post(1)), "application/json")
    assert (one.status_code, one.json()) == (200, {"accepted": [{"item": 1, "id": "replay:tool-1"}], "rejected": []})
    body = b"\n".join(
        [orjson.dumps(ingest_post(2)), b'{"source": "x", "text": "half a post"}', b"", orjson.dumps(ingest_post(4))]
    )
    mixed = send(url, body, "application/x-ndjson")
    assert mixed.status_code == 207
    assert [a["line"] for a in mixed.json()["accepted"]] == [1, 4]
    ((rejected,),) = [mixed.json()["rejected"]]
    assert rejected["line"] == 2 and rejected["reason"].startswith("source_id: Field required")

    assert raw_ids(settings) == ["replay:tool-1", "replay:tool-2", "replay:tool-4"]
    (dead,) = read_topic(settings, Topic.DEADLETTER.name(settings.topic_prefix))
    assert dead.value == b'{"source": "x", "text": "half a post"}'
    reason = dict(dead.headers)[topics.DEADLETTER_REASON].decode()
    assert reason.startswith("http: line 2: source_id: Field required")

    def reported() -> SourceReport | None:
        raw = redis_client.hget(RedisKeys(settings.redis_prefix).sources, "http")
        return SourceReport.model_validate_json(raw) if raw else None

    wait_until(lambda: (r := reported()) and r.events_per_min == 3 and r.deadlettered == 1, 10, "the report", child)
    assert reported().state == "connected"
    child.stop()
    assert child.proc.returncode == 0 and reported().state == "stopped"
    assert TOKEN not in child.output()


def test_no_token_or_a_wrong_one_is_refused_and_nothing_is_sent(services_settings, spawn):
    settings, child, url = start(services_settings, spawn)
    body = orjson.dumps(ingest_post(1))
    assert send(url, body, "application/json", token=None).status_code == 401
    assert send(url, body, "application/json", token="not-the-token-at-all").status_code == 401
    assert send(url, body, "application/json").status_code == 200  # the same post with the token
    assert raw_ids(settings) == ["replay:tool-1"]
    assert read_topic(settings, Topic.DEADLETTER.name(settings.topic_prefix)) == []
    child.stop()
    log = child.output()
    assert "2 refused so far" in log and TOKEN not in log and "not-the-token-at-all" not in log


def test_it_does_not_start_without_a_token_unless_on_loopback_with_no_auth(services_settings, spawn):
    _, no_token, _ = start(services_settings, spawn, token=None, wait=False)
    assert no_token.proc.wait(60) == 2
    assert "set LYTTE_INGEST_TOKEN" in no_token.output()
    _, open_wide, _ = start(services_settings, spawn, "--no-auth", "--host", "0.0.0.0", token=None, wait=False)
    assert open_wide.proc.wait(60) == 2
    assert "only allowed on a loopback address" in open_wide.output()

    settings, local, url = start(services_settings, spawn, "--no-auth", token=None)
    assert send(url, orjson.dumps([ingest_post(7)]), "application/json", token=None).status_code == 200
    assert raw_ids(settings) == ["replay:tool-7"]
    assert "no token: loopback only" in local.output()
