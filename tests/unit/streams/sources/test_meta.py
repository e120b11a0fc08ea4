"""The Meta webhook endpoint over real HTTP on loopback (aiohttp's test server), with a recording runtime in
place of Kafka (tests/integration/test_source_meta.py runs it against the real broker)."""

import asyncio
import logging

import orjson
from aiohttp.test_utils import TestClient, TestServer

from streams.sources.ingest_http import Outbox
from streams.sources.meta import meta_app
from tests.fakes.meta import RecordingRuntime, delivery, encode, feed_change, sign

SECRET = "app-secret-0123456789abcdef"
VERIFY = "verify-token-fedcba9876543210"
PAGE = "1001"


def call(requests: list[tuple], runtime: RecordingRuntime | None = None, **app_options) -> list[tuple[int, str]]:
    """Each request is (method, query, body, headers); the answers are (status, text)."""
    runtime = runtime or RecordingRuntime()

    async def run() -> list[tuple[int, str]]:
        outbox = Outbox(runtime, flush_limit_s=1.0)
        app = meta_app(runtime, outbox, SECRET, VERIFY, listening="listening on test", **app_options)
        try:
            async with TestClient(TestServer(app)) as client:
                answers = []
                for method, query, body, headers in requests:
                    response = await client.request(method, "/meta", params=query, data=body, headers=headers)
                    answers.append((response.status, await response.text()))
                return answers
        finally:
            outbox.close()

    return asyncio.run(run())


def signed_post(payload: dict | bytes, secret: str = SECRET) -> tuple:
    body = payload if isinstance(payload, bytes) else encode(payload)
    return ("POST", None, body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)})


def check(mode: str = "subscribe", token: str = VERIFY, challenge: str | None = "1158201444") -> tuple:
    query = {"hub.mode": mode, "hub.verify_token": token} | ({"hub.challenge": challenge} if challenge else {})
    return ("GET", query, None, {})


def test_the_subscription_check_echoes_the_challenge_only_with_the_verify_token():
    answers = call([check(), check(token="wrong"), check(mode="unsubscribe"), check(challenge=None), check(token="")])
    assert answers[0] == (200, "1158201444")
    assert [status for status, _ in answers[1:]] == [403, 403, 403, 403]


def test_the_challenge_comes_back_as_plain_text():
    async def run():
        runtime = RecordingRuntime()
        outbox = Outbox(runtime)
        try:
            async with TestClient(TestServer(meta_app(runtime, outbox, SECRET, VERIFY))) as client:
                response = await client.get(
                    "/meta", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "<b>1</b>"}
                )
                return response.status, response.content_type, await response.text()
        finally:
            outbox.close()

    assert asyncio.run(run()) == (200, "text/plain", "<b>1</b>")


def test_a_signed_delivery_sends_its_posts():
    runtime = RecordingRuntime()
    payload = delivery(
        PAGE,
        feed_change("status", post_id="1001_1", message="Nordair – kø igjen"),
        feed_change("comment", post_id="1001_1", comment_id="1_2", parent_id="1001_1", message="Same"),
        feed_change("reaction", post_id="1001_1", reaction_type="like"),
    )
    assert call([signed_post(payload)], runtime) == [(200, "EVENT_RECEIVED")]
    assert [(p.id, p.text) for p in runtime.posts] == [("meta:1001_1", "Nordair – kø igjen"), ("meta:1_2", "Same")]
    assert runtime.heartbeats == 1 and runtime.unmatched_count == 1 and runtime.rejected == []


