"""The generic ingest endpoint: body parsing, the token rules, and the endpoint over real HTTP on loopback
(aiohttp's test server) with a recording runtime in place of Kafka."""

import asyncio
import logging
from datetime import UTC, datetime

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.sources.ingest_http import (
    BodyError,
    Outbox,
    bearer_ok,
    check_token,
    clip,
    ingest_app,
    is_loopback,
    read_posts,
)
from tests.fakes.meta import RecordingRuntime
from tests.fixtures.factories import ingest_post

TOKEN = "ingest-token-0123456789abcdef"
LIMIT = 256 * 1024


def lines(*items: dict | bytes) -> bytes:
    return b"\n".join(item if isinstance(item, bytes) else orjson.dumps(item) for item in items) + b"\n"


# -- parsing --------------------------------------------------------------------------------------------


def test_json_lines_are_validated_one_by_one():
    body = lines(ingest_post(1), b"", b"   ", {"text": 1}, b"{not json", ingest_post(5)).replace(b"\n", b"\r\n", 1)
    result = read_posts(body, json_lines=True, max_record_bytes=LIMIT)
    assert [(line.at, line.post is not None) for line in result] == [(1, True), (4, False), (5, False), (6, True)]
    assert result[0].post.id == "replay:tool-1" and result[0].post.created_at == datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert result[1].reason.startswith("source: Field required; source_id: Field required;")
    assert result[1].reason.endswith("(and 2 more)")
    assert "Invalid JSON" in result[2].reason
    assert result[2].raw == b"{not json"


def test_a_json_body_is_one_post_or_a_list():
    (one,) = read_posts(orjson.dumps(ingest_post(1)), json_lines=False, max_record_bytes=LIMIT)
    assert one.at == 1 and one.post.source_id == "tool-1"
    many = read_posts(
        orjson.dumps([ingest_post(1), ingest_post(2, kind="sideways")]), json_lines=False, max_record_bytes=LIMIT
    )
    assert [(line.at, line.post is not None) for line in many] == [(1, True), (2, False)]
    assert many[1].reason.startswith("kind: Input should be")


@pytest.mark.parametrize(
    ("body", "json_lines", "reason"),
    [
        (b'"hello"', False, "expected a Post object or a list of them"),
        (b"{", False, "not JSON"),
        (b"", False, "not JSON"),
        (b"[]", False, "no posts"),
        (b"\n \n", True, "no posts"),
    ],
)
def test_a_body_that_holds_no_posts_at_all(body, json_lines, reason):
    with pytest.raises(BodyError, match=reason):
        read_posts(body, json_lines, LIMIT)


def test_a_post_over_the_record_limit_is_rejected_before_kafka():
    (line,) = read_posts(lines(ingest_post(1, text="x" * 3000)), json_lines=True, max_record_bytes=2048)
    assert line.post is None and "over the 2048-byte limit" in line.reason


def test_a_reason_never_repeats_the_posts_text():
    (line,) = read_posts(lines(ingest_post(1, text="secret words " * 3000)), json_lines=True, max_record_bytes=LIMIT)
    assert line.reason == "text: String should have at most 25000 characters"


def test_clip():
    assert clip(b"x" * 100, 64) == (b"x" * 64, " (first 64 of 100 bytes)")
    assert clip(b"abc", 64) == (b"abc", "")


# -- the token rules ------------------------------------------------------------------------------------


def test_the_bearer_token_is_required_and_compared_exactly():
    assert bearer_ok(f"Bearer {TOKEN}", TOKEN)
    assert bearer_ok(f"bearer  {TOKEN} ", TOKEN)
    for header in (
        None,
        "",
        TOKEN,
        f"Basic {TOKEN}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer ",
        "Bearer é",
    ):
        assert not bearer_ok(header, TOKEN), header
    assert bearer_ok(None, None), "--no-auth"


def test_the_endpoint_does_not_start_without_a_token_unless_on_loopback_with_no_auth():
    assert check_token(TOKEN, no_auth=False, host="0.0.0.0") == TOKEN
    assert check_token(None, no_auth=True, host="127.0.0.1") is None
    assert check_token(None, no_auth=True, host="::1") is None
    with pytest.raises(ValueError, match="set LYTTE_INGEST_TOKEN"):
        check_token(None, no_auth=False, host="127.0.0.1")
    with pytest.raises(ValueError, match="only allowed on a loopback address"):
        check_token(None, no_auth=True, host="0.0.0.0")
    with pytest.raises(ValueError, match="drop one of them"):
        check_token(TOKEN, no_auth=True, host="127.0.0.1")
    with pytest.raises(ValueError, match="shorter than 16"):
        check_token("short", no_auth=False, host="127.0.0.1")


