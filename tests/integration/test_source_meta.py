"""`lytte ingest meta` as a process on the real broker and redis-server, called by the fake Meta sender
(tests/fakes/meta.py) as Meta calls a page webhook."""

from __future__ import annotations

import contextlib
import socket

import httpx
import orjson
import pytest

from schemas import topics
from schemas.records import Post
from schemas.redis_keys import RedisKeys
from schemas.source_health import SourceReport
from schemas.topics import Topic
from streams.local.processes import free_port
from tests.fakes.meta import MetaSender, delivery, feed_change
from tests.fixtures.workers import read_topic, wait_until

pytestmark = pytest.mark.integration

SECRET = "meta-app-secret-9f8e7d6c5b4a"
VERIFY = "meta-verify-token-1a2b3c4d5e6f"
PAGE = "104857600123"


def listening(port: int) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200
    return False


@pytest.fixture
def meta(services_settings, spawn):
    port = free_port()
    settings = services_settings.model_copy(update={"meta_port": port, "source_report_s": 0.5})
    env = {"LYTTE_META_APP_SECRET": SECRET, "LYTTE_META_VERIFY_TOKEN": VERIFY}
    child = spawn(settings, "ingest", "meta", name="meta", env=env)
    wait_until(lambda: listening(port), 60, "the meta endpoint listening", child)
    sender = MetaSender(f"http://127.0.0.1:{port}/meta", SECRET, VERIFY)
    yield settings, child, sender
    sender.close()


def raw_posts(settings) -> list[Post]:
    return [
        Post.model_validate_json(r.value) for r in read_topic(settings, Topic.POSTS_RAW.name(settings.topic_prefix))
    ]


def deadletters(settings) -> list[tuple[bytes, str]]:
    out = []
    for record in read_topic(settings, Topic.DEADLETTER.name(settings.topic_prefix)):
        headers = dict(record.headers or [])
        out.append((record.value, headers[topics.DEADLETTER_REASON].decode()))
    return out


def report(redis_client, settings) -> SourceReport | None:
    raw = redis_client.hget(RedisKeys(settings.redis_prefix).sources, "meta")
    return SourceReport.model_validate_json(raw) if raw else None


def test_the_challenge_and_a_signed_delivery_reach_posts_raw(meta, redis_client):
    settings, child, sender = meta
    answer = sender.verify(challenge="1158201444")
    assert (answer.status_code, answer.text, answer.headers["content-type"].split(";")[0]) == (
        200,
        "1158201444",
        "text/plain",
    )
    assert sender.verify(token="not-the-token").status_code == 403

    payload = delivery(
        PAGE,
        feed_change("status", post_id=f"{PAGE}_1", message="Nordair lost my bag – igjen!", from_id="77"),
        feed_change("comment", post_id=f"{PAGE}_1", comment_id="1_2", parent_id=f"{PAGE}_1", message="Same here"),
        feed_change("reaction", post_id=f"{PAGE}_1", reaction_type="angry"),
    )
    assert sender.deliver(payload).status_code == 200  # the answer comes once Kafka has the posts
    posts = raw_posts(settings)
    assert [(p.id, p.kind.value, p.referenced_id) for p in posts] == [
        (f"meta:{PAGE}_1", "original", None),
        ("meta:1_2", "reply", f"meta:{PAGE}_1"),
    ]
    assert posts[0].text == "Nordair lost my bag – igjen!" and posts[0].author.id == "77"

    # the reaction is a sign of life, not a post
    wait_until(lambda: (r := report(redis_client, settings)) and r.unmatched_per_min == 1, 10, "a report", child)
    health = report(redis_client, settings)
    assert health.state == "connected" and health.detail.startswith("listening on 127.0.0.1:")
    assert health.events_per_min == 2 and health.last_event_ms > 0

    assert sender.deliver(payload).status_code == 200  # Meta's retry of the same delivery
    assert len(raw_posts(settings)) == 2, "a retry is not sent again"

    child.stop()
    assert child.proc.returncode == 0, child.output()
    assert report(redis_client, settings).state == "stopped"


def test_a_wrong_or_missing_signature_is_refused_and_nothing_is_sent(meta):
    settings, child, sender = meta
    forged = delivery(PAGE, feed_change("status", post_id=f"{PAGE}_66", message="forged"))
    assert sender.deliver(forged, secret="someone-elses-secret").status_code == 403
    assert sender.deliver(forged, signed=False).status_code == 403
    assert sender.deliver(forged, signature="sha256=" + "0" * 64).status_code == 403
    real = delivery(PAGE, feed_change("status", post_id=f"{PAGE}_67", message="real"))
    assert sender.deliver(real).status_code == 200
    assert [p.source_id for p in raw_posts(settings)] == [f"{PAGE}_67"]
    assert deadletters(settings) == []
    log = child.output()
    assert "3 refused so far" in log and "forged" not in log


def test_a_bad_payload_goes_to_deadletter_and_meta_gets_its_200(meta):
    settings, child, sender = meta
    assert sender.deliver(b'{"object": "page", "entry": [').status_code == 200
    mixed = delivery(
        PAGE,
        feed_change("status", post_id=f"{PAGE}_1", message="fine"),
        feed_change("status", post_id=f"{PAGE}_2", message="when?", created_time="next tuesday"),
    )
    assert sender.deliver(mixed).status_code == 200
    assert [p.source_id for p in raw_posts(settings)] == [f"{PAGE}_1"]
    (whole, one) = deadletters(settings)
    assert whole == (b'{"object": "page", "entry": [', whole[1]) and whole[1].startswith("meta: not JSON")
    assert one[1] == "meta: created_time 'next tuesday' is not a time"
    assert orjson.loads(one[0])["entry"][0]["changes"][0]["value"]["post_id"] == f"{PAGE}_2"
    assert child.proc.poll() is None, "the source goes on"


def test_the_secrets_never_reach_the_log(meta):
    _, child, sender = meta
    sender.verify()
    sender.verify(token=VERIFY + "x")
    sender.deliver(delivery(PAGE, feed_change("status", post_id=f"{PAGE}_1", message="m")))
    sender.deliver(delivery(PAGE, feed_change("status", post_id=f"{PAGE}_2", message="m")), secret=SECRET + "x")
    child.stop()
    log = child.output()
    assert "subscription check answered" in log and "subscription check from 127.0.0.1 refused" in log
    assert SECRET not in log and VERIFY not in log


def test_without_its_secrets_or_its_port_it_does_not_start(services_settings, spawn):
    no_secrets = spawn(services_settings, "ingest", "meta", name="meta")
    assert no_secrets.proc.wait(60) == 2
    assert (
        "set LYTTE_META_APP_SECRET (or LYTTE_META_APP_SECRET_FILE) and LYTTE_META_VERIFY_TOKEN" in no_secrets.output()
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = services_settings.model_copy(update={"meta_port": port})
        env = {"LYTTE_META_APP_SECRET": SECRET, "LYTTE_META_VERIFY_TOKEN": VERIFY}
        busy = spawn(settings, "ingest", "meta", name="meta", env=env)
        assert busy.proc.wait(60) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in busy.output()
