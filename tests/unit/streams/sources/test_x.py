"""The X source's loop through tweepy against the fake X, without Kafka or Redis: a runtime that records what
the source does and a wait that records (instead of sleeping) the documented reconnect timings."""

from __future__ import annotations

import io
import logging
import threading
import time

import pytest

from streams.sources.x import RedactSecrets, run_x
from streams.sources.x_rules import Rule
from streams.sources.x_stream import check_api_url
from tests.fakes.x import (
    CLOSE,
    CUT,
    HANGUP,
    KEEPALIVE,
    OPERATIONAL_DISCONNECT,
    FakeX,
    line,
    pause,
    post_payload,
    status,
    user,
)

TOKEN = "unit-bearer-c2VjcmV0LXRva2Vu"
ADA = user("11", "ada", "Ada", followers=1200)
RULES = [Rule('"Nordair" OR @nordair', "brand:nordair")]


class RecordingRuntime:
    """What `run_x` calls on a SourceRuntime, recorded; `stop_after_posts` stops it like a SIGTERM would."""

    def __init__(self, stop_after_posts: int = 1) -> None:
        self.posts, self.rejects, self.states = [], [], []
        self.heartbeats = self.reconnects = 0
        self.stop_after_posts = stop_after_posts
        self._stop = threading.Event()

    def post(self, post) -> None:
        self.posts.append(post)
        if len(self.posts) >= self.stop_after_posts:
            self._stop.set()

    def reject(self, payload, reason: str) -> None:
        self.rejects.append((payload, reason))

    def heartbeat(self) -> None:
        self.heartbeats += 1

    def set_state(self, state: str, detail: str = "") -> None:
        self.states.append((state, detail))

    def reconnected(self) -> None:
        self.reconnects += 1

    def wait(self, seconds: float) -> bool:
        return self._stop.wait(seconds)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()


def run_in_thread(runtime, fake: FakeX, *, waits: list | None = None, limit_s: float = 15.0, **kwargs) -> float:
    """Run the source until it returns (at most `limit_s`); waits are recorded and not slept when `waits` is a
    list. Returns how long it ran."""

    def recording_wait(seconds: float) -> bool:
        waits.append(seconds)
        return runtime.stopping

    wait = recording_wait if waits is not None else None
    started = time.monotonic()
    thread = threading.Thread(target=run_x, args=(runtime, TOKEN, fake.url, RULES), kwargs={"wait": wait} | kwargs)
    thread.start()
    thread.join(limit_s)
    if thread.is_alive():
        runtime.stop()
        thread.join(5)
        pytest.fail(f"the source did not finish in {limit_s} s; states {runtime.states}")
    return time.monotonic() - started


def post(post_id: str, text: str = "Nordair is late again") -> dict:
    return post_payload(post_id, text, ADA)


def test_the_rules_are_synced_and_posts_flow_with_the_expansions_asked_for():
    runtime = RecordingRuntime(stop_after_posts=2)
    with FakeX(TOKEN, keepalive_s=0.2) as fake:
        fake.expect(KEEPALIVE, line(post("1")), KEEPALIVE, line(post("2")))
        run_in_thread(runtime, fake, waits=[])
        assert [(r["value"], r["tag"]) for r in fake.rules] == [(RULES[0].value, RULES[0].tag)]
        (stream,) = fake.stream_requests()
    assert [p.source_id for p in runtime.posts] == ["1", "2"]
    assert runtime.posts[0].author.followers == 1200
    assert stream.path == "/2/tweets/search/stream" and stream.authorized
    assert "author_id" in stream.query["expansions"] and "referenced_tweets.id" in stream.query["expansions"]
    assert "public_metrics" in stream.query["user.fields"] and "created_at" in stream.query["tweet.fields"]
    assert ("connected", "") in runtime.states and runtime.heartbeats >= 2


def test_the_waits_follow_x_http_429_and_network_schedules():
    runtime = RecordingRuntime()
    waits: list[float] = []
    with FakeX(TOKEN, keepalive_s=0.2) as fake:
        fake.expect(status(503))
        fake.expect(status(503))
        fake.expect(status(429))
        fake.expect(status(429))
        fake.expect(HANGUP)
        fake.expect(HANGUP)
        fake.expect(KEEPALIVE, line(post("1")))
        run_in_thread(runtime, fake, waits=waits)
    assert waits == [5, 10, 60, 120, 0.25, 0.5]
    details = [detail for state, detail in runtime.states if state in ("backoff", "rate_limited")]
    assert details[0] == "HTTP 503; next try in 5 s"
    assert ("rate_limited", "HTTP 429; next try in 60 s") in runtime.states
    assert [p.source_id for p in runtime.posts] == ["1"]