def test_loopback_addresses():
    assert [is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "localhost")] == [True] * 4
    assert [is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "example.org", "")] == [False] * 5


# -- over HTTP ------------------------------------------------------------------------------------------


def call(requests: list[tuple], runtime: RecordingRuntime | None = None, token: str | None = TOKEN, **options):
    """Each request is (method, path, body, headers); the answers are (status, parsed JSON)."""
    runtime = runtime or RecordingRuntime(name="http")

    async def run():
        outbox = Outbox(runtime, flush_limit_s=1.0)
        try:
            async with TestClient(TestServer(ingest_app(runtime, outbox, token, **options))) as client:
                answers = []
                for method, path, body, headers in requests:
                    response = await client.request(method, path, data=body, headers=headers)
                    answers.append((response.status, orjson.loads(await response.read())))
                return answers
        finally:
            outbox.close()

    return asyncio.run(run())


def send(body: bytes, content_type: str = "application/x-ndjson", token: str | None = TOKEN) -> tuple:
    headers = {"Content-Type": content_type} | ({"Authorization": f"Bearer {token}"} if token else {})
    return ("POST", "/v1/posts", body, headers)


def test_json_lines_over_http_answer_line_by_line_and_deadletter_the_bad_ones():
    runtime = RecordingRuntime(name="http")
    ((status, answer),) = call([send(lines(ingest_post(1), {"source": "x"}, ingest_post(3)))], runtime)
    assert status == 207
    assert answer["accepted"] == [{"line": 1, "id": "replay:tool-1"}, {"line": 3, "id": "replay:tool-3"}]
    ((bad,),) = [[r["line"] for r in answer["rejected"]]]
    assert bad == 2 and answer["rejected"][0]["reason"].startswith("source_id: Field required")
    assert [p.id for p in runtime.posts] == ["replay:tool-1", "replay:tool-3"]
    ((payload, reason),) = runtime.rejected
    assert payload == b'{"source":"x"}' and reason.startswith("http: line 2: source_id: Field required")
    assert runtime.heartbeats == 1


def test_json_over_http():
    runtime = RecordingRuntime(name="http")
    answers = call(
        [
            send(orjson.dumps(ingest_post(1)), "application/json"),
            send(orjson.dumps([ingest_post(2), ingest_post(3)]), "application/json; charset=utf-8"),
            send(orjson.dumps([ingest_post(4, text=None)]), "application/json"),
            send(b"{oops", "application/json"),
        ],
        runtime,
    )
    assert [status for status, _ in answers] == [200, 200, 422, 400]
    assert answers[1][1] == {
        "accepted": [{"item": 1, "id": "replay:tool-2"}, {"item": 2, "id": "replay:tool-3"}],
        "rejected": [],
    }
    assert answers[2][1]["rejected"] == [{"item": 1, "reason": "text: Input should be a valid string"}]
    assert answers[3][1]["error"].startswith("not JSON")
    assert [p.source_id for p in runtime.posts] == ["tool-1", "tool-2", "tool-3"]
    assert [payload for payload, _ in runtime.rejected] == [orjson.dumps(ingest_post(4, text=None)), b"{oops"]


def test_no_token_or_a_wrong_one_is_refused_and_nothing_is_read(caplog):
    caplog.set_level(logging.INFO)
    runtime = RecordingRuntime(name="http")
    answers = call(
        [send(lines(ingest_post(1)), token=None), send(lines(ingest_post(1)), token="wrong-token-0123456789")], runtime
    )
    assert [status for status, _ in answers] == [401, 401]
    assert runtime.posts == [] and runtime.rejected == [] and runtime.heartbeats == 0
    assert "2 refused so far" in caplog.text and TOKEN not in caplog.text and "wrong-token" not in caplog.text


def test_no_auth_takes_posts_without_a_token():
    runtime = RecordingRuntime(name="http")
    assert call([send(lines(ingest_post(1)), token=None)], runtime, token=None)[0][0] == 200
    assert len(runtime.posts) == 1


def test_other_content_types_large_bodies_and_kafka_trouble():
    runtime = RecordingRuntime(name="http")
    answers = call(
        [send(b"source,text\n", "text/csv"), send(lines(*(ingest_post(n) for n in range(100))))],
        runtime,
        max_body_bytes=4096,
    )
    assert [status for status, _ in answers] == [415, 413]
    assert runtime.posts == [] and runtime.rejected == []
    down = RecordingRuntime(name="http", confirm=False)
    ((status, answer),) = call([send(lines(ingest_post(1)))], down)
    assert status == 503 and "send again" in answer["error"]


def test_healthz_needs_no_token():
    ((status, answer),) = call([("GET", "/healthz", None, {})])
    assert (status, answer) == (200, {"status": "ok", "source": "http"})