def test_a_wrong_or_missing_signature_is_refused_and_nothing_is_sent(caplog):
    caplog.set_level(logging.INFO)
    runtime = RecordingRuntime()
    payload = delivery(PAGE, feed_change("status", post_id="1001_1", message="private words"))
    body = encode(payload)
    unsigned = ("POST", None, body, {"Content-Type": "application/json"})
    method, query, _, headers = signed_post(payload)
    tampered = (method, query, body.replace(b"private", b"public!"), headers)  # the signature of another body
    answers = call([signed_post(payload, secret="not-the-app-secret"), unsigned, tampered], runtime)
    assert [status for status, _ in answers] == [403, 403, 403]
    assert runtime.posts == [] and runtime.rejected == [] and runtime.heartbeats == 0
    assert runtime.states[-1] == ("connected", "listening on test; 3 deliveries refused (signature)")
    assert "3 refused so far" in caplog.text
    assert "private words" not in caplog.text and SECRET not in caplog.text


def test_a_payload_it_cannot_parse_is_answered_200_and_deadlettered():
    runtime = RecordingRuntime()
    answers = call([signed_post(b"{not json"), signed_post(b'{"object": "instagram", "entry": []}')], runtime)
    assert answers == [(200, "EVENT_RECEIVED")] * 2
    assert [(payload, reason.split(":")[1].strip()) for payload, reason in runtime.rejected] == [
        (b"{not json", "not JSON"),
        (b'{"object": "instagram", "entry": []}', "object is 'instagram', not 'page'"),
    ]
    assert runtime.posts == []


def test_retries_and_edits_of_a_post_already_sent_are_not_sent_again():
    runtime = RecordingRuntime()
    first = delivery(PAGE, feed_change("status", post_id="1001_1", message="v1"))
    edit = delivery(PAGE, feed_change("status", "edited", post_id="1001_1", message="v2"))
    unseen_edit = delivery(PAGE, feed_change("status", "edited", post_id="1001_9", message="edited before we saw it"))
    twice_in_one = delivery(
        PAGE,
        feed_change("status", post_id="1001_5", message="a"),
        feed_change("status", "edited", post_id="1001_5", message="b"),
    )
    call([signed_post(p) for p in (first, first, edit, unseen_edit, twice_in_one)], runtime)
    assert [(p.source_id, p.text) for p in runtime.posts] == [
        ("1001_1", "v1"),
        ("1001_9", "edited before we saw it"),
        ("1001_5", "a"),
    ]
    assert runtime.unmatched_count == 3, "the retry, the edit and the second change of one post: signs of life"


def test_when_kafka_does_not_confirm_meta_is_asked_to_send_again():
    runtime = RecordingRuntime(confirm=False)
    payload = delivery(PAGE, feed_change("status", post_id="1001_1", message="m"))
    assert call([signed_post(payload)], runtime)[0][0] == 503
    runtime.confirm = True
    # the retry is sent again, as the first try was not confirmed
    call([signed_post(payload)], runtime)
    assert [p.id for p in runtime.posts] == ["meta:1001_1", "meta:1001_1"]


def test_a_body_over_the_limit_is_refused():
    runtime = RecordingRuntime()
    big = delivery(PAGE, feed_change("status", post_id="1001_1", message="x" * 5000))
    answers = call([signed_post(big)], runtime, max_body_bytes=4096)
    assert answers[0][0] == 413 and runtime.posts == [] and runtime.rejected == []


def test_a_deadlettered_body_is_cut_to_the_record_limit():
    runtime = RecordingRuntime(max_record_bytes=1024)
    body = b"[" + b"1," * 2000 + b"1]"
    call([signed_post(body)], runtime)
    ((payload, reason),) = runtime.rejected
    assert len(payload) == 1024 and f"(first 1024 of {len(body)} bytes)" in reason


def test_healthz_answers_without_secrets():
    async def run():
        runtime = RecordingRuntime()
        outbox = Outbox(runtime)
        try:
            async with TestClient(TestServer(meta_app(runtime, outbox, SECRET, VERIFY))) as client:
                response = await client.get("/healthz")
                return response.status, await response.read()
        finally:
            outbox.close()

    status, body = asyncio.run(run())
    assert status == 200 and orjson.loads(body) == {"status": "ok", "source": "meta"}