def test_after_a_working_connection_ends_the_schedules_start_over_and_disconnect_messages_are_reported():
    runtime = RecordingRuntime(stop_after_posts=3)
    waits: list[float] = []
    with FakeX(TOKEN, keepalive_s=0.2) as fake:
        fake.expect(status(503))
        fake.expect(line(post("1")), CLOSE)  # delivered, then X ends the stream
        fake.expect(line(post("2")), line(OPERATIONAL_DISCONNECT), CLOSE)
        fake.expect(line(post("3")))
        run_in_thread(runtime, fake, waits=waits)
    assert waits == [5, 0.25, 0.25]
    assert [p.source_id for p in runtime.posts] == ["1", "2", "3"]
    assert runtime.reconnects == 2  # three connections that worked
    assert any("operational-disconnect" in detail for _, detail in runtime.states)


def test_a_cut_line_is_lost_with_its_connection_not_deadlettered_and_the_stream_goes_on():
    runtime = RecordingRuntime(stop_after_posts=2)
    waits: list[float] = []
    with FakeX(TOKEN, keepalive_s=0.2) as fake:
        fake.expect(line(post("1")), CUT)
        fake.expect(line(post("2")))
        run_in_thread(runtime, fake, waits=waits)
    assert [p.source_id for p in runtime.posts] == ["1", "2"]
    assert runtime.rejects == [] and waits == [0.25]


def test_bad_lines_go_to_the_deadletter_and_the_stream_goes_on():
    runtime = RecordingRuntime(stop_after_posts=1)
    with FakeX(TOKEN, keepalive_s=0.2) as fake:
        fake.expect(line(b"{not json"), line({"data": {"id": "5"}}), line(post("6")))
        run_in_thread(runtime, fake, waits=[])
    assert [reason for _, reason in runtime.rejects] == [
        "x: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "x: data without text, author_id",
    ]
    assert runtime.rejects[0][0] == b"{not json"
    assert [p.source_id for p in runtime.posts] == ["6"]


def test_a_stream_silent_for_the_stall_limit_is_dropped_and_reconnected():
    runtime = RecordingRuntime()
    waits: list[float] = []
    with FakeX(TOKEN, keepalive_s=0.1) as fake:
        fake.expect(KEEPALIVE, pause(5))
        fake.expect(KEEPALIVE, line(post("1")))
        took = run_in_thread(runtime, fake, waits=waits, stall_s=0.5)
    assert waits == [0.25]
    assert any(detail.startswith("stalled: no data for") for _, detail in runtime.states)
    assert took < 4


def test_a_stop_cuts_an_open_stream_at_once():
    runtime = RecordingRuntime()
    with FakeX(TOKEN, keepalive_s=30) as fake:
        threading.Timer(1.0, runtime.stop).start()
        took = run_in_thread(runtime, fake, limit_s=10)
        assert fake.stream_requests()
    assert took < 3


def test_the_sample_stream_needs_no_rules():
    runtime = RecordingRuntime()
    with FakeX(TOKEN, keepalive_s=0.2) as fake:
        fake.expect(line(post_payload("7", "anything at all", ADA, tags=())))
        run_in_thread(runtime, fake, waits=[], sample=True)
        assert [r.path for r in fake.requests] == ["/2/tweets/sample/stream"]
    assert [p.source_id for p in runtime.posts] == ["7"]


def test_rule_sync_errors_back_off_before_the_stream_is_opened():
    runtime = RecordingRuntime()
    waits: list[float] = []
    with FakeX("another-token", keepalive_s=0.2) as fake:

        def stop_soon(seconds: float) -> bool:
            waits.append(seconds)
            if len(waits) == 3:
                runtime.stop()
            return runtime.stopping

        run_in_thread(runtime, fake, waits=None, wait=stop_soon)
        assert fake.stream_requests() == []
    assert waits == [5, 10, 20]  # 401 from the rules endpoint: an HTTP error
    assert runtime.states[-1] == ("backoff", "rule sync: HTTP 401; next try in 20 s")


def test_the_token_is_masked_in_every_log_line_tweepy_writes(caplog):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets([TOKEN]))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    try:
        runtime = RecordingRuntime()
        with FakeX(TOKEN, keepalive_s=0.2) as fake:
            fake.expect(line(post("1")))
            run_in_thread(runtime, fake, waits=[])
        logging.getLogger("t").error("failed", exc_info=ValueError(f"Bearer {TOKEN}"))
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    written = stream.getvalue()
    assert "Bearer [redacted]" in written  # tweepy's debug line with the request headers
    assert TOKEN not in written


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.x.com/", True),
        ("http://127.0.0.1:9999", True),
        ("http://localhost:1", True),
        ("http://[::1]:80", True),
        ("http://api.x.com", False),
        ("ftp://127.0.0.1", False),
    ],
)
def test_the_token_only_travels_over_https_or_to_loopback(url, ok):
    if ok:
        assert check_api_url(url) == url.rstrip("/")
    else:
        with pytest.raises(ValueError, match="LYTTE_X_API_URL must be https"):
            check_api_url(url)
