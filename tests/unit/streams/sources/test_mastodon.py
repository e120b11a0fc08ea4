"""The Mastodon source against the fake instance: streams, dedup, gap fills, backoff, stop (no Kafka: a
runtime that records what the source does)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from schemas.watch import load_watch_config
from streams.core.matching import Matcher
from streams.sources.mastodon import MastodonSource, mastodon_client_factory
from streams.sources.mastodon_rules import channels_for, wanted_filter
from tests.fakes.mastodon import FakeMastodon, make_status

REPO = Path(__file__).resolve().parents[4]
TOKEN = "s3cret-user-token-1234"


# -- against the fake instance --------------------------------------------------------------------------------


class RecordingRuntime:
    """What SourceRuntime offers a source, recorded."""

    def __init__(self, cursor: str | None = None) -> None:
        self.posts: list = []
        self.rejects: list[tuple[str, str]] = []
        self.states: list[tuple[str, str]] = []
        self.gaps: list[str] = []
        self.reconnects = 0
        self.unmatched_n = 0
        self.heartbeats = 0
        self.cursor = cursor
        self.saved: str | None = None
        self._stop = threading.Event()
        self.producer = self

    def flush(self, limit_s: float) -> None:
        pass

    def post(self, post) -> None:
        self.posts.append(post)

    def reject(self, payload, reason: str) -> None:
        self.rejects.append((payload, reason))

    def heartbeat(self) -> None:
        self.heartbeats += 1

    def unmatched(self, n: int = 1) -> None:
        self.unmatched_n += n

    def set_state(self, state: str, detail: str = "") -> None:
        self.states.append((state, detail))

    def reconnected(self) -> None:
        self.reconnects += 1

    def gap(self, detail: str) -> None:
        self.gaps.append(detail)

    def wait(self, seconds: float) -> bool:
        return self._stop.wait(seconds)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def save_cursor(self, value: str) -> bool:
        self.saved = value
        return True

    def ids(self) -> list[str]:
        return [p.source_id for p in self.posts]


def wait_for(check, timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def fake():
    with FakeMastodon(token=TOKEN, heartbeat_s=0.5) as f:
        yield f


def run_source(fake, runtime, *, token=TOKEN, public=True, pages=25):
    watch = load_watch_config(REPO / "config/watch.yaml")
    source = MastodonSource(
        runtime,
        client=mastodon_client_factory(fake.base_url, token),
        channels=channels_for(["nordair"], public=public),
        wanted=wanted_filter(Matcher(watch), ["nordair"]),
        local_domain="mastodon.example",
        backfill_pages=pages,
        secrets=(token,),
    )
    thread = threading.Thread(target=source.run, daemon=True)
    thread.start()
    return source, thread


def stop(runtime, thread, within_s: float = 3.0) -> float:
    t0 = time.monotonic()
    runtime.stop()
    thread.join(timeout=15)
    assert not thread.is_alive()
    took = time.monotonic() - t0
    assert took < within_s, f"stopping took {took:.1f} s"
    return took


def tagged(fake, text="late again #nordair"):
    return make_status(fake.next_id(), f"<p>{text}</p>", tags=("nordair",))


def test_both_streams_send_a_status_once_and_filter_the_public_one(fake):
    runtime = RecordingRuntime()
    _, thread = run_source(fake, runtime)
    wait_for(lambda: len(fake.open_streams()) == 2, what="both streams")
    a, b, c = tagged(fake), make_status(fake.next_id(), "<p>Fjordbank app down</p>"), make_status(fake.next_id(), "x")
    assert fake.publish(a) == 2  # the hashtag stream and the public stream
    fake.publish(b)
    fake.publish(c)
    wait_for(lambda: len(runtime.posts) == 2 and runtime.unmatched_n == 1, what="two posts")
    time.sleep(0.3)
    assert runtime.ids() == [a["id"], b["id"]]
    assert runtime.heartbeats > 0 and runtime.states[-1] == ("connected", "")
    stop(runtime, thread)
    assert runtime.saved == c["id"]  # the newest id seen, matched or not


def test_bad_event_goes_to_the_deadletter_as_it_came_and_the_stream_goes_on(fake):
    runtime = RecordingRuntime()
    _, thread = run_source(fake, runtime, public=False)
    wait_for(lambda: fake.open_streams() == ["hashtag:nordair"], what="the stream")
    fake.send_raw("event: update\ndata: {not json\n\n")
    no_account = tagged(fake)
    no_account.pop("account")
    fake.publish(no_account)
    good = tagged(fake)
    fake.publish(good)
    wait_for(lambda: len(runtime.posts) == 1, what="the good post")
    assert runtime.ids() == [good["id"]]
    assert runtime.rejects[0][0] == "{not json"
    assert "not JSON" in runtime.rejects[0][1] and "no account" in runtime.rejects[1][1]
    assert fake.stream_connections == 1  # no reconnect for a bad event
    stop(runtime, thread)


def test_statuses_published_while_disconnected_are_fetched_over_rest_once(fake):
    runtime = RecordingRuntime()
    _, thread = run_source(fake, runtime)
    wait_for(lambda: len(fake.open_streams()) == 2, what="both streams")
    first = tagged(fake)
    fake.publish(first)
    wait_for(lambda: len(runtime.posts) == 1, what="the first post")
    assert fake.drop_streams() == 2
    missed = [tagged(fake, f"missed {i} #nordair") for i in range(3)]
    missed.append(make_status(fake.next_id(), "<p>Nordair strike</p>"))  # the public stream's only
    assert all(fake.publish(s) == 0 for s in missed)  # no stream was open: only REST can deliver these
    wait_for(lambda: len(runtime.posts) == 5, what="the missed posts")
    wait_for(lambda: len(fake.open_streams()) == 2, what="reconnected streams")
    after = tagged(fake, "after #nordair")
    fake.publish(after)
    wait_for(lambda: len(runtime.posts) == 6, what="the post after the reconnect")
    time.sleep(0.5)
    ids = runtime.ids()
    assert sorted(ids) == sorted([first["id"], *(s["id"] for s in missed), after["id"]])
    assert len(ids) == len(set(ids))
    tag_fills = [q for p, q in fake.timeline_requests() if p == "/api/v1/timelines/tag/nordair"]
    assert tag_fills[0]["since_id"] == [first["id"]]
    assert runtime.reconnects == 2 and not runtime.gaps
    assert any(s == "backoff" for s, _ in runtime.states)
    stop(runtime, thread)


def test_a_restart_resumes_from_the_saved_cursor(fake):
    before, after = tagged(fake), tagged(fake)
    fake.publish(before)
    fake.publish(after)
    runtime = RecordingRuntime(cursor=before["id"])
    _, thread = run_source(fake, runtime, public=False)
    wait_for(lambda: len(runtime.posts) == 1, what="the post after the cursor")
    time.sleep(0.3)
    assert runtime.ids() == [after["id"]]
    stop(runtime, thread)


@pytest.mark.parametrize(("pages", "sent", "gap"), [(3, 100, False), (2, 80, True)])
def test_gap_fill_walks_pages_down_to_since(fake, pages, sent, gap):
    cursor = tagged(fake)
    fake.publish(cursor)
    statuses = [tagged(fake, f"n{i} #nordair") for i in range(100)]
    for s in statuses:
        fake.publish(s)
    runtime = RecordingRuntime(cursor=cursor["id"])
    _, thread = run_source(fake, runtime, public=False, pages=pages)
    wait_for(lambda: len(runtime.posts) == sent, what=f"{sent} posts")
    time.sleep(0.3)
    assert runtime.ids() == [s["id"] for s in statuses[-sent:]]  # oldest first, the newest kept
    assert bool(runtime.gaps) is gap
    stop(runtime, thread)


def test_refused_stream_backs_off_as_an_http_error_and_stops_promptly(fake):
    fake.refuse_streams(60)
    runtime = RecordingRuntime()
    _, thread = run_source(fake, runtime, public=False)
    wait_for(lambda: any(s == "backoff" for s, _ in runtime.states), what="backoff")
    state, detail = runtime.states[-1]
    assert state == "backoff" and "again in 5 s" in detail
    stop(runtime, thread)


def test_the_token_is_sent_but_never_logged(fake, caplog):
    caplog.set_level(logging.DEBUG)
    runtime = RecordingRuntime()
    _, thread = run_source(fake, runtime, token="wrong-token-5678", public=False)
    wait_for(lambda: any(s == "backoff" for s, _ in runtime.states), what="backoff")
    stop(runtime, thread)
    assert not any(ok for p, _, ok in fake.requests if p.startswith("/api/v1/streaming"))
    assert "wrong-token-5678" not in caplog.text
    assert not any("wrong-token-5678" in d for _, d in runtime.states)
    assert "Unauthorized" in runtime.states[-1][1]


def test_stop_is_prompt_with_open_streams(fake):
    runtime = RecordingRuntime()
    _, thread = run_source(fake, runtime)
    wait_for(lambda: len(fake.open_streams()) == 2, what="both streams")
    stop(runtime, thread, within_s=2.0)


def test_a_quiet_stream_fills_its_gap_from_when_it_connected(fake):
    runtime = RecordingRuntime()
    _, thread = run_source(fake, runtime, public=False)
    wait_for(lambda: fake.open_streams() == ["hashtag:nordair"], what="the stream")
    fake.drop_streams()
    missed = tagged(fake)
    assert fake.publish(missed) == 0
    wait_for(lambda: len(runtime.posts) == 1, what="the missed post")
    assert runtime.ids() == [missed["id"]] and not runtime.gaps
    stop(runtime, thread)


def test_rate_limited_stream_waits_a_minute(fake):
    fake.refuse_streams(60, status=429)
    runtime = RecordingRuntime()
    _, thread = run_source(fake, runtime, public=False)
    wait_for(lambda: runtime.states[-1][0] == "rate_limited", what="rate_limited")
    assert "again in 60 s" in runtime.states[-1][1]
    stop(runtime, thread)


def test_a_stream_cut_at_once_backs_off_longer_each_time(fake):
    fake.cut_streams_at_once = True
    runtime = RecordingRuntime()
    _, thread = run_source(fake, runtime, public=False)
    wait_for(lambda: "again in 2 s" in runtime.states[-1][1], timeout=15, what="the second, longer wait")
    assert fake.stream_connections == 2
    stop(runtime, thread)


def test_a_stream_without_chunked_encoding_is_read_as_it_arrives():
    """Some proxies strip chunking: the body then ends only when the connection does, and the reader must not
    wait for that."""
    import socket

    import requests

    from streams.sources.mastodon import _body_chunks
    from streams.sources.mastodon_sse import read_events

    server = socket.create_server(("127.0.0.1", 0))
    release = threading.Event()

    def serve():
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        conn.sendall(b'event: update\ndata: {"id":"1"}\n\n')
        release.wait(10)  # the connection stays open until the reader has had the event
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    response = requests.get(f"http://127.0.0.1:{server.getsockname()[1]}/", stream=True, timeout=5)
    try:
        first = next(e for e in read_events(_body_chunks(response)) if e.event == "update")
        assert first.data == '{"id":"1"}' and not release.is_set()
    finally:
        release.set()
        response.close()
        server.close()
